"""Zips of driving logs for the dataset and model tests: the real Udacity sample, a log recorded
by our simulator, and deliberately broken ones."""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

REAL_SAMPLE_ROWS = 120


def zip_folder(folder: Path, target: Path, prefix: str = "") -> Path:
    """Zip a recording folder (driving_log.csv + IMG/) the way people do: under a top folder."""
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and ".frame_cache" not in path.relative_to(folder).parts:
                zf.write(path, prefix + path.relative_to(folder).as_posix())
    return target


def zip_members(target: Path, members: dict[str, bytes], compression=zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(target, "w", compression) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return target


def sample_members(real_sample: Path, rows: int = 30, header: bool = False) -> dict[str, bytes]:
    """The first `rows` rows of the real sample as zip members (log text + their images)."""
    lines = (real_sample / "driving_log.csv").read_text().splitlines()[:rows]
    members: dict[str, bytes] = {}
    for line in lines:
        for cell in line.split(",")[:3]:
            name = cell.strip().replace("\\", "/").rsplit("/", 1)[-1]
            members[f"IMG/{name}"] = (real_sample / "IMG" / name).read_bytes()
    text = ("center,left,right,steering,throttle,brake,speed\n" if header else "") + "\n".join(lines) + "\n"
    members["driving_log.csv"] = text.encode()
    return members


def record_log(folder: Path, frames: int = 60, seed: int = 3) -> Path:
    from simulator.recorder import record
    from simulator.track import load_track

    record(load_track("pitlane_loop_road"), folder, frames, recoveries=True, seed=seed)
    return folder


def upload(client, team, zip_path: Path, name: str = ""):
    with open(zip_path, "rb") as fh:
        return client.post(f"/teams/{team.slug}/datasets/upload/", {"file": fh, "name": name},
                           HTTP_X_REQUESTED_WITH="XMLHttpRequest")


class _NoHeartbeat:
    """The heartbeat thread writes through its own connection, which a test's open transaction
    would lock out; in-process runs here are short, so they go without it."""

    def __init__(self, *args, **kwargs):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def run_in_process(job_id: int):
    """Run a queued job here, through the real runner (no Celery)."""
    from unittest import mock

    from webapp.jobs.runner import execute_job

    with mock.patch("webapp.jobs.runner.Heartbeat", _NoHeartbeat):
        return execute_job(job_id)


def ingest_in_process(client, team, zip_path: Path, name: str = ""):
    """Upload through the view, then run the queued ingest job here."""
    from webapp.datasets.models import Dataset

    response = upload(client, team, zip_path, name)
    assert response.status_code == 201, response.content
    dataset = Dataset.objects.get(pk=response.json()["dataset_id"])
    run_in_process(dataset.job_id)
    # With a real worker running (tests that start one), the worker may have claimed the job first:
    # then this process's run found it running and returned; wait for the worker to finish it.
    from tests.support.waiting import wait_for
    from webapp.jobs.models import Job

    wait_for(lambda: Job.objects.get(pk=dataset.job_id).is_finished, timeout_s=180, interval_s=0.2,
             message="the dataset's ingest job to finish")
    dataset.refresh_from_db()
    return dataset


def files_under(folder: Path) -> list[str]:
    if not folder.exists():
        return []
    return sorted(os.path.relpath(p, folder) for p in folder.rglob("*") if p.is_file())


def jpeg_bytes(width: int = 320, height: int = 160) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (90, 120, 140)).save(buffer, format="JPEG")
    return buffer.getvalue()
