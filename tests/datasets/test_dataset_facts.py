"""Datasets say what is true (issue 13): duration and rate measured per recording session, or
said to be unknown; a high share of skipped rows is flagged; why a dataset failed shows in the
list and in the jobs table."""

from __future__ import annotations

import re

import pytest

from simulator.driving_log import LogRow
from tests.datasets.helpers import ingest_in_process, jpeg_bytes, sample_members, zip_members
from webapp.datasets import validation
from webapp.datasets.models import Dataset

pytestmark = pytest.mark.django_db


def _rows(stamps: list[str]) -> list[LogRow]:
    """Rows whose centre images are named by the simulator at the given times (yyyy_MM_dd_HH_mm_ss_fff)."""
    return [LogRow(f"C:\\rec\\IMG\\center_{t}.jpg", f"C:\\rec\\IMG\\left_{t}.jpg", f"C:\\rec\\IMG\\right_{t}.jpg",
                   0.0, 1.0, 0.0, 30.0, line=i + 1) for i, t in enumerate(stamps)]


def _stamps(prefix: str, start_ms: int, count: int, step_ms: int) -> list[str]:
    out = []
    for k in range(count):
        ms = start_ms + k * step_ms
        out.append(f"{prefix}_{ms // 60000:02d}_{ms // 1000 % 60:02d}_{ms % 1000:03d}")
    return out


def test_two_sessions_in_reverse_time_order_are_measured_each():
    # 20 frames of 2024 at 10 Hz, then 30 frames of 2018 at 8 Hz: one log, two recordings.
    rows = _rows(_stamps("2024_03_01_10", 0, 20, 100) + _stamps("2018_07_14_09", 0, 30, 125))
    stats = validation.statistics(rows, (320, 160))
    assert stats["duration_from"] == "image time stamps"
    assert stats["session_count"] == 2
    first, second = stats["sessions"]
    assert (first["frames"], first["span_s"], first["rate_hz"]) == (20, 1.9, 10.0)
    assert (second["frames"], second["span_s"], second["rate_hz"]) == (30, 3.62, 8.0)
    assert first["start"] == "2024-03-01 10:00:00.000" and second["start"] == "2018-07-14 09:00:00.000"
    # The log's duration is the recordings' time, never negative, and its rate is measured.
    assert stats["duration_s"] == pytest.approx(1.9 + 3.62)
    assert stats["rate_hz"] == 8.0  # the median interval of all 48 within-session steps is 0.125 s
    assert stats["frames_without_time_stamp"] == 0


def test_a_pause_starts_a_new_session_and_frames_of_one_session_do_not():
    rows = _rows(_stamps("2020_05_09_22", 0, 10, 120) + _stamps("2020_05_09_22", 60_000, 10, 120))
    stats = validation.statistics(rows, None)
    assert stats["session_count"] == 2 and [s["frames"] for s in stats["sessions"]] == [10, 10]
    one = validation.statistics(_rows(_stamps("2020_05_09_22", 0, 10, 1900)), None)
    assert one["session_count"] == 1 and one["rate_hz"] == round(1 / 1.9, 2)


def test_missing_time_stamps_are_said_not_replaced_by_a_nominal_rate():
    rows = [LogRow(f"IMG/frame{i}.jpg", f"IMG/l{i}.jpg", f"IMG/r{i}.jpg", 0.0, 1.0, 0.0, 30.0) for i in range(30)]
    stats = validation.statistics(rows, None)
    assert stats["duration_s"] is None and stats["rate_hz"] is None
    assert stats["duration_from"] == "no time stamps" and stats["frames_without_time_stamp"] == 30
    partly = validation.statistics(rows[:5] + _rows(_stamps("2020_05_09_22", 0, 10, 100)), None)
    assert partly["frames_without_time_stamp"] == 5 and partly["rate_hz"] == 10.0


def _renamed(members: dict[str, bytes], old: str, new: str, rows: range) -> dict[str, bytes]:
    """Members with the images of `rows` (0-based) renamed from date `old` to date `new`."""
    lines = members["driving_log.csv"].decode().splitlines()
    out = dict(members)
    for index in rows:
        for cell in lines[index].split(", ")[:3]:
            name = cell.replace("\\", "/").rsplit("/", 1)[-1]
            out[f"IMG/{name.replace(old, new)}"] = out.pop(f"IMG/{name}")
        lines[index] = lines[index].replace(old, new)
    out["driving_log.csv"] = ("\n".join(lines) + "\n").encode()
    return out


