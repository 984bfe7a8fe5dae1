"""`make run`: the whole platform on one machine.

Starts (or reuses) the embedded Redis, migrates the SQLite database, seeds the demo league,
then runs a Celery worker for both queues (with beat for the stale-job reaper) and Daphne on
http://127.0.0.1:8000. Ctrl-C stops everything; a second run reuses the database and media.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from webapp.embedded_redis import EmbeddedRedis, port_answers
from webapp.env import env_int

ROOT = Path(__file__).resolve().parent.parent
REDIS_PORT = env_int("PITLANE_REDIS_PORT", 6390, minimum=1)
HOST = os.environ.get("PITLANE_HOST", "127.0.0.1")
PORT = env_int("PITLANE_PORT", 8000, minimum=1)


def _run(cmd: list[str], env: dict) -> None:
    subprocess.run(cmd, cwd=ROOT, env=env, check=True)


def _stop_on_sigterm(signum, frame):
    raise KeyboardInterrupt  # `kill` or a closing terminal stops everything as Ctrl-C does


def main() -> int:
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": os.environ.get("DJANGO_SETTINGS_MODULE", "webapp.settings")}
    env.setdefault("DEBUG", "1")
    var_dir = Path(env.get("PITLANE_VAR_DIR", ROOT / "var"))  # as webapp.settings reads it
    var_dir.mkdir(parents=True, exist_ok=True)
    redis = None
    if "REDIS_URL" not in env:
        if port_answers(REDIS_PORT):
            print(f"Reusing the Redis already answering on 127.0.0.1:{REDIS_PORT}")
        else:
            redis = EmbeddedRedis(REDIS_PORT).start()
            print(f"Embedded Redis on {redis.url}")
        env["REDIS_URL"] = f"redis://127.0.0.1:{REDIS_PORT}/0"
    py = sys.executable
    processes: list[subprocess.Popen] = []
    try:
        _run([py, "manage.py", "migrate", "--no-input"], env)
        _run([py, "manage.py", "collectstatic", "--no-input", "-v", "0"], env)
        _run([py, "manage.py", "seed_demo"], env)
        processes.append(subprocess.Popen(
            [py, "-m", "celery", "-A", "webapp.celery", "worker", "-B", "--loglevel", "INFO",
             "-Q", "training,evaluation,maintenance", "--concurrency", "2", "-n", "local@%h",
             "--schedule", str(var_dir / "celerybeat-schedule")],
            cwd=ROOT, env=env, start_new_session=True,
        ))
        processes.append(subprocess.Popen(
            [py, "-m", "daphne", "-b", HOST, "-p", str(PORT), "webapp.asgi:application"],
            cwd=ROOT, env=env, start_new_session=True,
        ))
        print(f"\nPitlane is running on http://{HOST}:{PORT}/  (admin: /admin/, API: /api/v1/). Ctrl-C stops it.\n",
              flush=True)
        while all(p.poll() is None for p in processes):
            time.sleep(0.5)
        print("A Pitlane process exited; stopping the others.", file=sys.stderr)
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
