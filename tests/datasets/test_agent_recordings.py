"""A recording made by our own agent (`drive_agent --record`, one camera: left and right columns
empty) uploads, says what it is, and trains with side cameras on (outside test of issue 13: every
row was refused with "column 'left' is empty"). Also: the list shows short durations, and a
refused upload is a warning in the worker's log, not a crash with a traceback."""

from __future__ import annotations

import logging
import re

import numpy as np
import pytest

from simulator.driving_log import parse_driving_log
from tests.datasets.helpers import ingest_in_process, jpeg_bytes, run_in_process, zip_folder, zip_members
from tests.drive_agent.recording import record_agent_drive
from webapp.datasets import services, validation
from webapp.datasets.models import Dataset

pytestmark = pytest.mark.django_db


def test_a_centre_only_row_parses_and_an_empty_centre_does_not():
    log = parse_driving_log(["/rec/IMG/center_2026_12_01_10_00_00_000.jpg, , , 0.1, 0.5, 0, 12\n",
                             ", /rec/IMG/left.jpg, , 0, 0, 0, 0\n"], strict=False)
    (row,) = log.rows
    assert row.cameras == ("center",) and (row.left, row.right) == ("", "")
    assert [e.reason for e in log.errors] == ["column 'center' is empty"]


@pytest.fixture(scope="module")
def agent_recording(tiny_models, tmp_path_factory):
    folder = tmp_path_factory.mktemp("agent") / "rec"
    return record_agent_drive(tiny_models, folder, max_time_s=6.0)


def test_an_agent_recording_ingests_says_centre_only_and_trains_with_side_cameras(
        client, team_a, agent_recording, tmp_path):
    rows = len((agent_recording / "driving_log.csv").read_text().splitlines())
    client.force_login(team_a.captain)
    dataset = ingest_in_process(client, team_a, zip_folder(agent_recording, tmp_path / "rec.zip", "rec/"),
                                name="Agent drive")
    assert dataset.status == Dataset.Status.READY, dataset.error
    assert (dataset.frames, dataset.rows_skipped) == (rows, 0)
    stats = dataset.stats
    assert (stats["cameras"], stats["camera_layout"], stats["frames_with_side_cameras"]) == (
        1, "centre camera only", 0)
    # Simulated time in the names: 15 Hz over the 6 s drive, not hundreds of Hz over a second.
    assert stats["rate_hz"] == pytest.approx(15.0, abs=0.3) and 5.9 <= stats["duration_s"] <= 6.1
    page = client.get(dataset.get_absolute_url()).content.decode()
    cameras = re.search(r'data-stat="cameras">(.*?)</dd>', page, re.S).group(1)
    assert cameras.startswith("1 (centre camera only)")

    from tests.bc.helpers import tiny_config
    from training.bc.dataset_index import camera_samples, index_datasets, split_index
    from training.bc.train import train

    directory = services.dataset_root() / dataset.directory
    cfg = tiny_config(side_cameras=True, epochs=1)
    index = index_datasets([directory], cfg)
    assert len(index) == rows and not index.skipped_rows
    train_rows, _ = split_index(index, cfg)
    paths, angles, owners = camera_samples(index, train_rows, True, cfg.side_correction)
    # Each frame without side images gives its centre frame only, at its own angle.
    assert len(paths) == len(train_rows) and all("/center_" in p for p in paths)
    np.testing.assert_array_equal(owners, train_rows)
    result = train([directory], cfg, tmp_path / "run")
    assert result.epochs_completed == 1 and np.isfinite(result.history["loss"]).all()


