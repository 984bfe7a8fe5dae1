"""Starting and cancelling jobs. Web views and other apps' services call these."""

from __future__ import annotations

import uuid

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from .models import Job
from .notify import notify_job
from .registry import get_kind
from .signals import job_finished
from .tasks import run_job


def enqueue(job: Job) -> None:
    """Send the job's id to its queue (after the surrounding transaction commits)."""
    result = run_job.apply_async(args=[job.pk], queue=job.queue)
    Job.objects.filter(pk=job.pk).update(celery_task_id=result.id)


def start_job(*, team, user, kind: str, params: dict | None = None, title: str = "",
              group_key: str = "") -> Job:
    spec = get_kind(kind)
    job = Job.objects.create(
        team=team, created_by=user, kind=kind, params=params or {}, title=title or spec.label,
        queue=spec.queue, group_key=group_key,
    )
    transaction.on_commit(lambda: enqueue(job))
    notify_job(job)
    return job


def new_group_key() -> str:
    return uuid.uuid4().hex[:16]


def request_cancel(*, job: Job) -> Job:
    if job.is_finished:
        raise ValidationError("This job has already finished.")
    with transaction.atomic():
        job = Job.objects.select_for_update().get(pk=job.pk)
        job.cancel_requested = True
        fields = ["cancel_requested"]
        if job.status == Job.Status.QUEUED:
            # Nobody runs it yet: cancel now; a worker that picks the message up later skips it.
            job.status = Job.Status.CANCELLED
            job.finished = timezone.now()
            job.message = "Cancelled before it started"
            fields += ["status", "finished", "message"]
        else:
            job.message = "Cancelling..."
            fields.append("message")
        job.save(update_fields=fields)
        if job.is_finished:
            job_finished.send(sender=Job, job=job)
    notify_job(job)
    return job
