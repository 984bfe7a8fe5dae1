"""A model whose training job ended without the handler saying so (cancelled while queued, given
up after lost workers) must not show "Training" for ever."""

from django.dispatch import receiver

from webapp.jobs.models import Job
from webapp.jobs.signals import job_finished

from .models import TrainedModel

_OUTCOME = {Job.Status.CANCELLED: TrainedModel.Status.CANCELLED, Job.Status.FAILED: TrainedModel.Status.FAILED}


@receiver(job_finished, dispatch_uid="garage.model_follows_its_job")
def model_follows_its_job(sender, job: Job, **kwargs) -> None:
    if job.status in _OUTCOME:
        TrainedModel.objects.filter(job=job, status=TrainedModel.Status.TRAINING).update(status=_OUTCOME[job.status])
