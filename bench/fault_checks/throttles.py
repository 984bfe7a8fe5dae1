"""Limits on what users send, part one: login throttling and chunked uploads, against a real web
server (`python -m webapp.server`, Daphne behind the body limit, or plain Daphne where that module
is absent) and Redis.

Self-contained: an embedded Redis, a temporary var directory with a migrated SQLite database (two
users, one team), one web server subprocess; traffic only to 127.0.0.1 (the second client address
is 127.0.0.2, on the same loopback); everything is stopped and removed at the end.

  login_wrong_answered             of WRONG_LOGINS wrong passwords for one account, how many were
                                   answered with the login form before the lockout (the outside
                                   test: all 100; target: AXES_FAILURE_LIMIT - 1)
  login_right_after_lockout        status for the right password right after (target 429)
  admin_login_right_after_lockout  the same through /admin/login/ (target 429)
  login_other_address_other_user   status for another account from 127.0.0.2 (target 302)
  race_rounds, race_answers        ROUNDS rounds of RACERS parallel chunks of CHUNK_MB at the same
                                   offset of one upload: the answers by status (200 or 409)
  race_corrupted_uploads           uploads whose bytes on disk differ from what was sent, or that
                                   were thrown away (target 0)
  negative_offset_status, total_shrink_status, non_zip_status, over_limit_status
                                   400, 409, 400 and 413 expected
  gb8_announcements_taken          of three 8 GB announcements with 4 bytes, how many were taken
                                   (target 2: the team quota is 16 GB of unfinished uploads)
  chunk_8mb_p50_ms                 median time to append one 8 MB chunk (sequential upload)

`python bench/fault_checks/throttles.py` prints `RESULT {json}`.
"""

from __future__ import annotations

import http.client
import importlib.util
import json
import os
import statistics
import sys
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent.parent
sys.path.insert(0, str(ROOT))

from bench.fault_checks.stack import BenchStack  # noqa: E402  (after the path fix above)

MB = 1024 * 1024
GB = 1024**3
WRONG_LOGINS = 100
ROUNDS, RACERS, CHUNK_MB = 5, 6, 8
SEQUENTIAL_CHUNKS = 6
CSRF = "d" * 32
PASSWORD = "bench-horse-battery-staple"
SETUP = """
import os
import django; django.setup()
from django.contrib.auth import get_user_model
from webapp.accounts.services import create_team
User = get_user_model()
for name in ("racer", "victim", "other"):
    User.objects.create_user(name, f"{name}@example.com", os.environ["BENCH_PASSWORD"])
print(create_team(user=User.objects.get(username="racer"), name="Bench Racers").slug)
"""


class Stack(BenchStack):
    """The shared bench stack + requests and logins against its web server."""

    def __init__(self) -> None:
        super().__init__("throttles", DEBUG="0")

    def start(self) -> str:
        self.redis.start()
        self.migrate()
        slug = self.run_python(SETUP, env_extra={"BENCH_PASSWORD": PASSWORD}).strip().splitlines()[-1]
        self.start_server("webapp.server" if importlib.util.find_spec("webapp.server") else "daphne")
        return slug

    def request(self, method: str, path: str, body: bytes = b"", headers: dict | None = None,
                source: str = "127.0.0.1") -> tuple[int, dict, bytes]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60, source_address=(source, 0))
        try:
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
        finally:
            connection.close()

    def login(self, username: str, password: str, path: str = "/accounts/login/",
              source: str = "127.0.0.1") -> tuple[int, str]:
        body = urlencode({"username": username, "password": password, "csrfmiddlewaretoken": CSRF}).encode()
        status, headers, _ = self.request("POST", path, body, {
            "Content-Type": "application/x-www-form-urlencoded", "Cookie": f"csrftoken={CSRF}"}, source)
        cookie = headers.get("set-cookie", "")
        session = cookie.split("sessionid=", 1)[1].split(";", 1)[0] if "sessionid=" in cookie else ""
        return status, session


def _chunk(stack: Stack, slug: str, session: str, upload_id: str, offset: int, total: int, data: bytes,
           filename: str = "log.zip") -> tuple[int, dict]:
    query = urlencode({"upload_id": upload_id, "offset": offset, "total": total, "filename": filename,
                       "name": "bench"})
    status, _, body = stack.request("POST", f"/teams/{slug}/datasets/upload/chunk/?{query}", data, {
        "Content-Type": "application/octet-stream", "Cookie": f"sessionid={session}; csrftoken={CSRF}",
        "X-CSRFToken": CSRF}, source="127.0.0.3")
    try:
        return status, json.loads(body)
    except ValueError:
        return status, {"body": body[:200].decode("latin-1")}


