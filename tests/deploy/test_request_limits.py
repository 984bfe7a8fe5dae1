"""One request must not take the server's memory: the web server (webapp/server.py, Daphne with a
body limit) answers 413 to a body over PITLANE_MAX_REQUEST_BYTES before reading it, on every path,
whether the size is announced (Content-Length) or not (Transfer-Encoding: chunked); bodies within
the limit, forms and upload chunks, still work. Against a real Daphne, with bodies streamed from a
generator (tests/support/raw_http.py), never built in memory."""

from __future__ import annotations

import json
import re
import shlex
import threading
import urllib.request
import uuid
from pathlib import Path
from urllib.parse import urlencode

import pytest
import yaml
from django.conf import settings
from django.test import Client

from tests.support import raw_http

ROOT = Path(__file__).resolve().parents[2]
MB = 1024 * 1024
CSRF = "a" * 32  # a well-formed CSRF secret: sent as the cookie and as the form's token

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("pitlane_dirs")]


def test_every_way_of_serving_runs_the_limited_server():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    web = " ".join(shlex.split(compose["services"]["web"]["command"]))
    assert re.search(r"python -m webapp\.server ", web) and not re.search(r"(^|\s)daphne\s", web), web
    cmd = re.search(r"^CMD (.+)$", (ROOT / "Dockerfile").read_text(), re.MULTILINE)
    assert cmd and json.loads(cmd.group(1))[:3] == ["python", "-m", "webapp.server"]
    run_local = (ROOT / "webapp" / "run_local.py").read_text()
    assert '"-m", "webapp.server"' in run_local and '"-m", "daphne"' not in run_local


def _health(url: str) -> int:
    with urllib.request.urlopen(url + "/api/v1/health/", timeout=30) as response:
        return response.status


def _assert_refused(response: raw_http.RawResponse) -> None:
    assert response.status == 413, response
    assert b"too large" in response.body and b"chunks" in response.body
    assert response.closed, "the connection stays open after a refused body"
    # Refused before being read: what went out is what the sockets' buffers took, not the body.
    assert response.sent_bytes < settings.PITLANE_MAX_REQUEST_BYTES + 64 * MB, response.sent_bytes


def _session_cookie(user) -> str:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}; csrftoken={CSRF}"


def test_an_anonymous_300_mb_multipart_post_is_refused_unread_and_health_answers_throughout(daphne_server):
    length, body = raw_http.multipart_body(300 * MB)
    statuses: list[int] = []
    done = threading.Event()

    def poll_health():
        while not done.is_set():
            statuses.append(_health(daphne_server))

    poller = threading.Thread(target=poll_health)
    poller.start()
    try:
        response = raw_http.send(daphne_server, "POST", "/leagues/", {
            "Content-Type": "multipart/form-data; boundary=pitlaneboundary", "Content-Length": str(length),
        }, body)
    finally:
        done.set()
        poller.join()
    _assert_refused(response)
    assert statuses and set(statuses) == {200}
    assert _health(daphne_server) == 200


def test_a_logged_in_100_mb_post_to_the_form_upload_is_refused_unread(daphne_server, team_a):
    length, body = raw_http.multipart_body(100 * MB)
    response = raw_http.send(daphne_server, "POST", f"/teams/{team_a.slug}/datasets/upload/", {
        "Content-Type": "multipart/form-data; boundary=pitlaneboundary", "Content-Length": str(length),
        "Cookie": _session_cookie(team_a.captain), "X-CSRFToken": CSRF, "Expect": "100-continue",
    }, body)
    _assert_refused(response)
    assert response.interim == []  # no "100 Continue" before (or after) the refusal


def test_a_chunked_transfer_encoding_body_is_refused_once_it_passes_the_limit(daphne_server):
    response = raw_http.send(daphne_server, "POST", "/api/v1/health/", {
        "Content-Type": "application/octet-stream", "Transfer-Encoding": "chunked",
    }, raw_http.chunked_encoding(raw_http.zeros(300 * MB)))
    _assert_refused(response)
    assert _health(daphne_server) == 200


def test_a_chunked_body_just_over_the_limit_sent_at_once_is_refused(daphne_server):
    """The bytes that pass the limit and the body's end arrive in one read: still a 413 and a
    closed connection."""
    whole = b"".join(raw_http.chunked_encoding(raw_http.zeros(settings.PITLANE_MAX_REQUEST_BYTES + 1)))
    response = raw_http.send(daphne_server, "POST", "/api/v1/health/", {
        "Content-Type": "application/octet-stream", "Transfer-Encoding": "chunked",
    }, [whole])
    _assert_refused(response)


def test_a_form_post_and_an_8_mb_upload_chunk_within_the_limit_still_work(daphne_server, team_a, make_user):
    make_user("carol", password="correct-horse-battery")
    # A multipart form, which Twisted no longer parses: Django reads its fields and logs carol in.
    fields = {"username": "carol", "password": "correct-horse-battery", "csrfmiddlewaretoken": CSRF}
    form = "".join(f"--b0\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n" for k, v in fields.items())
    form_bytes = (form + "--b0--\r\n").encode()
    response = raw_http.send(daphne_server, "POST", "/accounts/login/", {
        "Content-Type": "multipart/form-data; boundary=b0", "Content-Length": str(len(form_bytes)),
        "Cookie": f"csrftoken={CSRF}",
    }, [form_bytes])
    assert response.status == 302, response
    assert "Set-Cookie: sessionid=" in response.head

    chunk = 8 * MB
    query = urlencode({"upload_id": uuid.uuid4().hex, "offset": 0, "total": 2 * chunk, "filename": "log.zip",
                       "name": "Big"})

    def body():
        yield b"PK\x03\x04"  # a zip starts so
        yield from raw_http.zeros(chunk - 4)

    response = raw_http.send(daphne_server, "POST", f"/teams/{team_a.slug}/datasets/upload/chunk/?{query}", {
        "Content-Type": "application/octet-stream", "Content-Length": str(chunk),
        "Cookie": _session_cookie(team_a.captain), "X-CSRFToken": CSRF,
    }, body())
    assert response.status == 200, response
    assert json.loads(response.body)["received"] == chunk
