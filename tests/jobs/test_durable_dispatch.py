"""No job is lost: not when the worker dies with its queue's messages gone (Redis restarted empty),
not when Redis is down while a job is submitted. Real Celery workers, a real Redis (the session's,
or one of the test's own that it stops and starts), the web views that start jobs."""

from __future__ import annotations

import copy
from collections import Counter
from datetime import timedelta

import pytest
import redis
from django.utils import timezone

from tests.garage.helpers import ready_dataset, train_form_data
from tests.support.job_kinds import start_countdown_from_web
from tests.support.waiting import wait_for
from webapp.celery import app
from webapp.embedded_redis import EmbeddedRedis
from webapp.garage.models import TrainedModel
from webapp.jobs import dispatch
from webapp.jobs.models import Job
from webapp.jobs.runner import reap_stale_jobs

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def statuses(ids) -> Counter:
    return Counter(Job.objects.filter(pk__in=ids).values_list("status", flat=True))


def point_app_at(url: str) -> None:
    """Send this process' Celery messages to `url` from now on (fresh connection pools)."""
    app.conf.broker_url = url
    app.conf.result_backend = url
    app._pool = None
    app.amqp._producer_pool = None


@pytest.fixture
def own_redis(tmp_path, settings, monkeypatch):
    """A Redis of this test's own (persistent, like `make run`'s) that it can stop and start: the
    web side (this process), the channel layer and workers started from now on all use it."""
    server = EmbeddedRedis(data_dir=tmp_path / "redis").start()
    before = (app.conf.broker_url, app.conf.result_backend)
    point_app_at(server.url)
    layers = copy.deepcopy(settings.CHANNEL_LAYERS)
    layers["default"]["CONFIG"]["hosts"] = [server.url]
    settings.CHANNEL_LAYERS = layers
    monkeypatch.setenv("REDIS_URL", server.url)
    yield server
    server.stop()
    app.conf.broker_url, app.conf.result_backend = before
    app._pool = None
    app.amqp._producer_pool = None


def test_worker_killed_and_redis_emptied_loses_no_job(make_worker, client, team_a, tmp_path):
    """2 jobs run and 8 wait when the workers' process groups are SIGKILLed and the broker comes
    back empty (as the old, non-persistent embedded Redis did): a new worker's reaper sends the 8
    again and resumes the 2; all 10 succeed, the 8 run once and the 2 resume once."""
    doomed = [make_worker(name="doomed-1"), make_worker(name="doomed-2")]
    markers = {}
    for i in range(10):
        job = start_countdown_from_web(client, team_a.captain, team_a, steps=12, delay_s=0.25,
                              marker=str(tmp_path / f"job{i}.txt"))
        markers[job.pk] = tmp_path / f"job{i}.txt"
    ids = list(markers)
    wait_for(lambda: Job.objects.filter(pk__in=ids, status=Job.Status.RUNNING, progress__gte=15).count() == 2,
             timeout_s=60, message="two jobs to be running")
    for worker in doomed:
        worker.kill()
    running = set(Job.objects.filter(pk__in=ids, status=Job.Status.RUNNING).values_list("pk", flat=True))
    assert len(running) == 2 and statuses(ids)[Job.Status.QUEUED] == 8
    redis.Redis.from_url(app.conf.broker_url).flushall()  # the broker restarted empty
    assert dispatch.task_ids_in_broker(delivered_within_s=3600) == set()

    make_worker(name="rescuer")  # its reaper runs on start (and beat every 15 s in `make run`)
    wait_for(lambda: statuses(ids)[Job.Status.SUCCEEDED] == 10, timeout_s=150,
             message=f"all 10 jobs to succeed (now {dict(statuses(ids))})")
    runs = {pk: len(path.read_text().splitlines()) for pk, path in markers.items()}
    assert runs == {pk: 2 if pk in running else 1 for pk in ids}  # the 2 resumed; none ran twice otherwise
    lost = Job.objects.filter(pk__in=ids).exclude(pk__in=running)
    assert all("lost by the job queue" in job.log_tail for job in lost)


def test_job_error_is_the_message_not_the_exception_class(celery_worker_process, client, team_a):
    job = start_countdown_from_web(client, team_a.captain, team_a, steps=1, delay_s=0, fail="1")
    wait_for(lambda: Job.objects.get(pk=job.pk).is_finished, timeout_s=30, message="job to finish")
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED
    assert job.error == "asked to fail"
    assert "ValueError" in job.log_tail  # the team still has the traceback


def test_job_submitted_while_redis_is_down_starts_when_it_is_back(own_redis, make_worker, client, team_a):
    """A job submitted while Redis is down answers at once, stays queued and says why; once Redis is
    back the reaper (beat's every 15 s; run here) sends it and a worker runs it.

    The worker is started after the outage, as `make run` restarts it: a worker that holds
    unacknowledged messages when Redis goes away exits ("Unrecoverable error" in kombu's restore)."""
    own_redis.stop()
    job = start_countdown_from_web(client, team_a.captain, team_a, steps=2, delay_s=0.05)  # old code: 19 s, then a 500
    job.refresh_from_db()
    assert job.status == Job.Status.QUEUED and job.awaiting_dispatch
    assert job.message == dispatch.WAITING_MESSAGE
    assert "unreachable" in client.get(job.get_absolute_url()).content.decode()
    assert reap_stale_jobs() == []  # still down: nothing sent, nothing lost

    own_redis.start()  # same port and data folder
    Job.objects.filter(pk=job.pk).update(created=timezone.now() - timedelta(minutes=5))
    assert reap_stale_jobs() == [job.pk]
    make_worker(name="after-outage")
    wait_for(lambda: Job.objects.get(pk=job.pk).status == Job.Status.SUCCEEDED, timeout_s=90,
             message="the job to run once Redis is back")
    job.refresh_from_db()
    assert job.attempts == 1 and "unreachable when it was submitted" in job.log_tail
    assert job.message != dispatch.WAITING_MESSAGE


@pytest.mark.usefixtures("pitlane_dirs")
def test_training_started_while_redis_is_down_says_so_and_keeps_the_job(own_redis, client, team_a, real_sample,
                                                                        tmp_path):
    dataset = ready_dataset(client, team_a, real_sample, tmp_path)
    own_redis.stop()
    response = client.post(f"/teams/{team_a.slug}/models/train/", train_form_data(dataset), follow=True)
    assert response.status_code == 200
    assert "job queue cannot be reached right now" in response.content.decode()
    model = TrainedModel.objects.get()
    assert model.job.status == Job.Status.QUEUED and model.job.awaiting_dispatch

    own_redis.start()
    Job.objects.filter(pk=model.job.pk).update(created=timezone.now() - timedelta(minutes=5))
    assert reap_stale_jobs() == [model.job.pk]
    model.job.refresh_from_db()
    assert not model.job.awaiting_dispatch
    assert model.job.celery_task_id in dispatch.task_ids_in_broker(delivered_within_s=60)
    assert reap_stale_jobs() == []  # its message is in the broker now: not sent twice
