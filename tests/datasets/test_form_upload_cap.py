"""The one-request upload form takes a few MB (PITLANE_DATASET_MAX_FORM_UPLOAD_BYTES); a larger zip
is refused with a message that points to the chunked upload, and nothing is kept. (The web server
refuses any body over PITLANE_MAX_REQUEST_BYTES before reading it: tests/deploy/test_request_limits.py.)"""

from __future__ import annotations

import io
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.datasets.helpers import files_under
from webapp.datasets.models import Dataset

pytestmark = pytest.mark.django_db


def _post(client, team, size: int):
    buffer = io.BytesIO()  # a whole zip of about `size` bytes (the upload checks that it is one)
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("padding.bin", b"\0" * (size - 200))
    zip_like = SimpleUploadedFile("log.zip", buffer.getvalue(), content_type="application/zip")
    return client.post(f"/teams/{team.slug}/datasets/upload/", {"file": zip_like, "name": "Form"},
                       HTTP_X_REQUESTED_WITH="XMLHttpRequest")


def test_a_zip_over_the_form_cap_is_refused_with_a_pointer_to_the_chunked_upload(client, team_a, settings,
                                                                                 pitlane_dirs):
    settings.PITLANE_DATASET_MAX_FORM_UPLOAD_BYTES = 100_000
    client.force_login(team_a.captain)
    response = _post(client, team_a, 200_000)
    assert response.status_code == 400
    error = response.json()["error"]
    assert "97.7 KiB" in error and "chunks" in error and f"/teams/{team_a.slug}/datasets/upload/chunk/" in error
    assert not Dataset.objects.exists()
    assert files_under(pitlane_dirs["UPLOAD_ROOT"]) == []

    assert _post(client, team_a, 90_000).status_code == 201  # under the cap: accepted as before


def test_the_form_cap_is_a_few_mb_within_the_request_limit(settings):
    assert 5 * 1024 * 1024 < settings.PITLANE_DATASET_MAX_FORM_UPLOAD_BYTES <= 8 * 1024 * 1024
    assert settings.PITLANE_DATASET_MAX_FORM_UPLOAD_BYTES < settings.PITLANE_MAX_REQUEST_BYTES
