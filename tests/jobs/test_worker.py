"""A real Celery worker process and a real Redis: queue from a web request, watch progress on a
websocket, cancel, kill the worker mid-job, redeliver a finished job's message."""

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator

from tests.support.job_kinds import start_countdown_from_web
from tests.support.waiting import run_async, wait_for
from webapp.jobs.consumers import JobUpdatesConsumer
from webapp.jobs.models import Job

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def status_of(job_id):
    return Job.objects.get(pk=job_id).status


def test_job_queued_from_web_request_runs_and_progress_reaches_websocket(celery_worker_process, client, team_a):
    alice = team_a.captain

    async def scenario():
        communicator = WebsocketCommunicator(JobUpdatesConsumer.as_asgi(), "/ws/jobs/")
        communicator.scope["user"] = alice
        connected, _ = await communicator.connect()
        assert connected
        snapshot = await communicator.receive_json_from(timeout=5)
        assert snapshot["type"] == "snapshot"
        job = await sync_to_async(start_countdown_from_web)(client, alice, team_a, steps=6, delay_s=0.3)
        seen = []
        while True:
            message = await communicator.receive_json_from(timeout=30)
            if message["type"] == "job" and message["job"]["id"] == job.pk:
                seen.append(message["job"])
                if message["job"]["status"] == "succeeded":
                    break
        await communicator.disconnect()
        return job, seen

    job, seen = run_async(scenario)
    progresses = [event["progress"] for event in seen if event["status"] == "running"]
    assert progresses == sorted(progresses)
    moving = [p for p in progresses if 0 < p < 100]
    assert len(moving) >= 3, seen  # the bar moved in steps, live, before the job finished
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED and job.progress == 100
    assert job.worker.startswith("test-")


def test_cancel_stops_a_running_job(celery_worker_process, client, team_a):
    job = start_countdown_from_web(client, team_a.captain, team_a, steps=200, delay_s=0.1)
    wait_for(lambda: Job.objects.get(pk=job.pk).progress > 2, message="job to make progress")
    response = client.post(f"/teams/{team_a.slug}/jobs/{job.pk}/cancel/")
    assert response.status_code == 302
    wait_for(lambda: status_of(job.pk) == Job.Status.CANCELLED, timeout_s=10, message="cancellation")
    job.refresh_from_db()
    assert job.progress < 50
    assert job.finished is not None


def test_killed_worker_leaves_job_requeued_and_a_new_worker_finishes_it(make_worker, client, team_a, tmp_path):
    marker = tmp_path / "runs.txt"
    first = make_worker(name="doomed")
    job = start_countdown_from_web(client, team_a.captain, team_a, steps=30, delay_s=0.2, marker=str(marker))
    wait_for(lambda: Job.objects.get(pk=job.pk).progress >= 20, message="job to get going")
    first.kill()
    assert status_of(job.pk) == Job.Status.RUNNING  # nobody told the database: the worker died

    make_worker(name="rescuer")  # on start it reaps stale jobs; beat would do the same every 15 s
    wait_for(lambda: status_of(job.pk) == Job.Status.SUCCEEDED, timeout_s=60, message="rescued job to finish")
    job.refresh_from_db()
    assert job.attempts == 2
    assert job.result["ran_from"] > 0, "the second attempt resumes where the first stopped"
    assert "stopped responding" in job.log_tail
    assert len(marker.read_text().splitlines()) == 2


def test_redelivered_message_does_not_run_a_finished_job_again(celery_worker_process, client, team_a, tmp_path):
    from webapp.jobs.tasks import run_job

    marker = tmp_path / "runs.txt"
    job = start_countdown_from_web(client, team_a.captain, team_a, steps=2, delay_s=0.05, marker=str(marker))
    wait_for(lambda: status_of(job.pk) == Job.Status.SUCCEEDED, message="job to finish")
    finished_at = Job.objects.get(pk=job.pk).finished

    result = run_job.apply_async(args=[job.pk], queue="training")  # what a redelivery looks like
    assert result.get(timeout=20) == "skipped"
    job.refresh_from_db()
    assert job.attempts == 1 and job.finished == finished_at
    assert len(marker.read_text().splitlines()) == 1
