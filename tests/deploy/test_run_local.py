"""`make run` (webapp.run_local) as a person runs it: its own var folder, embedded Redis, worker
and web server. A worker that dies is started again while the site keeps serving; DEBUG is off
unless asked for; the embedded Redis keeps its data across restarts."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import redis

from tests.support.paths import ROOT
from tests.support.waiting import wait_for
from webapp.embedded_redis import EmbeddedRedis, free_port

pytestmark = pytest.mark.worker


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode(errors="replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace")


def children(pid: int) -> dict[int, str]:
    """Processes whose parent is `pid`: pid -> command line."""
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid:
                found[int(stat.parent.name)] = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, IndexError, ValueError):
            continue
    return found


def celery_worker_of(pid: int) -> int | None:
    """The training worker (make run starts a second one, for short work)."""
    return next((child for child, cmd in children(pid).items() if " celery " in cmd and " -Q training " in cmd),
                None)


@pytest.fixture
def make_run(tmp_path):
    port, redis_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items()
           if k not in {"REDIS_URL", "DEBUG", "PITLANE_DEBUG", "DJANGO_SETTINGS_MODULE", "PITLANE_TEST_DB_NAME"}}
    env.update(PITLANE_VAR_DIR=str(tmp_path / "var"), PITLANE_PORT=str(port), PITLANE_REDIS_PORT=str(redis_port),
               PYTHONUNBUFFERED="1")
    log_path = tmp_path / "run_local.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen([sys.executable, "-m", "webapp.run_local"], cwd=ROOT, env=env, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"

    def up():
        if process.poll() is not None:
            raise AssertionError(f"run_local exited:\n{log_path.read_text()[-3000:]}")
        try:
            return get(url + "/api/v1/health/")[0] == 200
        except OSError:
            return False

    try:
        wait_for(up, timeout_s=240, interval_s=1, message="make run to serve")
        yield process, url, log_path, tmp_path / "var"
    finally:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGTERM)  # stops everything, as Ctrl-C does
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)


def test_make_run_hides_debug_pages_and_still_serves_static_files(make_run):
    process, url, log_path, var_dir = make_run
    status, body = get(url + "/no-such-page/")
    assert status == 404
    assert "URLconf" not in body and "api/v1/" not in body  # no list of every URL pattern
    status, body = get(url + "/static/css/pitlane.css")
    assert status == 200 and body.strip()  # static files are still served with DEBUG off


def test_make_run_starts_a_dead_worker_again_and_keeps_serving(make_run):
    process, url, log_path, var_dir = make_run
    first = wait_for(lambda: celery_worker_of(process.pid), timeout_s=30, message="the worker process")
    os.killpg(first, signal.SIGKILL)  # the worker's whole process group, as the outside test did
    second = wait_for(lambda: (pid := celery_worker_of(process.pid)) and pid != first and pid, timeout_s=30,
                      interval_s=0.5, message="a new worker")
    assert process.poll() is None
    assert get(url + "/api/v1/health/")[0] == 200
    assert get(url + "/")[0] == 200
    assert "starting it again" in log_path.read_text()
    assert second != first
    assert (var_dir / "redis").is_dir()  # the embedded Redis keeps its data in the var folder


def test_embedded_redis_with_a_data_folder_keeps_its_data_across_restarts(tmp_path):
    server = EmbeddedRedis(data_dir=tmp_path / "redis").start()
    try:
        redis.Redis.from_url(server.url).rpush("training", b"a queued job's message")
        server.stop()
        server.start()
        assert redis.Redis.from_url(server.url).lrange("training", 0, -1) == [b"a queued job's message"]
    finally:
        server.stop()


def test_embedded_redis_without_one_keeps_nothing(tmp_path):
    server = EmbeddedRedis().start()
    try:
        redis.Redis.from_url(server.url).set("k", "v")
    finally:
        server.stop()
    assert not Path(server.dir).exists()  # `make test`'s throwaway Redis leaves nothing behind
