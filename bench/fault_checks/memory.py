"""Memory and responsiveness of the web server under one huge request, against a real Daphne
(`python -m webapp.server`, the one `make run` and docker-compose serve with) and Redis.

Self-contained: an embedded Redis, a temporary var directory with a migrated SQLite database, one
web server subprocess; traffic only to 127.0.0.1; everything is stopped at the end.

One anonymous `multipart/form-data` POST of 300 MB to /leagues/ is streamed from a generator over
a raw socket (the bench never holds it), while /api/v1/health/ is asked again and again:

  rss_growth_mb_300mb_post     the server's RSS 2 s after the POST minus before it (target <= 50)
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

import json
import os
import select
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
sys.path.insert(0, str(ROOT))

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


class Stack:
    """Embedded Redis + a migrated SQLite database in a temporary var dir + one web server."""

    def __init__(self, server_module: str) -> None:
        self.server_module = server_module
        self.var_dir = Path(tempfile.mkdtemp(prefix="pitlane-bench-memory-"))
        self.redis = None
        self.process: subprocess.Popen | None = None
        self.port = 0

    def env(self) -> dict:
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "PITLANE_TEST_DB_NAME")}
        env.update({"DJANGO_SETTINGS_MODULE": "webapp.settings", "PITLANE_VAR_DIR": str(self.var_dir),
                    "REDIS_URL": self.redis.url, "DEBUG": "0", "PYTHONUNBUFFERED": "1"})
        return env

    def start(self) -> None:
        from webapp.embedded_redis import EmbeddedRedis, free_port

        self.redis = EmbeddedRedis().start()
        subprocess.run([sys.executable, "manage.py", "migrate", "--no-input", "-v", "0"], cwd=ROOT, env=self.env(),
                       check=True, capture_output=True, timeout=180)
        self.port = free_port()
        self.log = open(self.var_dir / "server.log", "w")  # noqa: SIM115 (closed in stop)
        self.process = subprocess.Popen(
            [sys.executable, "-m", self.server_module, "-b", "127.0.0.1", "-p", str(self.port),
             "webapp.asgi:application"],
            cwd=ROOT, env=self.env(), stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 60
        while True:
            try:
                _health_ms(self.port)
                break
            except Exception as exc:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    log = (self.var_dir / "server.log").read_text()[-3000:]
                    raise RuntimeError("server did not start:\n" + log) from exc
                time.sleep(0.2)

    def rss_mb(self) -> float:
        import psutil

        return psutil.Process(self.process.pid).memory_info().rss / MB

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        if getattr(self, "log", None):
            self.log.close()
        if self.redis is not None:
            self.redis.stop()
        shutil.rmtree(self.var_dir, ignore_errors=True)


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


def measure(server_module: str = "webapp.server") -> dict:
    stack = Stack(server_module)
    try:
        stack.start()
        for _ in range(20):  # warm-up: imports, the database and Redis connections
            _health_ms(stack.port)
        time.sleep(SETTLE_S)
        before = stack.rss_mb()

        latencies: list[float] = []
        peak = [before]
        post_done = threading.Event()
        post: dict = {}

        def send():
            post.update(_big_post(stack.port, chunked=False))
            post_done.set()

        def watch_rss():
            while not post_done.is_set():
                peak[0] = max(peak[0], stack.rss_mb())
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
        after = stack.rss_mb()
        chunked = _big_post(stack.port, chunked=True)
        return {
            "server": server_module,
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
    except Exception:
        log = stack.var_dir / "server.log"
        if log.exists():
            print("server log:\n" + log.read_text()[-4000:], file=sys.stderr)
        raise
    finally:
        stack.stop()


if __name__ == "__main__":
    module = sys.argv[sys.argv.index("--server") + 1] if "--server" in sys.argv else "webapp.server"
    print("RESULT " + json.dumps(measure(module)), flush=True)
