"""Broken and hostile uploads: each gets a clear message, good rows survive, nothing escapes
the dataset folder, and a rejected upload leaves no files behind."""

import zipfile

import pytest

from tests.datasets.helpers import files_under, ingest_in_process, jpeg_bytes, sample_members, upload, zip_members
from webapp.datasets.models import Dataset
from webapp.jobs.models import Job

pytestmark = pytest.mark.django_db


@pytest.fixture
def alpha(client, team_a):
    client.force_login(team_a.captain)
    return team_a


def _edit_rows(members: dict, edits: dict[int, callable]) -> dict:
    lines = members["driving_log.csv"].decode().splitlines()
    for index, edit in edits.items():
        lines[index] = edit(lines[index])
    return {**members, "driving_log.csv": ("\n".join(lines) + "\n").encode()}


def _cell(index: int, value: str):
    def edit(line: str) -> str:
        cells = line.split(", ")
        cells[index] = value
        return ", ".join(cells)
    return edit


def _rejected(dataset: Dataset, words: str, pitlane_dirs) -> None:
    assert dataset.status == Dataset.Status.FAILED
    assert words in dataset.error, dataset.error
    assert dataset.job.status == Job.Status.FAILED and words in dataset.job.error
    assert files_under(pitlane_dirs["PITLANE_DATASET_ROOT"]) == []
    assert files_under(pitlane_dirs["UPLOAD_ROOT"]) == []


def test_zip_slip_is_rejected_and_nothing_is_written_outside(client, alpha, real_sample, tmp_path, pitlane_dirs):
    members = {**sample_members(real_sample, rows=3), "IMG/../../../evil.txt": b"owned"}
    dataset = ingest_in_process(client, alpha, zip_members(tmp_path / "slip.zip", members))
    _rejected(dataset, "zip-slip", pitlane_dirs)
    assert not list(tmp_path.rglob("evil.txt"))


def test_absolute_member_path_is_rejected(client, alpha, real_sample, tmp_path, pitlane_dirs):
    members = {**sample_members(real_sample, rows=3), "/etc/pitlane-evil": b"x"}
    dataset = ingest_in_process(client, alpha, zip_members(tmp_path / "abs.zip", members))
    _rejected(dataset, "absolute path", pitlane_dirs)


def test_zip_bomb_is_rejected_by_compression_ratio(client, alpha, real_sample, tmp_path, pitlane_dirs):
    members = {**sample_members(real_sample, rows=3), "IMG/bomb.jpg": b"\0" * (40 * 1024 * 1024)}
    dataset = ingest_in_process(client, alpha, zip_members(tmp_path / "bomb.zip", members))
    _rejected(dataset, "zip bomb", pitlane_dirs)


def test_total_uncompressed_size_limit(client, alpha, real_sample, tmp_path, pitlane_dirs, settings):
    settings.PITLANE_DATASET_MAX_UNCOMPRESSED_BYTES = 100_000
    dataset = ingest_in_process(client, alpha, zip_members(tmp_path / "big.zip", sample_members(real_sample, rows=20)))
    _rejected(dataset, "the limit is", pitlane_dirs)


def test_lying_declared_size_is_caught_while_extracting(client, alpha, real_sample, tmp_path, pitlane_dirs):
    path = zip_members(tmp_path / "liar.zip", sample_members(real_sample, rows=3), compression=zipfile.ZIP_STORED)
    # Shrink a member's declared size in both headers: extraction must count the real bytes.
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("driving_log.csv")
    real = info.file_size.to_bytes(4, "little")
    fake = (10).to_bytes(4, "little")
    assert data.count(real) >= 2
    data = data.replace(real, fake)
    path.write_bytes(bytes(data))
    dataset = ingest_in_process(client, alpha, path)
    assert dataset.status == Dataset.Status.FAILED
    assert "zip" in dataset.error.lower()
    assert files_under(pitlane_dirs["PITLANE_DATASET_ROOT"]) == []


