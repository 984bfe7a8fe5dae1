"""Dataset workflows: accept an upload, ingest it (as a job), mark recovery segments, build the
folders a training run reads."""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction

from simulator.stopping import ShouldStop, Stopped
from webapp.jobs.runner import JobRefused, exception_text
from webapp.jobs.services import start_job

from . import archive, validation
from .models import Dataset, RecoverySegment

INGEST_KIND = "datasets.ingest"
SAMPLE_FRAMES = 8
Progress = Callable[[float, str], None]
UNEXPECTED = "Ingestion stopped on an unexpected error; the job's log has the details."


class IngestFailed(RuntimeError):
    """Ingestion failed for a reason that is not the upload's fault; the message is the one the
    dataset shows (the original exception is chained, so the job's log keeps its traceback)."""


class IngestRefused(archive.UploadRejected, JobRefused):
    """The upload was refused (`archive.UploadRejected`: a wrong zip, a zip bomb, no usable row):
    the team's to fix, so the job runner logs it as a refusal, not as a crash."""


def failure_message(exc: BaseException) -> str:
    """A sentence for the team about an unexpected ingest error: its own message when it has one
    a person can read, never a Python class name or a bare repr (str(KeyError('x')) is "'x'")."""
    if isinstance(exc, MemoryError):
        return "Ingestion ran out of memory."
    if isinstance(exc, OSError) and exc.strerror:
        return f"Ingestion failed: {exc.strerror}."
    text = "" if isinstance(exc, AssertionError) else exception_text(exc)
    return f"Ingestion failed: {text}" if text else UNEXPECTED


def limits() -> archive.Limits:
    return archive.Limits(
        max_upload_bytes=settings.PITLANE_DATASET_MAX_UPLOAD_BYTES,
        max_uncompressed_bytes=settings.PITLANE_DATASET_MAX_UNCOMPRESSED_BYTES,
        max_compression_ratio=settings.PITLANE_DATASET_MAX_COMPRESSION_RATIO,
        max_members=settings.PITLANE_DATASET_MAX_MEMBERS,
    )


def dataset_root() -> Path:
    return Path(settings.PITLANE_DATASET_ROOT)


def _default_name(filename: str) -> str:
    stem = Path(filename or "driving log").stem.replace("_", " ").strip()
    return (stem or "driving log")[:120]


def accept_upload(*, team, user, uploaded, name: str = "") -> Dataset:
    """Keep the streamed zip under UPLOAD_ROOT and queue its ingestion."""
    if not (uploaded.name or "").lower().endswith(".zip"):
        raise ValidationError("Upload a .zip of the recording folder (driving_log.csv and IMG/).")
    target_dir = Path(settings.UPLOAD_ROOT) / "datasets"
    target_dir.mkdir(parents=True, exist_ok=True)
    target = target_dir / f"{uuid.uuid4().hex}.zip"
    source = getattr(uploaded, "temporary_file_path", None)
    if source:
        uploaded.close()
        shutil.move(source(), target)
    else:  # an in-memory file (tests, small uploads through other handlers)
        with open(target, "wb") as out:
            for chunk in uploaded.chunks():
                out.write(chunk)
    problem = archive.zip_file_problem(target, uploaded.name)
    if problem:  # refused now, not by an ingest job later
        target.unlink(missing_ok=True)
        raise ValidationError(problem)
    with transaction.atomic():
        dataset = Dataset.objects.create(
            team=team, created_by=user, name=(name.strip() or _default_name(uploaded.name))[:120],
            source_name=uploaded.name[:255], upload_bytes=target.stat().st_size, upload_path=str(target),
        )
        dataset.job = start_job(team=team, user=user, kind=INGEST_KIND, params={"dataset_id": dataset.pk},
                                title=f"Ingest {dataset.name}")
        dataset.save(update_fields=["job"])
    return dataset


