"""Chunked uploads under misuse (webapp/datasets/chunked.py): one writer per upload at a time
(a file lock, across threads and processes), a total fixed by the first chunk, a zip from the first
bytes on, and a per-team quota of unfinished uploads (count and announced bytes). Through the real
views: the test client, a threaded live server that reads bodies as they arrive, and Daphne."""

from __future__ import annotations

import fcntl
import os
import socket
import uuid
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pytest
from django.conf import settings
from django.test import Client

from tests.support.uploads import ZIP_START, send
from tests.support.waiting import wait_for
from webapp.datasets.chunked import lock_path, meta_path, part_path
from webapp.datasets.models import Dataset

pytestmark = pytest.mark.django_db

GB = 1024**3
CSRF = "c" * 32  # a well-formed CSRF secret, sent as the cookie and as the header


def _url(team, upload_id: str, offset: int, total: int, filename: str = "log.zip") -> str:
    query = urlencode({"upload_id": upload_id, "offset": offset, "total": total, "filename": filename,
                       "name": "Chunked"})
    return f"/teams/{team.slug}/datasets/upload/chunk/?{query}"


def _text(response) -> str:
    """The error message, with filesizeformat's no-break spaces as plain ones."""
    return response.json()["error"].replace("\xa0", " ")


def test_the_total_is_fixed_by_the_first_chunk(client, team_a, archive):
    client.force_login(team_a.captain)
    upload_id, total = uuid.uuid4().hex, len(archive)
    assert send(client, team_a, upload_id, archive[:1000], 0, total).status_code == 200
    # Announcing less now would make the next chunk the last and hand a cut zip to ingestion.
    response = send(client, team_a, upload_id, archive[1000:2000], 1000, 2000)
    assert response.status_code == 409
    assert response.json()["error"].startswith(f"This upload was started as a file of {total:,} bytes, not 2,000")
    assert part_path(team_a, upload_id).read_bytes() == archive[:1000] and not Dataset.objects.exists()
    # Nothing is lost: with its real total the upload carries on and completes.
    assert send(client, team_a, upload_id, archive[1000:], 1000, total).status_code == 201
    assert Path(Dataset.objects.get().upload_path).read_bytes() == archive


def test_a_first_chunk_that_is_not_a_zip_is_refused_at_once(client, team_a):
    client.force_login(team_a.captain)
    upload_id = uuid.uuid4().hex
    response = send(client, team_a, upload_id, b"<html>" + b"x" * 994, 0, 50 * 1024**2, filename="log.zip")
    assert response.status_code == 400
    assert "log.zip is not a zip file" in response.json()["error"]
    assert not any(p.exists() for p in (part_path(team_a, upload_id), meta_path(team_a, upload_id),
                                        lock_path(team_a, upload_id)))


def test_a_team_may_have_only_so_many_unfinished_uploads(client, team_a, team_b, archive, settings):
    settings.PITLANE_UPLOAD_MAX_OPEN_PER_TEAM = 2
    client.force_login(team_a.captain)
    first, second, third = (uuid.uuid4().hex for _ in range(3))
    total = len(archive)
    assert send(client, team_a, first, archive[:1000], 0, total).status_code == 200
    assert send(client, team_a, second, archive[:1000], 0, total).status_code == 200
    response = send(client, team_a, third, archive[:1000], 0, total)
    assert response.status_code == 429
    assert response.json()["error"] == (
        "Your team already has 2 unfinished uploads, the most it may have at once: finish or cancel one first "
        "(unfinished uploads are cleared after 24 hours).")
    assert not part_path(team_a, third).exists()
    # The uploads under way go on; another team has its own quota.
    assert send(client, team_a, first, archive[1000:2000], 1000, total).status_code == 200
    client.force_login(team_b.captain)
    assert send(client, team_b, third, archive[:1000], 0, total).status_code == 200
    # Giving one up (what the browser does after a failure it will not resume) frees its place.
    client.force_login(team_a.captain)
    assert client.delete(f"/teams/{team_a.slug}/datasets/upload/chunk/?upload_id={second}").status_code == 200
    assert not part_path(team_a, second).exists()
    assert send(client, team_a, third, archive[:1000], 0, total).status_code == 200
    # And so does finishing one.
    assert send(client, team_a, first, archive[2000:], 2000, total).status_code == 201
    assert send(client, team_a, uuid.uuid4().hex, archive[:1000], 0, total).status_code == 200


