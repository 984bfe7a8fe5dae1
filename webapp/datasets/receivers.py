"""A dataset whose ingest job ended without the handler saying so (cancelled while queued, given
up after lost workers, a handler that failed before `services.ingest` ran) becomes Failed with the
reason, instead of "Ingesting" for ever. When `services.ingest` itself fails or is stopped it fails
the dataset with its own, more precise reason and cleans up; this receiver then leaves it alone."""

from django.dispatch import receiver

from webapp.jobs.models import Job
from webapp.jobs.signals import job_finished

from .models import Dataset


@receiver(job_finished, dispatch_uid="datasets.dataset_follows_its_job")
def dataset_follows_its_job(sender, job: Job, **kwargs) -> None:
    if job.status not in (Job.Status.CANCELLED, Job.Status.FAILED):
        return
    reason = job.error or ("Ingestion was cancelled before it finished." if job.status == Job.Status.CANCELLED
                           else "Ingestion failed.")
    Dataset.objects.filter(job=job, status__in=[Dataset.Status.UPLOADED, Dataset.Status.INGESTING]).update(
        status=Dataset.Status.FAILED, error=reason)
