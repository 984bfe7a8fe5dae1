"""A model mirrors its training job's outcome here, and only here: whether the job was cancelled
while queued, stopped or failed in its handler (a cancel, any error, publishing that failed part
way) or given up after lost workers, a model still "Training" becomes Cancelled or Failed with it.
A model that publishing made Ready stays Ready."""

from django.dispatch import receiver

from webapp.jobs.models import Job
from webapp.jobs.signals import job_finished

from .models import TrainedModel

_OUTCOME = {Job.Status.CANCELLED: TrainedModel.Status.CANCELLED, Job.Status.FAILED: TrainedModel.Status.FAILED}


@receiver(job_finished, dispatch_uid="garage.model_follows_its_job")
def model_follows_its_job(sender, job: Job, **kwargs) -> None:
    if job.status in _OUTCOME:
        TrainedModel.objects.filter(job=job, status=TrainedModel.Status.TRAINING).update(status=_OUTCOME[job.status])