def test_announced_bytes_count_against_the_team_quota(client, team_a, team_b):
    # The defaults: 8 GB per upload, 16 GB announced by a team's unfinished uploads together.
    assert settings.PITLANE_DATASET_MAX_UPLOAD_BYTES == 8 * GB
    assert settings.PITLANE_UPLOAD_MAX_OPEN_BYTES_PER_TEAM == 16 * GB
    client.force_login(team_a.captain)
    too_big = send(client, team_a, uuid.uuid4().hex, ZIP_START, 0, 8 * GB + 1)
    assert too_big.status_code == 413 and "larger than the upload limit of 8.0 GiB" in _text(too_big)
    # An 8 GB announcement with 4 bytes is taken while the quota allows it, twice; not a third time.
    assert send(client, team_a, uuid.uuid4().hex, ZIP_START, 0, 8 * GB).json() == {"received": 4}
    assert send(client, team_a, uuid.uuid4().hex, ZIP_START, 0, 8 * GB).json() == {"received": 4}
    response = send(client, team_a, uuid.uuid4().hex, ZIP_START, 0, 8 * GB)
    assert response.status_code == 429
    assert _text(response).startswith(
        "This upload of 8.0 GiB and your team's 2 unfinished uploads (16.0 GiB) would exceed its 16.0 GiB")
    assert send(client, team_a, uuid.uuid4().hex, ZIP_START, 0, 1000).status_code == 429
    client.force_login(team_b.captain)
    assert send(client, team_b, uuid.uuid4().hex, ZIP_START, 0, 8 * GB).status_code == 200


def test_the_last_chunk_sent_again_answers_the_same_dataset(client, team_a, archive):
    """The answer to the last chunk got lost and the browser sends it again: same dataset, no copy."""
    client.force_login(team_a.captain)
    upload_id, half = uuid.uuid4().hex, len(archive) // 2
    send(client, team_a, upload_id, archive[:half], 0, len(archive))
    first = send(client, team_a, upload_id, archive[half:], half, len(archive))
    again = send(client, team_a, upload_id, archive[half:], half, len(archive))
    assert first.status_code == again.status_code == 201 and first.json() == again.json()
    assert Dataset.objects.count() == 1
    url = f"/teams/{team_a.slug}/datasets/upload/chunk/?upload_id={upload_id}"
    assert client.get(url).json() == {"received": len(archive)}


# -- two requests for one upload at once ----------------------------------------------------------

def _cookie(user) -> str:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}; csrftoken={CSRF}"


def _head(base_url: str, path: str, length: int, cookie: str) -> bytes:
    host = urlsplit(base_url).netloc
    return (f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/octet-stream\r\n"
            f"Content-Length: {length}\r\nCookie: {cookie}\r\nX-CSRFToken: {CSRF}\r\n"
            "Connection: close\r\n\r\n").encode()


def _answer(sock: socket.socket) -> tuple[int, bytes]:
    data = b""
    while piece := sock.recv(65536):
        data += piece
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


def _post(base_url: str, path: str, data: bytes, cookie: str) -> tuple[int, bytes]:
    parts = urlsplit(base_url)
    with socket.create_connection((parts.hostname, parts.port), timeout=60) as sock:
        sock.sendall(_head(base_url, path, len(data), cookie) + data)
        return _answer(sock)


@pytest.mark.django_db(transaction=True)
def test_two_chunks_at_the_same_offset_at_once_one_wins_the_other_gets_409(live_server, team_a, archive):
    """The live server hands the view the body as it arrives, so the first request is caught in
    the middle of its write: the second, at the same offset, is answered 409 and writes nothing."""
    cookie, upload_id, total = _cookie(team_a.captain), uuid.uuid4().hex, len(archive)
    assert _post(live_server.url, _url(team_a, upload_id, 0, total), archive[:1000], cookie)[0] == 200
    part = part_path(team_a, upload_id)
    rest, path = archive[1000:], _url(team_a, upload_id, 1000, total)
    assert len(rest) > 3 * 1024 * 1024
    parts = urlsplit(live_server.url)
    with socket.create_connection((parts.hostname, parts.port), timeout=60) as first:
        first.sendall(_head(live_server.url, path, len(rest), cookie) + rest[:2 * 1024 * 1024])
        wait_for(lambda: part.stat().st_size > 1000, message="the first request to start writing")
        status, body = _post(live_server.url, path, rest, cookie)
        assert status == 409 and b"being written" in body and b'"retry": true' in body
        first.sendall(rest[2 * 1024 * 1024:])
        status, body = _answer(first)
    assert status == 201, body
    assert Path(Dataset.objects.get().upload_path).read_bytes() == archive


@pytest.mark.django_db(transaction=True)
def test_through_daphne_an_upload_locked_by_another_process_is_not_written(daphne_server, team_a, archive):
    """The lock is a file lock: a chunk arriving while another process (here, the test) holds the
    upload is answered 409 by Daphne and leaves the file as it was; once released, it goes in."""
    cookie, upload_id, total = _cookie(team_a.captain), uuid.uuid4().hex, len(archive)
    assert _post(daphne_server, _url(team_a, upload_id, 0, total), archive[:1000], cookie)[0] == 200
    fd = os.open(lock_path(team_a, upload_id), os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        status, body = _post(daphne_server, _url(team_a, upload_id, 1000, total), archive[1000:5000], cookie)
        assert status == 409 and b"being written" in body
        assert part_path(team_a, upload_id).read_bytes() == archive[:1000]
    finally:
        os.close(fd)
    status, body = _post(daphne_server, _url(team_a, upload_id, 1000, total), archive[1000:5000], cookie)
    assert status == 200 and b'"received": 5000' in body
    assert part_path(team_a, upload_id).read_bytes() == archive[:5000]
