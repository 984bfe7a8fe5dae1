"""`make run`: the whole platform on one machine.

Starts (or reuses) the embedded Redis, migrates the SQLite database, seeds the demo league,
then runs two Celery workers, as docker-compose does (`WORKERS`): one for training, and one for
short work (dataset ingestion, evaluation, and the maintenance queue's reaper and purges, with
beat), so an evaluation never waits in the queue behind a grid search; and Daphne on
http://127.0.0.1:8000. Ctrl-C (or SIGINT, SIGTERM) stops everything; a second run reuses the
database, the media and the embedded Redis' data (kept in PITLANE_VAR_DIR/redis, so queued jobs
survive a restart).

A worker that exits (crashed, killed, out of memory) is started again after a back-off that
doubles up to a minute, while the web server and the other worker keep going; if the web server
exits, everything stops. DEBUG is off, as in production (whitenoise serves the collected static files); set
PITLANE_DEBUG=1 (or DEBUG=1) for Django's debug pages. The web server runs one process per core
(at most 4) behind the one port; PITLANE_WEB_PROCESSES=N chooses (webapp/server.py).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from webapp.embedded_redis import EmbeddedRedis, port_answers
from webapp.env import env_int
from webapp.server import WEB_PROCESSES_ENV, auto_web_processes

ROOT = Path(__file__).resolve().parent.parent
REDIS_PORT = env_int("PITLANE_REDIS_PORT", 6390, minimum=1)
HOST = os.environ.get("PITLANE_HOST", "127.0.0.1")
PORT = env_int("PITLANE_PORT", 8000, minimum=1)
#: Seconds before a worker that exited is started again: doubles after each quick exit, up to the
#: maximum; a worker that ran for WORKER_HEALTHY_AFTER_S starts the next back-off from the minimum.
WORKER_BACKOFF_MIN_S, WORKER_BACKOFF_MAX_S, WORKER_HEALTHY_AFTER_S = 1.0, 60.0, 60.0




@dataclass(frozen=True)
class WorkerPlan:
    """One Celery worker `make run` starts: its name, the queues it takes, its pool size, and whether
    it runs beat (the reaper's and purges' schedule; exactly one worker does)."""

    name: str
    queues: tuple[str, ...]
    concurrency: int
    beat: bool = False

    def command(self, py: str, var_dir: Path) -> list[str]:
        command = [py, "-m", "celery", "-A", "webapp.celery", "worker", "--loglevel", "INFO",
                   "-Q", ",".join(self.queues), "--concurrency", str(self.concurrency), "-n", f"{self.name}@%h"]
        if self.beat:
            command += ["-B", "--schedule", str(var_dir / "celerybeat-schedule")]
        return command


#: Training takes its own worker (one job at a time, as in docker-compose: a training job already
#: uses every core); short work (dataset ingestion and evaluation, both on the `evaluation` queue,
#: and `maintenance`) has a worker of its own, so it never waits for a training slot.
WORKERS = (
    WorkerPlan("training", ("training",), env_int("PITLANE_TRAINING_CONCURRENCY", 1, minimum=1)),
    WorkerPlan("short", ("evaluation", "maintenance"), env_int("PITLANE_SHORT_CONCURRENCY", 2, minimum=1),
               beat=True),
)


def _run(cmd: list[str], env: dict) -> None:
    subprocess.run(cmd, cwd=ROOT, env=env, check=True)


def _kill_group(process: subprocess.Popen) -> None:
    """What is left of an exited worker's process group (pool children) goes with it."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


