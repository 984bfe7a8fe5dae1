"""Zip ingestion of real and simulated logs: every row indexed, stats, figures and frames served."""

import zipfile

import pytest

from tests.datasets.helpers import (
    REAL_SAMPLE_ROWS,
    ingest_in_process,
    record_log,
    sample_members,
    zip_folder,
    zip_members,
)
from webapp.datasets.models import Dataset
from webapp.jobs.models import Job

pytestmark = pytest.mark.django_db


def test_real_sample_zip_ingests_every_row(client, team_a, real_sample, tmp_path, pitlane_dirs):
    client.force_login(team_a.captain)
    archive = zip_folder(real_sample, tmp_path / "real_sample.zip", prefix="real_sample/")
    dataset = ingest_in_process(client, team_a, archive, name="Real sample")

    assert dataset.status == Dataset.Status.READY, dataset.error
    assert dataset.job.status == Job.Status.SUCCEEDED
    assert (dataset.frames, dataset.rows_total, dataset.rows_skipped) == (REAL_SAMPLE_ROWS, REAL_SAMPLE_ROWS, 0)
    stats = dataset.stats
    assert stats["cameras"] == 3 and stats["image_size"] == [320, 160]
    assert stats["duration_from"] == "image time stamps" and 5 < stats["rate_hz"] < 16
    assert stats["speed_max_mph"] > 20
    assert "simulator" in stats["layout"]
    # The clean log is in the sample layout, with every image resolved inside IMG/.
    clean = (dataset.path / "driving_log.csv").read_text().splitlines()
    assert clean[0] == "center,left,right,steering,throttle,brake,speed" and len(clean) == REAL_SAMPLE_ROWS + 1
    assert clean[1].startswith("IMG/center_2020_05_09")
    assert len(list((dataset.path / "IMG").iterdir())) == 3 * REAL_SAMPLE_ROWS
    assert not dataset.upload_path and not list((pitlane_dirs["UPLOAD_ROOT"] / "datasets").iterdir())

    page = client.get(dataset.get_absolute_url()).content.decode()
    assert "Real sample" in page and 'data-stat="frames">120<' in page
    smoothing = client.get(f"/teams/{team_a.slug}/datasets/{dataset.pk}/figures/steering_smoothing.json").json()
    assert [t["name"].split(" ")[0] for t in smoothing["data"]] == ["raw", "exponential", "gaussian"]
    assert len(smoothing["data"][0]["y"]) == REAL_SAMPLE_ROWS
    histogram = client.get(f"/teams/{team_a.slug}/datasets/{dataset.pk}/figures/steering_histogram.json")
    assert histogram.json()["data"][0]["type"] == "histogram"
    frame = client.get(f"/teams/{team_a.slug}/datasets/{dataset.pk}/samples/0.jpg")
    assert frame.status_code == 200 and frame["Content-Type"] == "image/jpeg"
    assert b"".join(frame.streaming_content)[:2] == b"\xff\xd8"
    assert len(dataset.samples) == 8


def test_simulator_recording_ingests_cleanly(client, team_a, tmp_path):
    client.force_login(team_a.captain)
    folder = record_log(tmp_path / "recording", frames=60)
    dataset = ingest_in_process(client, team_a, zip_folder(folder, tmp_path / "rec.zip"))
    assert dataset.status == Dataset.Status.READY, dataset.error
    assert (dataset.frames, dataset.rows_skipped) == (60, 0)
    assert abs(dataset.stats["rate_hz"] - 15) < 1.0