def _give_up(stack: Stack, slug: str, session: str, upload_id: str) -> None:
    stack.request("DELETE", f"/teams/{slug}/datasets/upload/chunk/?upload_id={upload_id}", b"", {
        "Cookie": f"sessionid={session}; csrftoken={CSRF}", "X-CSRFToken": CSRF}, source="127.0.0.3")


def _uploads(stack: Stack, slug: str, session: str) -> dict:
    figures: dict = {}
    # Races: RACERS requests at once, all at the same offset of one upload.
    answers: dict[str, int] = {}
    corrupted = 0
    for _ in range(ROUNDS):
        upload_id = uuid.uuid4().hex
        first = b"PK\x03\x04" + os.urandom(MB - 4)
        piece = os.urandom(CHUNK_MB * MB)
        total = len(first) + len(piece) + MB  # one more chunk would finish it: the race is mid-upload
        status, body = _chunk(stack, slug, session, upload_id, 0, total, first)
        if status != 200:
            raise RuntimeError(f"the first chunk was refused: {status} {body}")
        barrier = threading.Barrier(RACERS)
        statuses: list[int] = []

        def race(barrier=barrier, upload_id=upload_id, total=total, piece=piece, first=first, statuses=statuses):
            barrier.wait()
            statuses.append(_chunk(stack, slug, session, upload_id, len(first), total, piece)[0])

        threads = [threading.Thread(target=race) for _ in range(RACERS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        for status in statuses:
            answers[str(status)] = answers.get(str(status), 0) + 1
        part = stack.var_dir / "uploads" / "incoming" / "chunked"
        found = list(part.glob(f"*/{upload_id}.part"))  # gone: the upload was thrown away
        corrupted += not found or found[0].read_bytes() != first + piece
        _give_up(stack, slug, session, upload_id)  # the team quota counts unfinished uploads
    figures.update(race_rounds=ROUNDS, race_racers=RACERS, race_answers=answers, race_corrupted_uploads=corrupted)

    upload_id = uuid.uuid4().hex
    figures["negative_offset_status"] = _chunk(stack, slug, session, upload_id, -100, 1000, b"PK\x03\x04")[0]
    _chunk(stack, slug, session, upload_id, 0, 100_000, b"PK\x03\x04" + b"x" * 996)
    figures["total_shrink_status"] = _chunk(stack, slug, session, upload_id, 1000, 2000, b"x" * 1000)[0]
    figures["non_zip_status"] = _chunk(stack, slug, session, uuid.uuid4().hex, 0, 10 * MB, b"<html>" * 100)[0]
    figures["over_limit_status"] = _chunk(stack, slug, session, uuid.uuid4().hex, 0, 8 * GB + 1, b"PK\x03\x04")[0]
    _give_up(stack, slug, session, upload_id)
    ids = [uuid.uuid4().hex for _ in range(3)]
    figures["gb8_announcements_taken"] = sum(
        _chunk(stack, slug, session, upload_id, 0, 8 * GB, b"PK\x03\x04")[0] == 200 for upload_id in ids)
    for upload_id in ids:
        _give_up(stack, slug, session, upload_id)

    # Sequential 8 MB chunks of one upload (never finished, so nothing is ingested).
    upload_id, chunk = uuid.uuid4().hex, b"PK\x03\x04" + os.urandom(8 * MB - 4)
    times = []
    for k in range(SEQUENTIAL_CHUNKS):
        started = time.perf_counter()
        status, _ = _chunk(stack, slug, session, upload_id, k * len(chunk), (SEQUENTIAL_CHUNKS + 1) * len(chunk),
                           chunk)
        times.append((time.perf_counter() - started) * 1000)
        if status != 200:
            figures["chunk_8mb_error_status"] = status
            break
    figures["chunk_8mb_p50_ms"] = round(statistics.median(times), 1)
    return figures


def _logins(stack: Stack) -> dict:
    answered = 0
    for _ in range(WRONG_LOGINS):
        status, _ = stack.login("victim", "wrong-password")
        if status != 200:
            break
        answered += 1
    return {
        "login_wrong_answered": answered,
        "login_right_after_lockout": stack.login("victim", PASSWORD)[0],
        "admin_login_right_after_lockout": stack.login("victim", PASSWORD, path="/admin/login/")[0],
        "login_other_address_other_user": stack.login("other", PASSWORD, source="127.0.0.2")[0],
    }


def measure() -> dict:
    with Stack() as stack:
        slug = stack.start()
        status, session = stack.login("racer", PASSWORD, source="127.0.0.3")
        if status != 302 or not session:
            raise RuntimeError(f"the bench user could not log in ({status})")
        figures = _uploads(stack, slug, session)
        figures.update(_logins(stack))
        return figures


if __name__ == "__main__":
    print("RESULT " + json.dumps(measure()))
