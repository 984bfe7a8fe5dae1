"""Queueing a job: its id goes, addressed by the task's name, to its kind's queue, and only once
the transaction that created the job has committed; the name is the one `run_job` is registered
under. Real messages in the embedded Redis, read back off the queue."""

import pytest

from webapp.celery import app
from webapp.jobs import tasks
from webapp.jobs.dispatch import RUN_JOB_TASK, enqueue
from webapp.jobs.models import Job
from webapp.jobs.services import start_job

pytestmark = pytest.mark.django_db


def take(queue: str):
    """The next message on `queue`, or None."""
    with app.connection_for_read() as conn:
        return conn.default_channel.basic_get(queue, no_ack=True)


def test_the_name_sent_is_the_task_the_worker_runs():
    assert tasks.run_job.name == RUN_JOB_TASK and RUN_JOB_TASK in app.tasks


def test_start_job_sends_the_job_id_once_the_job_is_committed(team_a, purge_queues,
                                                               django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        job = start_job(team=team_a, user=team_a.captain, kind="test.countdown", params={"steps": 1})
        assert take("training") is None  # a worker must not look for a row it cannot see yet
    assert len(callbacks) == 1
    callbacks[0]()
    message = take("training")
    assert message is not None and take("training") is None
    job.refresh_from_db()
    assert message.headers["task"] == RUN_JOB_TASK and message.headers["id"] == job.celery_task_id
    args, kwargs, _ = message.decode()
    assert args == [job.pk] and kwargs == {}


def test_enqueue_uses_the_job_queue(team_a, purge_queues):
    job = Job.objects.create(team=team_a, kind="evaluation", queue="evaluation")
    enqueue(job)
    assert take("training") is None
    message = take("evaluation")
    assert message.decode()[0] == [job.pk]
    job.refresh_from_db()
    assert job.celery_task_id == message.headers["id"]
