"""Starting and cancelling jobs. Web views and other apps' services call these."""

from __future__ import annotations

import uuid

from django.core.exceptions import ValidationError
from django.db import transaction

from . import dispatch
from .models import Job
from .notify import notify_job
from .registry import get_kind
from .transitions import finish_job


def start_job(*, team, user, kind: str, params: dict | None = None, title: str = "",
              group_key: str = "") -> Job:
    spec = get_kind(kind)
    job = Job.objects.create(
        team=team, created_by=user, kind=kind, params=params or {}, title=title or spec.label,
        queue=spec.queue, group_key=group_key,
    )
    transaction.on_commit(lambda: dispatch.enqueue(job))
    notify_job(job)
    return job


def waiting_notice(jobs) -> str:
    """What to tell the person who just started `jobs` when some could not reach the job queue
    (they are saved and start once it is back; see dispatch.enqueue); empty when all were sent."""
    waiting = sum(1 for job in jobs if job.awaiting_dispatch)
    if not waiting:
        return ""
    what = "The job is" if waiting == 1 else f"{waiting} jobs are"
    return (f"The job queue cannot be reached right now. {what} saved and will start "
            "automatically once the queue is back; nothing needs to be submitted again.")


def new_group_key() -> str:
    return uuid.uuid4().hex[:16]


def request_cancel(*, job: Job) -> Job:
    if job.is_finished:
        raise ValidationError("This job has already finished.")
    with transaction.atomic():
        job = Job.objects.select_for_update().get(pk=job.pk)
        job.cancel_requested = True
        if job.status == Job.Status.QUEUED:
            # Nobody runs it yet: cancel now; a worker that picks the message up later skips it.
            job.save(update_fields=["cancel_requested"])
            finish_job(job, Job.Status.CANCELLED, message="Cancelled before it started")
            return job
        # A worker runs it: the flag is read back by the job's reporter, which stops the job.
        job.message = "Cancelling..."
        job.save(update_fields=["cancel_requested", "message"])
    notify_job(job)
    return job
