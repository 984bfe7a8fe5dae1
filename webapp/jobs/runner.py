"""Runs one job exactly once, whatever Celery delivers.

Celery is configured for at-least-once delivery (acks_late, reject_on_worker_lost), so the same
message can arrive twice: after a worker died, or after Redis' visibility timeout. The database
row decides what happens: a finished job is never run again, a job whose heartbeat is fresh is
someone else's, and a job whose heartbeat went stale was orphaned and is taken over.
"""

from __future__ import annotations

import enum
import logging
import traceback
from datetime import timedelta

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from simulator.stopping import Stopped

from . import dispatch
from .models import Job
from .notify import notify_job
from .progress import Heartbeat, JobReporter
from .registry import UnknownJobKind, get_kind
from .transitions import finish_job

logger = logging.getLogger(__name__)


class Outcome(enum.Enum):
    DONE = "done"            # ran to an end state (succeeded, failed or cancelled)
    SKIPPED = "skipped"      # already finished: a redelivered message
    BUSY = "busy"            # another live worker holds it: try again later
    GAVE_UP = "gave_up"      # orphaned too often; marked failed


def _stale_before():
    return timezone.now() - timedelta(seconds=settings.JOB_STALE_AFTER_S)


def _claim(job_id: int, worker: str) -> tuple[Outcome | None, Job | None]:
    with transaction.atomic():
        job = Job.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.is_finished:
            return Outcome.SKIPPED, job
        if job.cancel_requested:
            finish_job(job, Job.Status.CANCELLED, message="Cancelled before it started")
            return Outcome.DONE, job
        if job.status == Job.Status.RUNNING:
            if job.heartbeat and job.heartbeat > _stale_before():
                return Outcome.BUSY, job
            if job.attempts >= settings.JOB_MAX_ATTEMPTS:
                finish_job(job, Job.Status.FAILED,
                           error=f"The worker died {job.attempts} times running this job; gave up.")
                return Outcome.GAVE_UP, job
            job.log_tail = (job.log_tail + f"\nWorker {job.worker or '?'} stopped responding; resuming.").strip()
        job.status = Job.Status.RUNNING
        job.attempts += 1
        job.worker = worker
        job.started = job.started or timezone.now()
        job.heartbeat = timezone.now()
        job.message = "Started" if job.attempts == 1 else f"Resumed (attempt {job.attempts})"
        job.save(update_fields=["status", "attempts", "worker", "started", "heartbeat", "message", "log_tail"])
    return None, job


UNEXPECTED_ERROR = "The job stopped on an unexpected error; its log shows the details."


class JobRefused(Exception):
    """A job refused its input for a reason the person who started it can fix (a file that is no
    recording, a zip bomb): the job fails with this message, and the worker's log notes it at
    WARNING without a traceback. Every other exception is a crash, logged at ERROR with one."""


def readable_error(exc: BaseException) -> str:
    """What the team reads as the job's error: the exception's own message, never its class name
    (the traceback goes to the job's log tail); a message-less exception gets a plain sentence."""
    if isinstance(exc, SoftTimeLimitExceeded):
        return f"The job ran past its time limit ({settings.JOB_SOFT_TIME_LIMIT_S} s) and was stopped."
    if isinstance(exc, MemoryError):
        return "The job ran out of memory."
    return exception_text(exc) or UNEXPECTED_ERROR


def exception_text(exc: BaseException) -> str:
    """The exception's message as a person can read it, or "" when it has none worth showing
    (str(KeyError("x")) is "'x'": nothing a person can act on)."""
    return "" if isinstance(exc, LookupError) else str(exc).strip()