def test_udacity_sample_layout_with_header_and_relative_paths(client, team_a, real_sample, tmp_path):
    client.force_login(team_a.captain)
    members = sample_members(real_sample, rows=25, header=True)
    lines = members["driving_log.csv"].decode().splitlines()
    relative = [lines[0]] + [",".join("IMG/" + c.strip().rsplit("\\", 1)[-1] if i < 3 else c.strip()
                                      for i, c in enumerate(line.split(","))) for line in lines[1:]]
    members["driving_log.csv"] = ("\n".join(relative) + "\n").encode()
    dataset = ingest_in_process(client, team_a, zip_members(tmp_path / "udacity.zip", members))
    assert dataset.status == Dataset.Status.READY, dataset.error
    assert dataset.frames == 25 and "header" in dataset.stats["layout"]


def test_scientific_notation_and_comma_space_separators(client, team_a, real_sample, tmp_path):
    client.force_login(team_a.captain)
    members = sample_members(real_sample, rows=10)
    lines = members["driving_log.csv"].decode().splitlines()
    cells = lines[0].split(", ")
    cells[3] = "7.843922E-05"
    lines[0] = ", ".join(cells)
    members["driving_log.csv"] = ("\n".join(lines) + "\n").encode()
    dataset = ingest_in_process(client, team_a, zip_members(tmp_path / "sci.zip", members))
    assert dataset.frames == 10 and dataset.rows_skipped == 0
    assert "7.843922E-05" in (dataset.path / "driving_log.csv").read_text()


def test_zip_on_disk_is_streamed_not_buffered(client, team_a, real_sample, tmp_path):
    """The upload view hands over a file already on disk (the streaming handler wrote it)."""
    client.force_login(team_a.captain)
    archive = zip_members(tmp_path / "s.zip", sample_members(real_sample, rows=5))
    from tests.datasets.helpers import upload

    response = upload(client, team_a, archive)
    dataset = Dataset.objects.get(pk=response.json()["dataset_id"])
    with zipfile.ZipFile(dataset.upload_path) as zf:
        assert "driving_log.csv" in zf.namelist()
    assert dataset.upload_bytes == archive.stat().st_size


def test_cancel_while_ingesting_cancels_the_job_and_fails_the_dataset(client, team_a, real_sample, tmp_path,
                                                                    pitlane_dirs, monkeypatch):
    """A cancel clicked mid-extraction: the reporter's check reads the flag, the extraction raises
    Stopped, the dataset is failed as cancelled with nothing half-written, the job is cancelled."""
    from tests.datasets.helpers import run_in_process, upload
    from webapp.datasets import archive
    from webapp.jobs.services import request_cancel

    client.force_login(team_a.captain)
    response = upload(client, team_a, zip_folder(real_sample, tmp_path / "real_sample.zip"))
    dataset = Dataset.objects.get(pk=response.json()["dataset_id"])
    real_plan = archive.plan

    def plan_then_cancel(*args, **kwargs):
        request_cancel(job=Job.objects.get(pk=dataset.job_id))  # the job is running: only flagged
        return real_plan(*args, **kwargs)

    monkeypatch.setattr(archive, "plan", plan_then_cancel)
    run_in_process(dataset.job_id)
    dataset.refresh_from_db()
    assert dataset.job.status == Job.Status.CANCELLED and dataset.job.message == "Cancelled"
    assert dataset.status == Dataset.Status.FAILED and dataset.error == "Ingestion was cancelled."
    assert not list(pitlane_dirs["PITLANE_DATASET_ROOT"].rglob("*.jpg"))


def test_extraction_and_validation_raise_stopped_when_asked(real_sample, tmp_path):
    from simulator.stopping import Stopped
    from webapp.datasets import archive, validation
    from webapp.datasets.services import limits

    dest = tmp_path / "dest"
    with pytest.raises(Stopped, match="extraction"):
        archive.extract(zip_folder(real_sample, tmp_path / "s.zip"), dest, limits(), should_stop=lambda: True)
    assert not dest.exists()  # nothing half-written stays
    archive.extract(zip_folder(real_sample, tmp_path / "s.zip"), dest, limits())
    with pytest.raises(Stopped, match="validation"):
        validation.validate(dest, should_stop=lambda: True)