def ingest(dataset: Dataset, progress: Progress, should_stop: ShouldStop) -> Dataset:
    """Extract, validate, clean and index an uploaded zip; publish figures and sample frames.

    Safe to run again (a worker that died mid-way): it starts over from the zip. When
    `should_stop()` answers True the dataset is failed as cancelled and `Stopped` propagates.
    """
    dest = dataset_root() / f"team_{dataset.team_id}" / f"dataset_{dataset.pk}"
    shutil.rmtree(dest, ignore_errors=True)
    dataset.status = Dataset.Status.INGESTING
    dataset.error = ""
    dataset.save(update_fields=["status", "error"])
    try:
        if not dataset.upload_path or not Path(dataset.upload_path).is_file():
            raise archive.UploadRejected("The uploaded file is no longer on the server; upload it again.")
        progress(1, "Checking the zip")
        plan = archive.extract(
            Path(dataset.upload_path), dest, limits(),
            on_progress=lambda done, total: progress(2 + 48 * done / max(total, 1), "Extracting images"),
            should_stop=should_stop)
        progress(50, "Validating rows and images")
        checked = validation.validate(
            dest, on_progress=lambda k, n: progress(50 + 40 * k / max(n, 1), f"Validating row {k:,} of {n:,}"),
            should_stop=should_stop)
        notes = list(plan.notes)
        if not checked.rows:
            dataset.report = checked.report(notes)
            dataset.rows_total, dataset.rows_skipped = checked.rows_total, checked.skipped
            raise archive.UploadRejected("No usable rows: " + (
                "driving_log.csv is empty." if not checked.rows_total else
                "its only row has a problem (see the report)." if checked.rows_total == 1 else
                f"all {checked.rows_total:,} rows have problems (see the report)."))
        validation.write_clean_log(dest, checked.rows)
        progress(92, "Drawing figures")
        dataset.directory = str(dest.relative_to(dataset_root()))
        dataset.frames = len(checked.rows)
        dataset.rows_total = checked.rows_total
        dataset.rows_skipped = checked.skipped
        dataset.stats = {**validation.statistics(checked.rows, checked.image_size),
                         "layout": "Udacity sample (header, relative paths)" if checked.has_header
                         else "simulator (no header)"}
        dataset.report = checked.report(notes)
        _publish_figures(dataset, [r.steering for r in checked.rows])
        _publish_samples(dataset, dest, checked.rows)
        dataset.status = Dataset.Status.READY
        dataset.save()
    except archive.UploadRejected as exc:
        shutil.rmtree(dest, ignore_errors=True)
        _fail(dataset, str(exc))
        raise IngestRefused(str(exc)) from exc
    except Stopped:
        shutil.rmtree(dest, ignore_errors=True)
        _fail(dataset, "Ingestion was cancelled.")
        raise
    except Exception as exc:
        shutil.rmtree(dest, ignore_errors=True)
        _fail(dataset, failure_message(exc))
        raise IngestFailed(dataset.error) from exc
    _discard_upload(dataset)
    progress(100, ready_message(dataset))
    return dataset


def ready_message(dataset: Dataset) -> str:
    """The ingest job's last word: frames and skipped rows, and a warning when many were skipped."""
    text = f"{dataset.frames:,} frames ready, {dataset.rows_skipped:,} rows skipped"
    if dataset.skip_warning:
        text += f" ({100 * dataset.rows_skipped / dataset.rows_total:.0f} % of the log: see the report)"
    return text


def _fail(dataset: Dataset, message: str) -> None:
    dataset.status = Dataset.Status.FAILED
    dataset.error = message
    dataset.save()
    _discard_upload(dataset)


def _discard_upload(dataset: Dataset) -> None:
    if dataset.upload_path:
        Path(dataset.upload_path).unlink(missing_ok=True)
        Dataset.objects.filter(pk=dataset.pk).update(upload_path="")
        dataset.upload_path = ""


def _save(name: str, content: bytes) -> str:
    if default_storage.exists(name):
        default_storage.delete(name)
    return default_storage.save(name, ContentFile(content))


def _publish_figures(dataset: Dataset, steering: list[float]) -> None:
    import numpy as np

    from training.bc.plots import dataset_figures

    figures = dataset_figures(np.asarray(steering, dtype=np.float64))
    dataset.figures = {
        name: _save(f"{dataset.storage_prefix}/figures/{name}.json", json.dumps(fig).encode())
        for name, fig in figures.items()
    }


