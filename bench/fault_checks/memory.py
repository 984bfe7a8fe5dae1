"""Memory and responsiveness of the web server under one huge request, against a real Daphne
(`python -m webapp.server`, the one `make run` and docker-compose serve with) and Redis.

Self-contained: an embedded Redis, a temporary var directory with a migrated SQLite database, one
web server subprocess; traffic only to 127.0.0.1; everything is stopped at the end.

One anonymous `multipart/form-data` POST of 300 MB to /leagues/ is streamed from a generator over
a raw socket (the bench never holds it), while /api/v1/health/ is asked again and again:

  rss_growth_mb_300mb_post     the server's RSS (its processes together) 2 s after the POST minus
                               before it (target <= 50)
  rss_peak_growth_mb           the highest RSS seen while it was sent, minus before
  health_p99_ms_under_upload   p99 of /api/v1/health/ while the POST is sent (target < 500); health
                               is asked for at least HEALTH_MIN_S, however fast the POST is answered
  post_status, post_sent_mb, post_answered_ms
                               what the server answered (413), how much of the body the sockets took
                               before that, and how long the answer took
  chunked_post_status          the same body sent with Transfer-Encoding: chunked

`python bench/fault_checks/memory.py` prints `RESULT {json}`; `--server daphne` measures plain
Daphne instead (the figures before the fix: several GB, and the POST is read in full).
"""

from __future__ import annotations

import contextlib
import json
import select
import socket
import statistics
import sys
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
sys.path.insert(0, str(ROOT))

from bench.fault_checks.stack import BenchStack  # noqa: E402  (after the path fix above)

MB = 1024 * 1024
POST_BYTES = 300 * MB
HEALTH_MIN_S = 3.0
SETTLE_S = 2.0
PIECE = 64 * 1024
BOUNDARY = "pitlanebench"


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def _health_ms(port: int) -> float:
    started = time.perf_counter()
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/health/", timeout=60) as response:
        response.read()
        if response.status != 200:
            raise RuntimeError(f"health answered {response.status}")
    return (time.perf_counter() - started) * 1000


def _big_post(port: int, chunked: bool) -> dict:
    """Stream POST_BYTES of multipart body to /leagues/; stop when the server answers or closes."""
    head = (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.zip\"\r\n"
            f"Content-Type: application/zip\r\n\r\n").encode()
    tail = f"\r\n--{BOUNDARY}--\r\n".encode()
    block = b"\0" * PIECE

    def pieces():
        yield head
        for _ in range(POST_BYTES // PIECE):
            yield block
        yield tail

    headers = f"POST /leagues/ HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
    headers += f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n"
    length = len(head) + POST_BYTES + len(tail)
    headers += "Transfer-Encoding: chunked\r\n" if chunked else f"Content-Length: {length}\r\n"
    sock = socket.create_connection(("127.0.0.1", port), timeout=120)
    sent, started = 0, time.perf_counter()
    try:
        sock.sendall((headers + "\r\n").encode())
        try:
            for piece in pieces():
                if select.select([sock], [], [], 0)[0]:
                    break
                sock.sendall(f"{len(piece):x}\r\n".encode() + piece + b"\r\n" if chunked else piece)
                sent += len(piece)
            if chunked and not select.select([sock], [], [], 0)[0]:
                sock.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        answer = b""
        try:
            while b"\r\n" not in answer:
                piece = sock.recv(4096)
                if not piece:
                    break
                answer += piece
        except ConnectionResetError:
            pass
        status = int(answer.split()[1]) if answer.startswith(b"HTTP/") else None
        return {"status": status, "sent_mb": round(sent / MB, 1),
                "answered_ms": round((time.perf_counter() - started) * 1000, 1)}
    finally:
        sock.close()


def _rss_mb(pid: int) -> float:
    """The RSS of the server process and its children (the server processes behind the port when
    PITLANE_WEB_PROCESSES is above 1)."""
    import psutil

    process = psutil.Process(pid)
    total = 0
    for each in [process, *process.children(recursive=True)]:
        with contextlib.suppress(psutil.NoSuchProcess):
            total += each.memory_info().rss
    return total / MB


def measure(server_module: str = "webapp.server") -> dict:
    with BenchStack("memory", DEBUG="0") as stack:
        stack.redis.start()
        stack.migrate()
        stack.start_server(server_module)
        for _ in range(20):  # warm-up: imports, the database and Redis connections
            _health_ms(stack.port)
        time.sleep(SETTLE_S)
        before = _rss_mb(stack.server.pid)

        latencies: list[float] = []
        peak = [before]
        post_done = threading.Event()
        post: dict = {}

        def send():
            post.update(_big_post(stack.port, chunked=False))
            post_done.set()

        def watch_rss():
            while not post_done.is_set():
                peak[0] = max(peak[0], _rss_mb(stack.server.pid))
                time.sleep(0.05)

        sender, watcher = threading.Thread(target=send), threading.Thread(target=watch_rss)
        started = time.monotonic()
        sender.start()
        watcher.start()
        while not post_done.is_set() or time.monotonic() - started < HEALTH_MIN_S:
            latencies.append(_health_ms(stack.port))
        sender.join()
        watcher.join()
        time.sleep(SETTLE_S)
        after = _rss_mb(stack.server.pid)
        chunked = _big_post(stack.port, chunked=True)
        return {
            "server": server_module,
            "server_processes": int(stack.env()["PITLANE_WEB_PROCESSES"]),
            "rss_before_mb": round(before, 1),
            "rss_growth_mb_300mb_post": round(after - before, 1),
            "rss_peak_growth_mb": round(max(peak[0], after) - before, 1),
            "health_p99_ms_under_upload": round(_percentile(latencies, 99), 1),
            "health_p50_ms_under_upload": round(statistics.median(latencies), 1),
            "health_samples": len(latencies),
            "post_status": post.get("status"),
            "post_sent_mb": post.get("sent_mb"),
            "post_answered_ms": post.get("answered_ms"),
            "chunked_post_status": chunked["status"],
            "chunked_post_sent_mb": chunked["sent_mb"],
        }


if __name__ == "__main__":
    module = sys.argv[sys.argv.index("--server") + 1] if "--server" in sys.argv else "webapp.server"
    print("RESULT " + json.dumps(measure(module)), flush=True)