def test_a_log_mixing_three_camera_and_centre_only_rows_says_how_many_have_side_images(
        client, team_a, tmp_path):
    client.force_login(team_a.captain)
    frame = jpeg_bytes()
    members = {f"IMG/{c}{i}.jpg": frame for i in range(10) for c in ("c", "l", "r")}
    members["driving_log.csv"] = "".join(
        f"IMG/c{i}.jpg,IMG/l{i}.jpg,IMG/r{i}.jpg,0,1,0,30\n" if i < 4 else f"IMG/c{i}.jpg,,,0,1,0,30\n"
        for i in range(10)).encode()
    dataset = ingest_in_process(client, team_a, zip_members(tmp_path / "mixed.zip", members))
    assert dataset.status == Dataset.Status.READY and dataset.frames == 10, dataset.error
    assert dataset.stats["camera_layout"] == "centre on every frame; side images on 4 of 10 frames"
    assert dataset.stats["frames_with_side_cameras"] == 4
    clean = (services.dataset_root() / dataset.directory / "driving_log.csv").read_text().splitlines()
    assert clean[1] == "IMG/c0.jpg,IMG/l0.jpg,IMG/r0.jpg,0,1,0,30" and clean[-1] == "IMG/c9.jpg,,,0,1,0,30"


def test_a_side_image_the_row_names_must_still_be_there(tmp_path):
    from webapp.datasets.archive import SOURCE_LOG_NAME

    (tmp_path / "IMG").mkdir()
    for name in ("c0.jpg", "c1.jpg", "l1.jpg"):
        (tmp_path / "IMG" / name).write_bytes(jpeg_bytes())
    (tmp_path / SOURCE_LOG_NAME).write_text("IMG/c0.jpg,IMG/l0.jpg,,0,0,0,0\nIMG/c1.jpg,IMG/l1.jpg,,0,0,0,0\n")
    checked = validation.validate(tmp_path)
    assert [r.line for r in checked.rows] == [2] and checked.rows[0].cameras == ("center", "left")
    assert checked.problems == [{"row": 1, "kind": "missing_image", "message": "left image 'l0.jpg' is not in IMG/"}]


@pytest.mark.parametrize("seconds, shown", [(0.1, "0.1 s"), (0.0, "0.0 s"), (12.34, "12.3 s"), (None, "—")])
def test_the_list_shows_short_and_zero_durations(client, team_a, seconds, shown):
    client.force_login(team_a.captain)
    Dataset.objects.create(team=team_a, name="Short", status=Dataset.Status.READY, frames=2,
                           stats={"duration_s": seconds})
    listing = client.get(f"/teams/{team_a.slug}/datasets/").content.decode()
    assert re.search(r"<td class=\"num\" data-duration>(.*?)</td>", listing).group(1) == shown


def test_a_refused_upload_is_a_warning_without_traceback_and_a_crash_stays_an_error(
        team_a, tmp_path, caplog, monkeypatch):
    from django.core.files.uploadedfile import SimpleUploadedFile

    def accept(data: bytes) -> Dataset:
        return services.accept_upload(team=team_a, user=team_a.captain,
                                      uploaded=SimpleUploadedFile("rec.zip", data))

    no_log = zip_members(tmp_path / "nolog.zip", {"IMG/c0.jpg": jpeg_bytes()}).read_bytes()
    refused = accept(no_log)
    with caplog.at_level(logging.INFO, logger="webapp.jobs.runner"):
        run_in_process(refused.job_id)
    refused.refresh_from_db()
    assert refused.status == Dataset.Status.FAILED and "No driving_log.csv" in refused.error
    records = [r for r in caplog.records if r.name == "webapp.jobs.runner"]
    assert [r.levelno for r in records] == [logging.WARNING]
    assert records[0].exc_info is None and "No driving_log.csv" in records[0].getMessage()

    caplog.clear()

    def broken(*args, **kwargs):
        raise KeyError("image_size")

    monkeypatch.setattr(validation, "validate", broken)
    members = {"IMG/c0.jpg": jpeg_bytes(), "driving_log.csv": b"IMG/c0.jpg,,,0,0,0,0\n"}
    crashed = accept(zip_members(tmp_path / "ok.zip", members).read_bytes())
    with caplog.at_level(logging.INFO, logger="webapp.jobs.runner"):
        run_in_process(crashed.job_id)
    records = [r for r in caplog.records if r.name == "webapp.jobs.runner"]
    assert [r.levelno for r in records] == [logging.ERROR] and records[0].exc_info is not None