def test_oversize_upload_is_refused_with_a_message(client, alpha, real_sample, tmp_path, pitlane_dirs, settings):
    settings.PITLANE_DATASET_MAX_UPLOAD_BYTES = 50_000
    response = upload(client, alpha, zip_members(tmp_path / "big.zip", sample_members(real_sample, rows=20)))
    assert response.status_code == 400
    assert "larger than the upload limit" in response.json()["error"]
    assert not Dataset.objects.exists()
    assert files_under(pitlane_dirs["UPLOAD_ROOT"]) == []


def test_not_a_zip_and_no_csv(client, alpha, real_sample, tmp_path, pitlane_dirs):
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"this is not a zip at all")
    # A .zip name is not enough: the upload is refused at once (tests/datasets/test_upload_checks.py).
    response = upload(client, alpha, junk)
    assert response.status_code == 400 and "junk.zip is not a zip file" in response.json()["error"]
    assert not Dataset.objects.exists() and files_under(pitlane_dirs["UPLOAD_ROOT"]) == []
    only_images = {k: v for k, v in sample_members(real_sample, rows=3).items() if k != "driving_log.csv"}
    dataset = ingest_in_process(client, alpha, zip_members(tmp_path / "nocsv.zip", only_images))
    _rejected(dataset, "No driving_log.csv", pitlane_dirs)


def test_bad_rows_are_skipped_counted_and_reported_with_row_numbers(client, alpha, real_sample, tmp_path):
    members = sample_members(real_sample, rows=30)
    members = _edit_rows(members, {
        2: lambda line: line + ", 7",            # line 3: eight columns
        4: _cell(3, "left"),                     # line 5: not a number
        6: _cell(4, "NaN"),                      # line 7: NaN throttle
        8: _cell(6, "inf"),                      # line 9: infinite speed
    })
    lines = members["driving_log.csv"].decode().splitlines()
    corrupt = lines[10].split(", ")[0].rsplit("\\", 1)[-1]          # line 11: truncated JPEG
    members[f"IMG/{corrupt}"] = members[f"IMG/{corrupt}"][:400]
    missing = lines[12].split(", ")[1].rsplit("\\", 1)[-1]          # line 13: missing left image
    del members[f"IMG/{missing}"]
    small = lines[14].split(", ")[2].rsplit("\\", 1)[-1]            # line 15: 160x80 right image
    members[f"IMG/{small}"] = jpeg_bytes(160, 80)
    members["notes.txt"] = b"ignored"

    dataset = ingest_in_process(client, alpha, zip_members(tmp_path / "bad.zip", members))
    assert dataset.status == Dataset.Status.READY, dataset.error
    assert (dataset.rows_total, dataset.frames, dataset.rows_skipped) == (30, 23, 7)
    report = dataset.report
    assert report["counts"] == {"wrong_columns": 1, "non_numeric": 1, "not_finite": 2, "missing_image": 1,
                                "corrupt_image": 1, "size_mismatch": 1}
    assert [(p["row"], p["kind"]) for p in report["problems"]] == [
        (3, "wrong_columns"), (5, "non_numeric"), (7, "not_finite"), (9, "not_finite"),
        (11, "corrupt_image"), (13, "missing_image"), (15, "size_mismatch")]
    assert any("ignored" in note for note in report["notes"])
    # The clean log holds exactly the good rows; nothing bad reaches training.
    assert len((dataset.path / "driving_log.csv").read_text().splitlines()) == 24
    page = client.get(dataset.get_absolute_url()).content.decode()
    assert "7 rows skipped" in page and "NaN or infinite value" in page and "is not a number" in page


def test_every_row_bad_fails_with_a_message(client, alpha, real_sample, tmp_path, pitlane_dirs):
    members = sample_members(real_sample, rows=4)
    members = _edit_rows(members, {i: _cell(3, "NaN") for i in range(4)})
    dataset = ingest_in_process(client, alpha, zip_members(tmp_path / "allbad.zip", members))
    _rejected(dataset, "No usable rows", pitlane_dirs)
    assert dataset.rows_skipped == 4 and dataset.report["counts"] == {"not_finite": 4}


def test_non_zip_name_is_refused_at_upload(client, alpha, tmp_path):
    path = tmp_path / "log.csv"
    path.write_text("a,b\n")
    response = upload(client, alpha, path)
    assert response.status_code == 400 and ".zip" in response.json()["error"]
    assert not Dataset.objects.exists()
