"""Chunked uploads: the browser's way to send multi-GB logs without any server holding them."""

import uuid
from pathlib import Path
from urllib.parse import urlencode

import pytest

from tests.support.uploads import ZIP_START, send
from webapp.datasets.chunked import lock_path, meta_path, part_path
from webapp.datasets.models import Dataset
from webapp.jobs.models import Job

pytestmark = pytest.mark.django_db


def _files_of(team, upload_id: str) -> list[str]:
    """The files the server keeps for an upload (its bytes, its record, its lock)."""
    return [p.name for p in (part_path(team, upload_id), meta_path(team, upload_id), lock_path(team, upload_id))
            if p.exists()]


def test_chunks_assemble_into_a_dataset_and_queue_ingest(client, team_a, archive, pitlane_dirs):
    client.force_login(team_a.captain)
    upload_id, total, size = uuid.uuid4().hex, len(archive), len(archive) // 3 + 1
    for offset in range(0, total, size):
        response = send(client, team_a, upload_id, archive[offset:offset + size], offset, total)
        assert response.status_code in (200, 201), response.content
        assert response.json()["received"] == min(offset + size, total)
    body = response.json()
    dataset = Dataset.objects.get(pk=body["dataset_id"])
    assert body["redirect"] == dataset.get_absolute_url()
    assert dataset.name == "Chunked" and dataset.upload_bytes == total
    assert dataset.job.kind == "datasets.ingest" and dataset.job.status == Job.Status.QUEUED
    assert Path(dataset.upload_path).read_bytes() == archive
    assert not part_path(team_a, upload_id).exists()


def test_a_resent_chunk_is_not_written_twice(client, team_a, archive):
    client.force_login(team_a.captain)
    upload_id, half = uuid.uuid4().hex, len(archive) // 2
    assert send(client, team_a, upload_id, archive[:half], 0, len(archive)).status_code == 200
    assert send(client, team_a, upload_id, archive[:half], 0, len(archive)).json()["received"] == half
    response = send(client, team_a, upload_id, archive[half:], half, len(archive))
    assert response.status_code == 201
    assert Path(Dataset.objects.get().upload_path).read_bytes() == archive


def test_a_gap_is_refused_with_a_clear_message_and_loses_nothing(client, team_a, archive):
    client.force_login(team_a.captain)
    upload_id = uuid.uuid4().hex
    send(client, team_a, upload_id, archive[:1000], 0, len(archive))
    response = send(client, team_a, upload_id, archive[2000:3000], 2000, len(archive))
    assert response.status_code == 409  # the client carries on from what the server says it has
    assert response.json() == {"error": "Chunk at byte 2000 does not follow the 1000 bytes received so far.",
                               "received": 1000}
    assert part_path(team_a, upload_id).stat().st_size == 1000
    assert send(client, team_a, upload_id, archive[1000:], 1000, len(archive)).status_code == 201


@pytest.mark.parametrize("query, status, message", [
    ({"total": 10**13}, 413, "larger than the upload limit"),
    ({"filename": "log.tar"}, 400, "Upload a .zip"),
    ({"upload_id": "../../etc"}, 400, "Malformed upload id"),
    ({"offset": -100}, 400, "offset must be 0 or more"),
    ({"offset": "x"}, 400, "whole numbers"),
    ({"total": 0}, 400, "The file is empty"),
])
def test_bad_uploads_are_refused_up_front(client, team_a, query, status, message):
    client.force_login(team_a.captain)
    params = {"upload_id": uuid.uuid4().hex, "offset": 0, "total": 100, "filename": "log.zip", "name": "x", **query}
    response = client.post(f"/teams/{team_a.slug}/datasets/upload/chunk/?{urlencode(params)}",
                           data=ZIP_START + b"x" * 96, content_type="application/octet-stream")
    assert response.status_code == status and message in response.json()["error"]
    assert not Dataset.objects.exists()
    assert _files_of(team_a, params["upload_id"]) == []  # not even a lock file


def test_more_bytes_than_announced_discard_the_upload(client, team_a):
    client.force_login(team_a.captain)
    upload_id = uuid.uuid4().hex
    response = send(client, team_a, upload_id, ZIP_START + b"x" * 196, 0, 100)
    assert response.status_code == 400 and "more bytes than it announced" in response.json()["error"]
    assert _files_of(team_a, upload_id) == []


def test_another_team_cannot_add_to_or_finish_an_upload(client, team_a, team_b, archive):
    client.force_login(team_a.captain)
    upload_id, half = uuid.uuid4().hex, len(archive) // 2
    send(client, team_a, upload_id, archive[:half], 0, len(archive))
    client.force_login(team_b.captain)
    assert send(client, team_a, upload_id, archive[half:], half, len(archive)).status_code == 404
    # Under its own team the id names a different (empty) upload: the offset does not follow.
    response = send(client, team_b, upload_id, archive[half:], half, len(archive))
    assert response.status_code == 409 and response.json()["received"] == 0
    assert not Dataset.objects.exists()


def test_server_says_how_much_it_has_so_an_upload_can_resume(client, team_a, team_b, archive, pitlane_dirs):
    client.force_login(team_a.captain)
    upload_id, url = uuid.uuid4().hex, f"/teams/{team_a.slug}/datasets/upload/chunk/"
    assert client.get(url, {"upload_id": upload_id}).json() == {"received": 0}
    send(client, team_a, upload_id, archive[:1000], 0, len(archive))
    assert client.get(url, {"upload_id": upload_id}).json() == {"received": 1000}
    # Carry on from there, as a reloaded page does: the dataset is the whole file.
    body = send(client, team_a, upload_id, archive[1000:], 1000, len(archive)).json()
    assert Path(Dataset.objects.get(pk=body["dataset_id"]).upload_path).read_bytes() == archive
    assert client.get(url, {"upload_id": "../../etc"}).status_code == 400
    # Another team's member learns nothing about it.
    other = uuid.uuid4().hex
    send(client, team_a, other, archive[:10], 0, len(archive))
    client.force_login(team_b.captain)
    assert client.get(f"/teams/{team_b.slug}/datasets/upload/chunk/", {"upload_id": other}).json() == {"received": 0}
    assert client.get(url, {"upload_id": other}).status_code == 404
