"""A file that is no zip is refused when it arrives, by the one-request form and by the chunked
upload alike, with a message that says what to do; sizes are binary units labelled as such."""

from __future__ import annotations

import io
import uuid
import zipfile

import pytest

from tests.datasets.helpers import files_under, sample_members, upload, zip_members
from tests.support.uploads import send
from webapp.datasets.models import Dataset
from webapp.datasets.sizes import binary_size
from webapp.jobs.models import Job

pytestmark = pytest.mark.django_db

ADVICE = "zip the recording folder (driving_log.csv and IMG/) and upload the .zip."


@pytest.fixture
def alpha(client, team_a):
    client.force_login(team_a.captain)
    return team_a


def _nothing_kept(pitlane_dirs) -> None:
    assert not Dataset.objects.exists() and not Job.objects.exists()
    assert files_under(pitlane_dirs["UPLOAD_ROOT"]) == []


def test_the_form_refuses_a_file_that_is_not_a_zip_at_once(client, alpha, tmp_path, pitlane_dirs):
    notes = tmp_path / "notes.zip"
    notes.write_text("these are my notes, not a zip\n" * 20)
    response = upload(client, alpha, notes)
    assert response.status_code == 400
    assert response.json()["error"] == f"notes.zip is not a zip file (it does not start like one): {ADVICE}"
    _nothing_kept(pitlane_dirs)


def test_the_form_refuses_an_empty_zip_and_a_zip_cut_short(client, alpha, real_sample, tmp_path, pitlane_dirs):
    empty = tmp_path / "empty.zip"
    zipfile.ZipFile(empty, "w").close()
    response = upload(client, alpha, empty)
    assert response.status_code == 400 and response.json()["error"].startswith("empty.zip is an empty zip")
    whole = zip_members(tmp_path / "whole.zip", sample_members(real_sample, rows=3)).read_bytes()
    cut = tmp_path / "cut.zip"
    cut.write_bytes(whole[: len(whole) // 2])
    response = upload(client, alpha, cut)
    assert response.status_code == 400
    assert response.json()["error"].startswith("cut.zip is not a complete zip file")
    _nothing_kept(pitlane_dirs)
    # The page without JavaScript shows the same message.
    with open(cut, "rb") as fh:
        page = client.post(f"/teams/{alpha.slug}/datasets/upload/", {"file": fh}, follow=True)
    assert "cut.zip is not a complete zip file" in page.content.decode()


def test_a_chunked_upload_that_ends_as_no_zip_is_refused_before_any_job(client, alpha, real_sample, tmp_path,
                                                                      pitlane_dirs):
    whole = zip_members(tmp_path / "whole.zip", sample_members(real_sample, rows=3)).read_bytes()
    data = whole[: len(whole) // 2]  # starts like a zip, but its table of contents is missing
    upload_id = uuid.uuid4().hex
    assert send(client, alpha, upload_id, data[:1000], 0, len(data)).status_code == 200
    response = send(client, alpha, upload_id, data[1000:], 1000, len(data))
    assert response.status_code == 400
    assert response.json()["error"].startswith("log.zip is not a complete zip file")
    assert not Dataset.objects.exists() and not Job.objects.exists()


def test_a_chunked_upload_of_an_empty_zip_is_refused_at_the_first_chunk(client, alpha):
    buffer = io.BytesIO()
    zipfile.ZipFile(buffer, "w").close()
    response = send(client, alpha, uuid.uuid4().hex, buffer.getvalue(), 0, len(buffer.getvalue()))
    assert response.status_code == 400
    assert response.json()["error"] == f"log.zip is an empty zip (it holds no files): {ADVICE}"


def test_a_real_zip_still_goes_through_both_ways(client, alpha, archive, tmp_path):
    path = tmp_path / "log.zip"
    path.write_bytes(archive)
    assert upload(client, alpha, path).status_code == 201
    upload_id = uuid.uuid4().hex
    assert send(client, alpha, upload_id, archive[:5000], 0, len(archive)).status_code == 200
    assert send(client, alpha, upload_id, archive[5000:], 5000, len(archive)).status_code == 201
    assert Dataset.objects.count() == 2


@pytest.mark.parametrize(("size", "text"), [
    (0, "0 bytes"), (1, "1 byte"), (1023, "1023 bytes"), (1024, "1.0 KiB"), (40_000, "39.1 KiB"),
    (5 * 1024**2 + 1024**2 // 2, "5.5 MiB"), (8 * 1024**3, "8.0 GiB"), (3 * 1024**4, "3.0 TiB"),
])
def test_sizes_are_binary_units_labelled_as_such(size, text):
    assert binary_size(size) == text


def test_limits_in_messages_and_on_the_page_are_labelled_mib(client, alpha, settings, archive):
    settings.PITLANE_DATASET_MAX_UPLOAD_BYTES = 3 * 1024**2
    response = send(client, alpha, uuid.uuid4().hex, archive[:100], 0, 4 * 1024**2)
    assert response.status_code == 413
    assert response.json()["error"] == "The file is larger than the upload limit of 3.0 MiB."
    page = client.get(f"/teams/{alpha.slug}/datasets/").content.decode()
    assert "Up to 3.0 MiB." in page and " MB" not in page


def test_the_form_handler_stops_reading_at_the_first_chunk_of_a_non_zip(settings, pitlane_dirs):
    from django.core.files.uploadhandler import StopUpload

    from webapp.datasets.upload import LimitedDiskUploadHandler

    handler = LimitedDiskUploadHandler(max_bytes=10 * 1024**2)
    handler.new_file("file", "holiday.zip", "application/zip", None)
    assert len(files_under(pitlane_dirs["UPLOAD_ROOT"])) == 1  # the part file it writes to
    with pytest.raises(StopUpload):
        handler.receive_data_chunk(b"\x89PNG\r\n" + b"\0" * 65_000, 0)
    assert handler.refusal == f"holiday.zip is not a zip file (it does not start like one): {ADVICE}"
    assert files_under(pitlane_dirs["UPLOAD_ROOT"]) == []
    zipped = LimitedDiskUploadHandler(max_bytes=10 * 1024**2)
    zipped.new_file("file", "log.zip", "application/zip", None)
    assert zipped.receive_data_chunk(b"PK\x03\x04" + b"\0" * 100, 0) is None and zipped.refusal == ""
    zipped.discard()
