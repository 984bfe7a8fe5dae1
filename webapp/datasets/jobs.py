"""The ingest job: the handler the runner calls for kind "datasets.ingest".

A cancel stops `services.ingest` with `simulator.stopping.Stopped`, which the job runner records
as the job's cancellation."""

from __future__ import annotations

from . import services
from .models import Dataset


def ingest_dataset(job, reporter) -> dict:
    dataset = Dataset.objects.select_related("team").get(pk=job.params["dataset_id"], team=job.team)

    def progress(percent: float, message: str) -> None:
        reporter.progress(percent, message)

    dataset = services.ingest(dataset, progress, reporter.cancel_requested)
    for note in dataset.report.get("notes", []):
        reporter.log(note)
    reporter.log(f"{dataset.frames} frames kept, {dataset.rows_skipped} rows skipped")
    if dataset.skip_warning:
        reporter.log(dataset.skip_warning)
    reporter.progress(100, services.ready_message(dataset),
                      frames=dataset.frames, skipped=dataset.rows_skipped, force=True)
    return {"dataset_id": dataset.pk, "frames": dataset.frames, "rows_skipped": dataset.rows_skipped}
