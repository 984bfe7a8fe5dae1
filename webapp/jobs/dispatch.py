"""Sending a job to its worker queue, and finding out which jobs' messages the broker still holds.

The message carries only the job's id and names the task (`RUN_JOB_TASK`) instead of importing
it, so the modules that queue jobs (services starts them, the runner's reaper queues orphans
again) need neither `tasks` nor the runner: `tasks -> runner -> dispatch` and
`services -> dispatch` import each other at module level without a cycle.

The database is the durable record of what must run: `Job.dispatched` says when the job's message
last reached the broker (empty: never). A broker that was down at submit time, or that restarted
empty, loses nothing: the reaper (`runner.redispatch_lost_jobs`) sends again every queued job whose
message is not in the broker. Sending twice is harmless, because the runner's claim decides who
runs a job (a finished job is skipped, a job with a fresh heartbeat belongs to its worker).
"""

from __future__ import annotations

import json
import logging
import time

from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError
from redis.exceptions import RedisError

from webapp.celery import JOB_QUEUES, app

from .models import Job

logger = logging.getLogger(__name__)

#: The name `webapp.jobs.tasks.run_job` is registered under.
RUN_JOB_TASK = "pitlane.run_job"

#: Publishing gives up after about a second when the broker is unreachable, instead of blocking
#: the web request; the job stays queued and the reaper sends it once the broker is back.
PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5}

#: What the job says while its message could not be sent.
WAITING_MESSAGE = "Waiting for the job queue (unreachable right now); it starts once the queue is back."

BROKER_ERRORS = (BrokerError, RedisError, ConnectionError, OSError)


def enqueue(job: Job) -> bool:
    """Send the job's id to its queue; record the Celery task id and the time on the job.

    Callers send it once the transaction that created or re-queued the job has committed, so a
    worker never looks for a row it cannot see yet. Returns False, with the job left queued and
    saying that it waits for the queue, when the broker cannot be reached: nothing is raised, no
    job is lost, and the reaper sends it later. `job` is updated in memory too.

    `ignore_result`: the runner records outcomes in the database; without it Celery would first
    subscribe to the result backend, which retries for about 20 s when Redis is down.
    """
    try:
        sent = app.send_task(RUN_JOB_TASK, args=[job.pk], queue=job.queue, ignore_result=True,
                             retry=True, retry_policy=PUBLISH_RETRY_POLICY)
    except BROKER_ERRORS as exc:
        logger.warning("Job %s stays queued: the broker is unreachable (%s)", job.pk, exc)
        job.message = WAITING_MESSAGE
        Job.objects.filter(pk=job.pk, status=Job.Status.QUEUED).update(message=WAITING_MESSAGE)
        return False
    job.celery_task_id, job.dispatched = sent.id, timezone.now()
    fields = {"celery_task_id": job.celery_task_id, "dispatched": job.dispatched}
    if job.message == WAITING_MESSAGE:
        job.message = fields["message"] = "Queued"
    Job.objects.filter(pk=job.pk).update(**fields)
    return True


def task_ids_in_broker(*, delivered_within_s: float) -> set[str]:
    """The task ids of every job message the broker holds: waiting in a queue, or delivered to a
    worker within the last `delivered_within_s` seconds and not acknowledged yet.

    An older unacknowledged delivery of a job that is still queued belongs to a worker that died
    before it claimed the job (Redis would hand it out again only after the visibility timeout,
    hours later), so it does not count. Raises one of BROKER_ERRORS when the broker is unreachable.
    Reads the Redis transport's keys (the only broker Pitlane runs on).
    """
    ids: set[str] = set()
    with app.connection_for_read() as conn:
        channel = conn.default_channel
        client = channel.client
        keys = {channel._q_for_pri(queue, pri) for queue in JOB_QUEUES for pri in channel.priority_steps}
        for key in keys:
            for raw in client.lrange(key, 0, -1):
                ids.add(_task_id(json.loads(raw)))
        recent = client.zrangebyscore(channel.unacked_index_key, time.time() - delivered_within_s, "+inf")
        if recent:
            for raw in client.hmget(channel.unacked_key, recent):
                if raw is not None:
                    ids.add(_task_id(json.loads(raw)[0]))
    ids.discard("")
    return ids


def _task_id(payload: dict) -> str:
    return str((payload.get("headers") or {}).get("id") or (payload.get("properties") or {}).get("correlation_id")
               or "")