def test_the_dataset_page_lists_each_session_of_a_two_session_log(client, team_a, real_sample, tmp_path):
    client.force_login(team_a.captain)
    members = sample_members(real_sample, rows=40)
    members = _renamed(members, "2020_05_09", "2024_03_01", range(20))
    members = _renamed(members, "2020_05_09", "2018_07_14", range(20, 40))
    dataset = ingest_in_process(client, team_a, zip_members(tmp_path / "two.zip", members), name="Two sessions")
    assert dataset.status == Dataset.Status.READY, dataset.error
    stats = dataset.stats
    assert stats["session_count"] == 2 and stats["duration_s"] > 0
    assert stats["duration_from"] == "image time stamps" and 5 < stats["rate_hz"] < 16
    page = client.get(dataset.get_absolute_url()).content.decode()
    assert "Recording sessions" in page and page.count("data-session>") == 2
    assert "the sum of 2 recording sessions" in page and "nominal" not in page
    assert "2018-07-14" in page and "median interval between frames" in page


def test_the_page_says_when_the_log_has_no_time_stamps(client, team_a, tmp_path):
    client.force_login(team_a.captain)
    frame = jpeg_bytes()
    members = {f"IMG/{camera}{i}.jpg": frame for i in range(12) for camera in ("c", "l", "r")}
    members["driving_log.csv"] = "".join(f"IMG/c{i}.jpg,IMG/l{i}.jpg,IMG/r{i}.jpg,0,1,0,30\n"
                                         for i in range(12)).encode()
    dataset = ingest_in_process(client, team_a, zip_members(tmp_path / "plain.zip", members))
    assert dataset.status == Dataset.Status.READY, dataset.error
    page = client.get(dataset.get_absolute_url()).content.decode()
    duration = re.search(r'data-stat="duration">(.*?)</dd>', page, re.S).group(1)
    rate = re.search(r'data-stat="rate">(.*?)</dd>', page, re.S).group(1)
    assert duration.startswith("unknown") and "carry no time stamps" in duration
    assert rate.startswith("unknown") and "Hz" not in rate
    assert "12 frames without a time stamp" in page


def _log_with_missing_images(real_sample, rows: int, missing: int) -> dict[str, bytes]:
    """The first `rows` rows of the real sample with the centre images of the last `missing` removed."""
    members = sample_members(real_sample, rows=rows)
    lines = members["driving_log.csv"].decode().splitlines()
    for line in lines[rows - missing:]:
        name = line.split(", ")[0].replace("\\", "/").rsplit("/", 1)[-1]
        del members[f"IMG/{name}"]
    return members


def test_a_dataset_with_most_rows_skipped_is_flagged_in_the_list_and_on_its_page(client, team_a, real_sample,
                                                                               tmp_path):
    client.force_login(team_a.captain)
    bad = ingest_in_process(client, team_a, zip_members(tmp_path / "bad.zip",
                                                        _log_with_missing_images(real_sample, 20, 18)), name="Bad")
    fine = ingest_in_process(client, team_a, zip_members(tmp_path / "fine.zip",
                                                         _log_with_missing_images(real_sample, 20, 1)), name="Fine")
    assert bad.status == fine.status == Dataset.Status.READY
    assert (bad.rows_skipped, bad.rows_total) == (18, 20) and (fine.rows_skipped, fine.rows_total) == (1, 20)
    assert bad.skip_warning.startswith("18 of 20 rows (90 %) were skipped") and fine.skip_warning == ""
    listing = client.get(f"/teams/{team_a.slug}/datasets/").content.decode()
    assert listing.count("data-skip-warning") == 1 and "90 % skipped" in listing
    page = client.get(bad.get_absolute_url()).content.decode()
    assert "data-skip-warning" in page and "18 of 20 rows (90 %) were skipped" in page
    assert "data-skip-warning" not in client.get(fine.get_absolute_url()).content.decode()
    assert "(90 % of the log: see the report)" in bad.job.message
    assert any("were skipped" in line for line in bad.job.log_tail.splitlines())


def test_why_a_dataset_failed_shows_in_the_list_and_in_the_jobs_table(client, team_a, real_sample, tmp_path):
    client.force_login(team_a.captain)
    only_images = {k: v for k, v in sample_members(real_sample, rows=3).items() if k != "driving_log.csv"}
    dataset = ingest_in_process(client, team_a, zip_members(tmp_path / "nocsv.zip", only_images), name="No log")
    assert dataset.status == Dataset.Status.FAILED and "No driving_log.csv" in dataset.error
    listing = client.get(f"/teams/{team_a.slug}/datasets/").content.decode()
    row = re.search(r"<tr>\s*<td><a [^>]*>No log</a>.*?</tr>", listing, re.S).group(0)
    assert "data-dataset-error" in row and "No driving_log.csv" in row
    jobs = client.get(f"/teams/{team_a.slug}/jobs/").content.decode()
    job_row = re.search(rf'<tr data-job-id="{dataset.job_id}".*?</tr>', jobs, re.S).group(0)
    error = re.search(r'data-field="error"([^>]*)>(.*?)</div>', job_row, re.S)
    assert "hidden" not in error.group(1) and "No driving_log.csv" in error.group(2)
