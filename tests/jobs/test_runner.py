"""The runner's state machine, in-process: each delivery of a job id does the right thing once."""

import contextlib
import time
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.utils import timezone

from simulator.stopping import Stopped
from webapp.jobs.models import Job
from webapp.jobs.runner import Outcome, execute_job, reap_stale_jobs
from webapp.jobs.services import request_cancel
from webapp.jobs.signals import job_finished
from webapp.jobs.transitions import finish_job

pytestmark = pytest.mark.django_db


@pytest.fixture
def make_job(team_a):
    def make(**params):
        return Job.objects.create(team=team_a, kind="test.countdown", params={"steps": 3, "delay_s": 0, **params})

    return make


@pytest.fixture(autouse=True)
def no_enqueue(monkeypatch):
    sent = []
    monkeypatch.setattr("webapp.jobs.dispatch.enqueue", lambda job: sent.append(job.pk))
    return sent


def test_success_records_result_progress_and_times(make_job):
    job = make_job()
    assert execute_job(job.pk, worker="w1") is Outcome.DONE
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED
    assert job.progress == 100
    assert job.result["steps"] == 3
    assert job.attempts == 1 and job.worker == "w1"
    assert job.started and job.finished and job.finished >= job.started
    assert "step 3" in job.log_tail


def test_finished_job_is_not_run_again(make_job, tmp_path):
    marker = tmp_path / "runs.txt"
    job = make_job(marker=str(marker))
    execute_job(job.pk)
    assert execute_job(job.pk) is Outcome.SKIPPED
    assert len(marker.read_text().splitlines()) == 1
    job.refresh_from_db()
    assert job.attempts == 1


def test_exception_becomes_readable_error(make_job):
    job = make_job(fail=True)
    execute_job(job.pk)
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED
    assert job.error == "asked to fail"  # the message, not the exception's class name
    assert "Traceback" in job.log_tail


def test_unknown_kind_fails_cleanly(team_a):
    job = Job.objects.create(team=team_a, kind="no.such.kind")
    execute_job(job.pk)
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED
    assert "Unknown job kind" in job.error


def test_cancel_of_queued_job_finishes_it_and_worker_skips(make_job, tmp_path):
    marker = tmp_path / "runs.txt"
    job = make_job(marker=str(marker))
    request_cancel(job=job)
    job.refresh_from_db()
    assert job.status == Job.Status.CANCELLED
    assert execute_job(job.pk) is Outcome.SKIPPED
    assert not marker.exists()


def test_cancel_flag_stops_running_job(make_job, monkeypatch):
    """A cancel requested while the job runs is read back from the database by the reporter's own
    (throttled) check, and `Stopped` ends the job as cancelled part-way."""
    job = make_job(steps=50, delay_s=0.05)
    sleeps = []

    def sleep_then_cancel(seconds):
        # The user clicks "cancel" during the second step; the job's code knows nothing of it.
        sleeps.append(seconds)
        if len(sleeps) == 2:
            request_cancel(job=Job.objects.get(pk=job.pk))
        time.sleep(seconds)

    monkeypatch.setattr("tests.support.job_kinds.time", SimpleNamespace(sleep=sleep_then_cancel))
    # The heartbeat thread's own connection would wait on this test's open transaction.
    monkeypatch.setattr("webapp.jobs.runner.Heartbeat", lambda job_id: contextlib.nullcontext())
    assert execute_job(job.pk) is Outcome.DONE
    job.refresh_from_db()
    assert job.status == Job.Status.CANCELLED and job.message == "Cancelled"
    assert 2 < len(sleeps) < 50  # it ran on only until the throttled check looked at the flag again
    assert 0 < job.progress < 100
    assert job.log_tail.splitlines() == [f"step {n}" for n in range(1, len(sleeps) + 1)]


def test_check_cancelled_raises_stopped_once_the_flag_is_set(make_job):
    from webapp.jobs.progress import JobReporter

    job = make_job()
    reporter = JobReporter(job, min_interval_s=0)
    reporter.check_cancelled()  # not asked: nothing happens
    Job.objects.filter(pk=job.pk).update(cancel_requested=True)
    with pytest.raises(Stopped):
        reporter.check_cancelled()


def test_a_job_reaches_its_end_state_once(make_job):
    """finish_job is idempotent: the first end state stays, and job_finished is sent for it only."""
    job = make_job()
    seen = []

    def receiver(sender, job, **kwargs):
        seen.append(job.status)

    job_finished.connect(receiver)
    try:
        assert finish_job(job, Job.Status.CANCELLED, message="Cancelled")
        assert not finish_job(job, Job.Status.FAILED, error="too late")
    finally:
        job_finished.disconnect(receiver)
    job.refresh_from_db()
    assert seen == [Job.Status.CANCELLED]
    assert job.status == Job.Status.CANCELLED and job.error == "" and job.finished is not None
    with pytest.raises(ValueError):
        finish_job(job, Job.Status.RUNNING)


