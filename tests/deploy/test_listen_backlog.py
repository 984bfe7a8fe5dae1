"""Hundreds of browsers connecting at once (every open tab's job socket reconnects after a restart
or a network blip) are all queued by the kernel, not dropped.

Twisted listens with a backlog of 50 by default: while the event loop is busy, the 51st connection
attempt onwards gets no answer and the client retries its SYN after a second (then 3 s, 7 s...),
which was most of the connect-to-snapshot tail with 200 sockets. The web server is stopped
(SIGSTOP) here so that it accepts nothing; the kernel still completes handshakes up to the backlog.
"""

from __future__ import annotations

import os
import selectors
import signal
import socket
import subprocess
import sys
import time

from tests.support.paths import ROOT
from webapp.embedded_redis import free_port

CONNECTIONS = 200


def _open_at_once(port: int, count: int, wait_s: float) -> int:
    """Start `count` non-blocking connects; answer how many completed their handshake."""
    selector = selectors.DefaultSelector()
    sockets = []
    for _ in range(count):
        sock = socket.socket()
        sock.setblocking(False)
        sock.connect_ex(("127.0.0.1", port))
        selector.register(sock, selectors.EVENT_WRITE)
        sockets.append(sock)
    connected = 0
    deadline = time.monotonic() + wait_s
    try:
        while connected < count and time.monotonic() < deadline:
            for key, _ in selector.select(timeout=max(0.0, deadline - time.monotonic())):
                selector.unregister(key.fileobj)
                if key.fileobj.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0:
                    connected += 1
    finally:
        for sock in sockets:
            sock.close()
        selector.close()
    return connected


def test_web_server_queues_200_simultaneous_connections():
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "webapp.server", "-b", "127.0.0.1", "-p", str(port), "webapp.asgi:application"],
        cwd=ROOT, env={**os.environ, "PYTHONUNBUFFERED": "1"}, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, "web server did not start"
                time.sleep(0.2)
        os.killpg(server.pid, signal.SIGSTOP)  # busy: it accepts nothing until SIGCONT
        try:
            # A dropped SYN is retried only after 1 s: within 0.8 s only queued ones complete.
            connected = _open_at_once(port, CONNECTIONS, wait_s=0.8)
        finally:
            os.killpg(server.pid, signal.SIGCONT)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=20)
    assert connected == CONNECTIONS
