"""`make run`: the whole platform on one machine.

Starts (or reuses) the embedded Redis, migrates the SQLite database, seeds the demo league,
then runs a Celery worker for both queues (with beat for the stale-job reaper) and Daphne on
http://127.0.0.1:8000. Ctrl-C stops everything; a second run reuses the database, the media and
the embedded Redis' data (kept in PITLANE_VAR_DIR/redis, so queued jobs survive a restart).

A worker that exits (crashed, killed, out of memory) is started again after a back-off that
doubles up to a minute, while the web server keeps serving; if the web server exits, everything
stops. DEBUG is off, as in production (whitenoise serves the collected static files); set
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


def _run(cmd: list[str], env: dict) -> None:
    subprocess.run(cmd, cwd=ROOT, env=env, check=True)


def _worker_command(py: str, var_dir: Path) -> list[str]:
    return [py, "-m", "celery", "-A", "webapp.celery", "worker", "-B", "--loglevel", "INFO",
            "-Q", "training,evaluation,maintenance", "--concurrency", "2", "-n", "local@%h",
            "--schedule", str(var_dir / "celerybeat-schedule")]


def _kill_group(process: subprocess.Popen) -> None:
    """What is left of an exited worker's process group (pool children) goes with it."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


def _stop_on_sigterm(signum, frame):
    raise KeyboardInterrupt  # `kill` or a closing terminal stops everything as Ctrl-C does


def main() -> int:
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
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
    processes: list[subprocess.Popen] = []
    try:
        _run([py, "manage.py", "migrate", "--no-input"], env)
        _run([py, "manage.py", "collectstatic", "--no-input", "-v", "0"], env)
        _run([py, "manage.py", "seed_demo"], env)
        worker = subprocess.Popen(_worker_command(py, var_dir), cwd=ROOT, env=env, start_new_session=True)
        processes.append(worker)
        processes.append(subprocess.Popen(
            [py, "-m", "webapp.server", "-b", HOST, "-p", str(PORT), "webapp.asgi:application"],
            cwd=ROOT, env=env, start_new_session=True,
        ))
        print(f"\nPitlane is running on http://{HOST}:{PORT}/  (admin: /admin/, API: /api/v1/; "
              f"{env[WEB_PROCESSES_ENV]} web server processes). Ctrl-C stops it.\n", flush=True)
        web = processes[1]
        started, backoff_s, restart_at = time.monotonic(), WORKER_BACKOFF_MIN_S, None
        while web.poll() is None:
            time.sleep(0.5)
            if restart_at is None and worker.poll() is not None:
                _kill_group(worker)
                if time.monotonic() - started >= WORKER_HEALTHY_AFTER_S:
                    backoff_s = WORKER_BACKOFF_MIN_S
                print(f"The Celery worker exited (status {worker.returncode}); starting it again in "
                      f"{backoff_s:.0f} s. The site keeps serving.", file=sys.stderr, flush=True)
                restart_at = time.monotonic() + backoff_s
                backoff_s = min(backoff_s * 2, WORKER_BACKOFF_MAX_S)
            if restart_at is not None and time.monotonic() >= restart_at:
                worker = subprocess.Popen(_worker_command(py, var_dir), cwd=ROOT, env=env, start_new_session=True)
                processes[0] = worker
                started, restart_at = time.monotonic(), None
                print(f"Celery worker started again (pid {worker.pid}).", file=sys.stderr, flush=True)
        print("The web server exited; stopping the others.", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nStopping Pitlane...", flush=True)
        return 0
    finally:
        for process in processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        if redis:
            redis.stop()


if __name__ == "__main__":
    sys.exit(main())