def _publish_samples(dataset: Dataset, dest: Path, rows) -> None:
    count = min(SAMPLE_FRAMES, len(rows))
    picks = sorted({round(i * (len(rows) - 1) / max(count - 1, 1)) for i in range(count)})
    samples = []
    for k, index in enumerate(picks):
        row = rows[index]
        content = (dest / "IMG" / row.image_name("center")).read_bytes()
        name = _save(f"{dataset.storage_prefix}/samples/frame_{k:02d}.jpg", content)
        samples.append({"file": name, "frame": index, "steering": row.steering})
    dataset.samples = samples


def delete_dataset(*, dataset: Dataset) -> None:
    """Remove the recording, its published files and the record (models keep their artifacts)."""
    if dataset.path is not None:
        shutil.rmtree(dataset.path, ignore_errors=True)
    for name in [*dataset.figures.values(), *(s["file"] for s in dataset.samples)]:
        if default_storage.exists(name):
            default_storage.delete(name)
    _discard_upload(dataset)
    dataset.delete()


def add_recovery(*, dataset: Dataset, user, start: int, end: int, note: str = "") -> RecoverySegment:
    if not dataset.is_ready:
        raise ValidationError("Recovery segments can be marked once the dataset is ready.")
    if start > end:
        start, end = end, start
    if start < 0 or end >= dataset.frames:
        raise ValidationError(f"Frames run from 0 to {dataset.frames - 1}.")
    if dataset.recoveries.filter(start__lte=end, end__gte=start).exists():
        raise ValidationError("That range overlaps a recovery segment already marked.")
    return RecoverySegment.objects.create(dataset=dataset, start=start, end=end, note=note[:200],
                                          created_by=user)


def delete_recovery(*, segment: RecoverySegment) -> None:
    segment.delete()


# -- training sets ------------------------------------------------------------------------------

RECOVERY_MODES = ("include", "exclude", "only")


def training_directories(datasets: list[Dataset], work_dir: Path, recovery_mode: str = "include",
                         recovery_weight: int = 1) -> list[Path]:
    """The folders a training run reads, one per dataset (several datasets = one training set).

    With the default options these are the datasets' own folders. Otherwise a derived folder is
    written under `work_dir`: a driving_log.csv of the chosen rows (recovery rows dropped, kept
    alone, or repeated `recovery_weight` times as a sample weight) and a link to the images.
    """
    if recovery_mode not in RECOVERY_MODES:
        raise ValueError(f"recovery mode must be one of {RECOVERY_MODES}")
    directories = []
    for dataset in datasets:
        if not dataset.is_ready or dataset.path is None or not dataset.path.is_dir():
            raise ValueError(f"Dataset {dataset.name!r} is not ready on this machine.")
        segments = list(dataset.recoveries.values_list("start", "end"))
        if (recovery_mode == "include" and recovery_weight <= 1) or (not segments and recovery_mode != "only"):
            directories.append(dataset.path)
            continue
        directories.append(_derived(dataset, segments, work_dir, recovery_mode, recovery_weight))
    return directories


def _derived(dataset: Dataset, segments, work_dir: Path, mode: str, weight: int) -> Path:
    lines = (dataset.path / archive.LOG_NAME).read_text(encoding="utf-8").splitlines()
    header, rows = lines[0], lines[1:]
    recovery = [False] * len(rows)
    for start, end in segments:
        for i in range(start, min(end, len(rows) - 1) + 1):
            recovery[i] = True
    kept = []
    for row, is_recovery in zip(rows, recovery, strict=True):
        if mode == "exclude" and is_recovery or mode == "only" and not is_recovery:
            continue
        kept.extend([row] * (max(weight, 1) if is_recovery and mode == "include" else 1))
    if not kept:
        raise ValueError(f"Dataset {dataset.name!r} has no frames left with recovery mode {mode!r}.")
    out = work_dir / f"dataset_{dataset.pk}_{mode}_{weight}"
    out.mkdir(parents=True, exist_ok=True)
    (out / archive.LOG_NAME).write_text("\n".join([header, *kept]) + "\n", encoding="utf-8")
    link = out / "IMG"
    if not link.exists():
        link.symlink_to(dataset.path / "IMG", target_is_directory=True)
    return out
