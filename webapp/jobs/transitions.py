"""The one way a job reaches an end state (succeeded, failed or cancelled).

The runner (a handler returned, raised or was stopped; a claim found the job cancelled or given
up), `services.request_cancel` (a queued job) and the reaper (a worker lost too often) all call
`finish_job`, so every end state is written the same way and `job_finished` is sent exactly once.
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from .models import Job
from .notify import notify_job
from .signals import job_finished


def finish_job(job: Job, status: str, *, message: str | None = None, error: str = "",
               result: dict[str, Any] | None = None, log_tail: str | None = None) -> bool:
    """Move `job` to the end state `status`, unless it already reached one (idempotent).

    Sets status, finished time, error and (when given) message, result and log tail; a succeeded
    job's progress becomes 100. Only the call that does the move sends `job_finished` and
    notifies the team's browsers; it returns whether it did. `job` is refreshed from the database.
    """
    if status not in Job.FINISHED:
        raise ValueError(f"{status!r} is not an end state")
    fields: dict[str, Any] = {"status": status, "finished": timezone.now(), "error": error[:10000]}
    if message is not None:
        fields["message"] = message[:300]
    if result is not None:
        fields["result"] = result
    if status == Job.Status.SUCCEEDED:
        fields["progress"] = 100.0
    if log_tail is not None:
        fields["log_tail"] = log_tail
    updated = Job.objects.filter(pk=job.pk).exclude(status__in=Job.FINISHED).update(**fields)
    job.refresh_from_db()
    if updated:
        job_finished.send(sender=Job, job=job)
        notify_job(job)
    return bool(updated)
