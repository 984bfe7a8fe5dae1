"""Sending a job to its worker queue.

The message carries only the job's id and names the task (`RUN_JOB_TASK`) instead of importing
it, so the modules that queue jobs (services starts them, the runner's reaper queues orphans
again) need neither `tasks` nor the runner: `tasks -> runner -> dispatch` and
`services -> dispatch` import each other at module level without a cycle.
"""

from __future__ import annotations

from webapp.celery import app

from .models import Job

#: The name `webapp.jobs.tasks.run_job` is registered under.
RUN_JOB_TASK = "pitlane.run_job"


def enqueue(job: Job) -> None:
    """Send the job's id to its queue and record the Celery task id on the job.

    Callers send it once the transaction that created or re-queued the job has committed, so a
    worker never looks for a row it cannot see yet."""
    sent = app.send_task(RUN_JOB_TASK, args=[job.pk], queue=job.queue)
    Job.objects.filter(pk=job.pk).update(celery_task_id=sent.id)