class SupervisedWorker:
    """A worker process that is started again, after a back-off, whenever it exits."""

    def __init__(self, plan: WorkerPlan, start):
        self.plan, self._start = plan, start
        self.backoff_s, self.restart_at = WORKER_BACKOFF_MIN_S, None
        self.process: subprocess.Popen = start(plan)
        self.started = time.monotonic()

    def check(self) -> None:
        now = time.monotonic()
        if self.restart_at is None and self.process.poll() is not None:
            _kill_group(self.process)
            if now - self.started >= WORKER_HEALTHY_AFTER_S:
                self.backoff_s = WORKER_BACKOFF_MIN_S
            print(f"The Celery {self.plan.name} worker exited (status {self.process.returncode}); starting it "
                  f"again in {self.backoff_s:.0f} s. The site keeps serving.", file=sys.stderr, flush=True)
            self.restart_at = now + self.backoff_s
            self.backoff_s = min(self.backoff_s * 2, WORKER_BACKOFF_MAX_S)
        if self.restart_at is not None and now >= self.restart_at:
            self.process, self.started, self.restart_at = self._start(self.plan), now, None
            print(f"Celery {self.plan.name} worker started again (pid {self.process.pid}).", file=sys.stderr,
                  flush=True)


def _stop(signum, frame):
    raise KeyboardInterrupt  # `kill`, a closing terminal or SIGINT stops everything as Ctrl-C does


def _stop_children(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            _kill_group(process)
            process.wait()


def main() -> int:
    # SIGINT explicitly: a background job of a non-interactive shell (`make run &` in a script)
    # starts with SIGINT ignored, and Python keeps an ignored SIGINT ignored, so `kill -INT` did
    # nothing. SIGTERM (kill, a closing terminal) stops everything the same way.
    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": os.environ.get("DJANGO_SETTINGS_MODULE", "webapp.settings")}
    if env.get("PITLANE_DEBUG"):
        env["DEBUG"] = env["PITLANE_DEBUG"]  # opt-in debug pages; DEBUG itself is honoured as given
    env.setdefault(WEB_PROCESSES_ENV, str(auto_web_processes()))
    var_dir = Path(env.get("PITLANE_VAR_DIR", ROOT / "var"))  # as webapp.settings reads it
    var_dir.mkdir(parents=True, exist_ok=True)
    redis = None
    if "REDIS_URL" not in env:
        if port_answers(REDIS_PORT):
            print(f"Reusing the Redis already answering on 127.0.0.1:{REDIS_PORT}")
        else:
            redis = EmbeddedRedis(REDIS_PORT, data_dir=var_dir / "redis").start()
            print(f"Embedded Redis on {redis.url}")
        env["REDIS_URL"] = f"redis://127.0.0.1:{REDIS_PORT}/0"
    py = sys.executable
    workers: list[SupervisedWorker] = []
    web: subprocess.Popen | None = None

    def start_worker(plan: WorkerPlan) -> subprocess.Popen:
        return subprocess.Popen(plan.command(py, var_dir), cwd=ROOT, env=env, start_new_session=True)

    try:
        _run([py, "manage.py", "migrate", "--no-input"], env)
        _run([py, "manage.py", "collectstatic", "--no-input", "-v", "0"], env)
        _run([py, "manage.py", "seed_demo"], env)
        for plan in WORKERS:
            workers.append(SupervisedWorker(plan, start_worker))
        web = subprocess.Popen(
            [py, "-m", "webapp.server", "-b", HOST, "-p", str(PORT), "webapp.asgi:application"],
            cwd=ROOT, env=env, start_new_session=True,
        )
        print(f"\nPitlane is running on http://{HOST}:{PORT}/  (admin: /admin/, API: /api/v1/; "
              f"{env[WEB_PROCESSES_ENV]} web server processes; workers: "
              f"{', '.join(f'{w.name} ({w.concurrency})' for w in WORKERS)}). Ctrl-C stops it.\n", flush=True)
        while web.poll() is None:
            time.sleep(0.5)
            for worker in workers:
                worker.check()
        print("The web server exited; stopping the others.", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nStopping Pitlane...", flush=True)
        return 0
    finally:
        # A second Ctrl-C must not cut the shutdown short and leave processes behind.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        _stop_children([w.process for w in workers] + ([web] if web is not None else []))
        if redis:
            redis.stop()


if __name__ == "__main__":
    sys.exit(main())
