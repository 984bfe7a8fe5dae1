"""PITLANE_WEB_PROCESSES=N (webapp/server.py): N Daphne processes accept from one listening socket,
so a burst of connections is spread over N event loops; the parent passes SIGTERM on, and when one
server process dies the others are stopped and the parent exits, so `make run` (which stops
everything when its web server exits) and docker (which restarts the container) see it."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import psutil
import pytest
from django.conf import settings

from tests.conftest import subprocess_env
from tests.support.paths import ROOT
from tests.support.waiting import wait_for
from webapp.embedded_redis import free_port
from webapp.jobs.models import Job
from webapp.server import _tcp_address

pytestmark = pytest.mark.django_db(transaction=True)


def _health(port: int) -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/health/", timeout=10) as response:
        return response.status


@pytest.fixture
def two_processes(tmp_path):
    """`python -m webapp.server` with PITLANE_WEB_PROCESSES=2, serving once health answers."""
    port = free_port()
    log_path = tmp_path / "server.log"
    with open(log_path, "w") as log:
        parent = subprocess.Popen(
            [sys.executable, "-m", "webapp.server", "-b", "127.0.0.1", "-p", str(port), "webapp.asgi:application"],
            cwd=ROOT, env={**subprocess_env(), "PITLANE_WEB_PROCESSES": "2"}, stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True)

    def serving() -> bool:
        if parent.poll() is not None:
            raise AssertionError(f"the server exited:\n{log_path.read_text()[-3000:]}")
        try:
            return _health(port) == 200
        except OSError:
            return False

    try:
        wait_for(serving, timeout_s=90, interval_s=0.3, message="the server processes to answer")
        yield parent, port
    finally:
        if parent.poll() is None:
            os.killpg(parent.pid, signal.SIGKILL)
            parent.wait(timeout=10)


def _servers(parent: subprocess.Popen) -> list[psutil.Process]:
    return psutil.Process(parent.pid).children()


def _listens_on(process: psutil.Process, port: int) -> bool:
    return any(c.status == psutil.CONN_LISTEN and c.laddr.port == port for c in process.net_connections("tcp"))


def test_two_processes_share_the_port_and_serve_pages_limits_and_job_sockets(two_processes, client, team_a):
    parent, port = two_processes
    servers = _servers(parent)
    assert len(servers) == 2
    assert all(_listens_on(server, port) for server in servers)
    assert not _listens_on(psutil.Process(parent.pid), port)  # the parent handed its socket over

    # The body limit holds in every server process: refused (413) as soon as the length is known.
    for _ in range(4):
        with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
            raw.sendall(f"POST /leagues/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream\r\n"
                        f"Content-Length: {settings.PITLANE_MAX_REQUEST_BYTES + 1}\r\n\r\n".encode())
            assert raw.recv(64).startswith(b"HTTP/1.1 413")

    import websockets

    job = Job.objects.create(team=team_a, kind="test.countdown", progress=30, status=Job.Status.RUNNING)
    client.force_login(team_a.captain)
    cookie = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
    origin = f"http://127.0.0.1:{port}"

    async def snapshot() -> list[int]:
        async with websockets.connect(f"ws://127.0.0.1:{port}/ws/jobs/", origin=origin,
                                      additional_headers={"Cookie": cookie}, open_timeout=30) as ws:
            message = json.loads(await asyncio.wait_for(ws.recv(), 30))
            assert message["type"] == "snapshot"
            return [j["id"] for j in message["jobs"]]

    async def many() -> list[list[int]]:
        return list(await asyncio.gather(*(snapshot() for _ in range(20))))

    assert all(ids == [job.pk] for ids in asyncio.run(many()))


def test_sigterm_stops_every_server_process(two_processes):
    parent, port = two_processes
    servers = _servers(parent)
    parent.send_signal(signal.SIGTERM)
    assert parent.wait(timeout=30) == 0
    gone, alive = psutil.wait_procs(servers, timeout=10)
    assert not alive
    with pytest.raises(OSError):
        _health(port)


def test_a_server_process_that_dies_stops_the_others_and_the_parent(two_processes):
    parent, port = two_processes
    dead, other = _servers(parent)
    dead.kill()  # as the kernel's OOM killer would
    assert parent.wait(timeout=30) != 0
    gone, alive = psutil.wait_procs([other], timeout=10)
    assert not alive
    started = time.monotonic()
    with pytest.raises(OSError):
        _health(port)
    assert time.monotonic() - started < 10  # refused, not left hanging in a backlog nobody accepts


def test_several_processes_serve_an_ipv4_address_only():
    assert _tcp_address(["-b", "0.0.0.0", "-p", "8000", "webapp.asgi:application"]) == ("0.0.0.0", 8000)
    assert _tcp_address(["webapp.asgi:application"]) == ("127.0.0.1", 8000)  # Daphne's defaults
    for argv in (["-u", "/tmp/pitlane.sock", "webapp.asgi:application"], ["--fd", "3", "webapp.asgi:application"],
                 ["-b", "::1", "-p", "8000", "webapp.asgi:application"]):
        with pytest.raises(SystemExit, match="IPv4 address"):
            _tcp_address(argv)