def test_running_job_with_fresh_heartbeat_belongs_to_someone_else(make_job):
    job = make_job()
    Job.objects.filter(pk=job.pk).update(status=Job.Status.RUNNING, heartbeat=timezone.now(), attempts=1)
    assert execute_job(job.pk) is Outcome.BUSY
    job.refresh_from_db()
    assert job.attempts == 1 and job.status == Job.Status.RUNNING


def test_orphaned_job_is_taken_over_and_resumes(make_job, settings):
    job = make_job(steps=4)
    stale = timezone.now() - timedelta(seconds=settings.JOB_STALE_AFTER_S + 5)
    Job.objects.filter(pk=job.pk).update(status=Job.Status.RUNNING, heartbeat=stale, attempts=1,
                                         worker="dead@host", metrics={"step": 2})
    assert execute_job(job.pk, worker="alive@host") is Outcome.DONE
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED
    assert job.attempts == 2 and job.worker == "alive@host"
    assert job.result["ran_from"] == 2
    assert "dead@host stopped responding" in job.log_tail


def test_job_orphaned_too_often_fails(make_job, settings):
    job = make_job()
    stale = timezone.now() - timedelta(seconds=settings.JOB_STALE_AFTER_S + 5)
    Job.objects.filter(pk=job.pk).update(status=Job.Status.RUNNING, heartbeat=stale,
                                         attempts=settings.JOB_MAX_ATTEMPTS)
    assert execute_job(job.pk) is Outcome.GAVE_UP
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED
    assert "gave up" in job.error


def test_reaper_requeues_stale_jobs_and_leaves_live_ones(make_job, settings, no_enqueue,
                                                         django_capture_on_commit_callbacks):
    stale_job, live_job, exhausted = make_job(), make_job(), make_job()
    stale = timezone.now() - timedelta(seconds=settings.JOB_STALE_AFTER_S + 5)
    Job.objects.filter(pk=stale_job.pk).update(status=Job.Status.RUNNING, heartbeat=stale, attempts=1)
    Job.objects.filter(pk=live_job.pk).update(status=Job.Status.RUNNING, heartbeat=timezone.now(), attempts=1)
    Job.objects.filter(pk=exhausted.pk).update(status=Job.Status.RUNNING, heartbeat=stale,
                                               attempts=settings.JOB_MAX_ATTEMPTS)
    with django_capture_on_commit_callbacks(execute=True):
        assert reap_stale_jobs() == [stale_job.pk]
    assert no_enqueue == [stale_job.pk]
    for job in (stale_job, live_job, exhausted):
        job.refresh_from_db()
    assert stale_job.status == Job.Status.QUEUED
    assert live_job.status == Job.Status.RUNNING
    assert exhausted.status == Job.Status.FAILED


def test_progress_is_clamped_and_non_finite_ignored(make_job):
    from webapp.jobs.progress import JobReporter

    job = make_job()
    Job.objects.filter(pk=job.pk).update(status=Job.Status.RUNNING)
    job.refresh_from_db()
    reporter = JobReporter(job, min_interval_s=0)
    reporter.progress(150, "over")
    job.refresh_from_db()
    assert job.progress == 100
    reporter.progress(float("nan"), "nan")
    job.refresh_from_db()
    assert job.progress == 0


def test_database_trouble_while_claiming_retries_instead_of_dropping_the_job(make_job, monkeypatch):
    """A locked or unreachable database at claim time must not lose the job: the task retries."""
    from django.db import OperationalError

    from webapp.jobs.tasks import run_job

    job = make_job()
    calls = []

    def locked(job_id, worker):
        calls.append(job_id)
        raise OperationalError("database is locked")

    class Retried(Exception):
        pass

    def retry(**kwargs):
        calls.append(kwargs)
        raise Retried

    monkeypatch.setattr("webapp.jobs.tasks.execute_job", locked)
    monkeypatch.setattr(run_job, "retry", retry)
    with pytest.raises(Retried):
        run_job(job.pk)
    assert calls[0] == job.pk and isinstance(calls[1]["exc"], OperationalError)
    assert calls[1]["countdown"] == 1
    job.refresh_from_db()
    assert job.status == Job.Status.QUEUED and job.attempts == 0
