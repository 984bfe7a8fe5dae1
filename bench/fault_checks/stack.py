"""What every fault check starts and stops: a temporary var directory (PITLANE_VAR_DIR, so a fresh
SQLite database), an embedded Redis that keeps nothing on disk, and a web server and/or Celery
worker subprocess, each in its own session with a log file in the var directory. The web server
runs as many processes as `make run`'s (PITLANE_WEB_PROCESSES, webapp.server.auto_web_processes)
unless the environment says otherwise.

    with BenchStack("jobs", settings="webapp.settings_test") as stack:
        stack.redis.start()
        stack.migrate()
        stack.start_worker("evaluation", "bench@%h")
        port = stack.start_server()
        ...
    # on leaving: process groups SIGTERM, then SIGKILL; Redis stopped; var directory removed
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from webapp.embedded_redis import EmbeddedRedis, free_port  # noqa: E402  (after the path fix above)
from webapp.server import WEB_PROCESSES_ENV, auto_web_processes  # noqa: E402

#: Environment variables that would point a subprocess away from the bench's own database and Redis.
_DROPPED_ENV = ("DATABASE_URL", "PITLANE_TEST_DB_NAME", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND")


def tagged_json(stdout: str, tag: str) -> dict | None:
    """The JSON after `TAG ` on the last stdout line that starts with it (None if there is none)."""
    lines = [line for line in stdout.splitlines() if line.startswith(tag + " ")]
    return json.loads(lines[-1][len(tag) + 1:]) if lines else None


def _end(process: subprocess.Popen | None, grace_s: float) -> None:
    """SIGTERM the process group of a still running process, SIGKILL it after grace_s."""
    if process is None or process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


class BenchStack:
    """A temporary var directory + an embedded Redis (not started yet) + optional server and worker."""

    def __init__(self, name: str, settings: str = "webapp.settings", **extra_env: str) -> None:
        self.var_dir = Path(tempfile.mkdtemp(prefix=f"pitlane-bench-{name}-"))
        self.redis = EmbeddedRedis(free_port())
        self.settings = settings
        self.extra_env = extra_env
        self.server: subprocess.Popen | None = None
        self.server_log = self.var_dir / "server.log"
        self.port = 0
        self.worker: subprocess.Popen | None = None
        self.worker_log = self.var_dir / "worker.log"
        self._logs: list = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self, **extra: str) -> dict:
        """The environment for every subprocess: the bench's var directory, settings and Redis."""
        env = {k: v for k, v in os.environ.items() if k not in _DROPPED_ENV}
        env.setdefault(WEB_PROCESSES_ENV, str(auto_web_processes()))  # as `make run` serves
        env.update({"DJANGO_SETTINGS_MODULE": self.settings, "PITLANE_VAR_DIR": str(self.var_dir),
                    "REDIS_URL": self.redis.url, "PYTHONUNBUFFERED": "1"})
        env.update(self.extra_env)
        env.update(extra)
        return env

    def migrate(self) -> None:
        subprocess.run([sys.executable, "manage.py", "migrate", "--no-input", "-v", "0"], cwd=ROOT, env=self.env(),
                       check=True, capture_output=True, timeout=180)

    def run_python(self, code: str, *args: str, env_extra: dict | None = None, timeout: float = 120) -> str:
        """Run `python -c code args` with Django's environment; its stdout (RuntimeError if it failed)."""
        run = subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, env=self.env(**(env_extra or {})),
                             capture_output=True, text=True, timeout=timeout)
        if run.returncode != 0:
            raise RuntimeError(f"python subprocess failed ({run.returncode}):\n{run.stdout[-2000:]}\n"
                               f"{run.stderr[-3000:]}")
        return run.stdout

    def _spawn(self, argv: list[str], log_path: Path) -> subprocess.Popen:
        log = open(log_path, "w")  # noqa: SIM115 (closed in stop)
        self._logs.append(log)
        return subprocess.Popen(argv, cwd=ROOT, env=self.env(), stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)

    def start_server(self, module: str = "webapp.server", timeout_s: float = 60) -> int:
        """Start `python -m module` on a free port; return the port once /api/v1/health/ answers 200.
        (`webapp.server` with PITLANE_WEB_PROCESSES above 1 is a parent process and its servers.)"""
        self.port = free_port()
        self.server = self._spawn([sys.executable, "-m", module, "-b", "127.0.0.1", "-p", str(self.port),
                                   "webapp.asgi:application"], self.server_log)
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/api/v1/health/", timeout=2) as response:
                    if response.status == 200:
                        return self.port
            except OSError:
                pass
            if self.server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{module} did not start:\n{self.server_log.read_text()[-3000:]}")
            time.sleep(0.2)

    def start_worker(self, queues: str, name: str, *args: str, log_name: str = "worker.log",
                     timeout_s: float = 90) -> subprocess.Popen:
        """Start a Celery worker on the queues (extra command-line args after); wait for "ready."."""
        self.worker_log = self.var_dir / log_name
        self.worker = self._spawn(
            [sys.executable, "-m", "celery", "-A", "webapp.celery", "worker", "-Q", queues, "-n", name,
             "--loglevel", "INFO", "--without-gossip", "--without-mingle", *args], self.worker_log)
        deadline = time.monotonic() + timeout_s
        while "ready." not in self.worker_log.read_text():
            if self.worker.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"celery worker did not start:\n{self.worker_log.read_text()[-3000:]}")
            time.sleep(0.2)
        return self.worker

    def kill_worker(self) -> None:
        """SIGKILL the worker's whole process group (what is left of it, if it exited)."""
        if self.worker is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.worker.pid, signal.SIGKILL)
            self.worker.wait(timeout=10)

    def __enter__(self) -> BenchStack:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        """Stop everything; on a failure, first show the tail of the web server's log."""
        if exc is not None and self.server_log.exists():
            print("server log:\n" + self.server_log.read_text()[-4000:], file=sys.stderr)
        self.stop()

    def stop(self) -> None:
        _end(self.server, grace_s=10)
        _end(self.worker, grace_s=20)
        for log in self._logs:
            log.close()
        self._logs.clear()
        self.redis.stop()
        shutil.rmtree(self.var_dir, ignore_errors=True)