def execute_job(job_id: int, worker: str = "local") -> Outcome:
    outcome, job = _claim(job_id, worker)
    if outcome is not None:
        return outcome
    notify_job(job)
    reporter = JobReporter(job)
    try:
        handler = get_kind(job.kind).handler()
        with Heartbeat(job.pk):
            result = handler(job, reporter)
    except Stopped:
        # The handler (or the plain function it called) saw the cancel flag and stopped.
        reporter.flush()
        finish_job(job, Job.Status.CANCELLED, message="Cancelled", log_tail=reporter.log_tail)
    except UnknownJobKind as exc:
        finish_job(job, Job.Status.FAILED, message="Failed", error=str(exc))
    except Exception as exc:
        error = readable_error(exc)
        reporter.log(traceback.format_exc())
        reporter.flush()
        if isinstance(exc, JobRefused):
            logger.warning("Job %s (%s) refused its input: %s", job.pk, job.kind, error)
        else:
            logger.exception("Job %s failed", job.pk)
        finish_job(job, Job.Status.FAILED, message="Failed", error=error, log_tail=reporter.log_tail)
    else:
        reporter.flush()
        finish_job(job, Job.Status.SUCCEEDED, message=reporter.job.message or "Done", result=result or {},
                   log_tail=reporter.log_tail)
    return Outcome.DONE


def reap_stale_jobs() -> list[int]:
    """Re-send queued jobs whose message was lost, then re-queue running jobs whose worker vanished
    (or fail them after too many tries).

    Returns the ids that were sent again. A job whose old message is redelivered later is
    harmless: the runner sees it finished or running and does not run it twice.
    """
    return redispatch_lost_jobs() + _requeue_orphans()


def redispatch_lost_jobs() -> list[int]:
    """Send again every queued job whose message the broker does not hold.

    The broker loses messages when it restarts empty, and a job queued while it was unreachable
    never got one (`dispatch.enqueue` leaves `dispatched` empty then). Only jobs whose last send is
    older than JOB_REDISPATCH_AFTER_S are looked at, so a message on its way is not sent twice; if
    one is anyway, `_claim` lets exactly one delivery run the job. Returns the ids sent again;
    nothing when the broker is still unreachable.
    """
    cutoff = timezone.now() - timedelta(seconds=settings.JOB_REDISPATCH_AFTER_S)
    candidates = list(Job.objects.filter(status=Job.Status.QUEUED, cancel_requested=False).filter(
        Q(dispatched__lt=cutoff) | Q(dispatched__isnull=True, created__lt=cutoff)).order_by("created"))
    if not candidates:
        return []
    try:
        in_broker = dispatch.task_ids_in_broker(delivered_within_s=settings.JOB_REDISPATCH_AFTER_S)
    except dispatch.BROKER_ERRORS as exc:
        logger.warning("Cannot look for lost job messages: the broker is unreachable (%s)", exc)
        return []
    sent = []
    for job in candidates:
        if job.celery_task_id and job.celery_task_id in in_broker:
            continue
        with transaction.atomic():
            job = Job.objects.select_for_update().get(pk=job.pk)
            if job.status != Job.Status.QUEUED or job.cancel_requested:
                continue
            note = ("The job queue was unreachable when it was submitted; sent now." if job.dispatched is None
                    else "Its message was lost by the job queue; sent again.")
            job.log_tail = (job.log_tail + "\n" + note).strip()[-Job.LOG_TAIL_CHARS:]
            job.save(update_fields=["log_tail"])
        if dispatch.enqueue(job):
            sent.append(job.pk)
            logger.info("Job %s: %s", job.pk, note)
    return sent


def _requeue_orphans() -> list[int]:
    requeued = []
    stale = Job.objects.filter(status=Job.Status.RUNNING, heartbeat__lt=_stale_before())
    for job in stale:
        with transaction.atomic():
            job = Job.objects.select_for_update().get(pk=job.pk)
            if job.status != Job.Status.RUNNING or (job.heartbeat and job.heartbeat >= _stale_before()):
                continue
            if job.attempts >= settings.JOB_MAX_ATTEMPTS or job.cancel_requested:
                status = Job.Status.CANCELLED if job.cancel_requested else Job.Status.FAILED
                finish_job(job, status, message="Worker lost",
                           error="" if job.cancel_requested else
                           f"The worker running this job stopped responding ({job.attempts} attempts).")
                continue
            job.status = Job.Status.QUEUED
            job.message = "Worker lost; queued again"
            job.log_tail = (job.log_tail + f"\nWorker {job.worker} stopped responding; queued again.").strip()
            job.save(update_fields=["status", "message", "log_tail"])
            transaction.on_commit(lambda j=job: dispatch.enqueue(j))
        requeued.append(job.pk)
        notify_job(job)
    return requeued
