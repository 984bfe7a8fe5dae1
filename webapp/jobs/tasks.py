"""Thin Celery tasks: they carry a job id to the runner, which owns every state change."""

from __future__ import annotations

from celery.signals import worker_ready
from django.conf import settings
from django.db import InterfaceError, OperationalError

from webapp.celery import app

from .dispatch import RUN_JOB_TASK
from .runner import Outcome, execute_job
from .runner import reap_stale_jobs as reap


@app.task(bind=True, name=RUN_JOB_TASK, acks_late=True, reject_on_worker_lost=True, max_retries=None)
def run_job(self, job_id: int) -> str:
    try:
        outcome = execute_job(job_id, worker=self.request.hostname or "worker")
    except (OperationalError, InterfaceError) as exc:
        # The database was unreachable or locked while claiming or finishing the job (errors
        # inside the job itself are recorded on it): the runner is idempotent, so try again
        # rather than drop the message and leave the job queued for ever.
        raise self.retry(exc=exc, countdown=min(60, 2 ** min(self.request.retries, 6))) from exc
    if outcome is Outcome.BUSY:
        # Another worker's heartbeat is fresh, or the dead one's has not gone stale yet: look again.
        raise self.retry(countdown=max(1.0, settings.JOB_STALE_AFTER_S / 2))
    return outcome.value


@app.task(name="pitlane.reap_stale_jobs", ignore_result=True)
def reap_stale_jobs() -> list[int]:
    return reap()


@worker_ready.connect
def _reap_on_start(sender=None, **kwargs):
    """A worker that starts after a crash picks up what the crash orphaned, without waiting for beat.

    The dead worker's heartbeat may still look fresh right now, so look again once it has gone stale.
    """
    for countdown in (1, settings.JOB_STALE_AFTER_S + 1):
        reap_stale_jobs.apply_async(queue="maintenance", countdown=countdown)
