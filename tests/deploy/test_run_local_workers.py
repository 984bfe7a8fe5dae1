"""`make run`'s worker plan and how it stops.

Short work (dataset ingestion and evaluation on the `evaluation` queue, the reaper and purges on
`maintenance`) has a worker of its own, so it never waits behind training (a 25 s evaluation
used to wait 97 s behind a two-run grid search: one worker, two slots, every queue). And
`make run` started in the background of a script, where SIGINT starts out ignored, stops every
process it started on SIGINT.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings

from tests.deploy.test_run_local import children, get
from tests.support.paths import ROOT
from tests.support.waiting import wait_for
from webapp.celery import app
from webapp.embedded_redis import free_port
from webapp.run_local import WORKERS


def queues_of(command: list[str]) -> set[str]:
    return set(command[command.index("-Q") + 1].split(","))


def test_training_has_a_worker_of_its_own_and_short_work_never_shares_its_slots():
    commands = [worker.command("python", Path("/var")) for worker in WORKERS]
    served = [queues_of(command) for command in commands]
    every_queue = {queue.name for queue in app.conf.task_queues}
    assert sorted(q for queues in served for q in queues) == sorted(every_queue)  # each exactly once
    training = [queues for queues in served if "training" in queues]
    assert training == [{"training"}]
    short_queues = {settings.PITLANE_JOB_KINDS[kind]["queue"] for kind in ("datasets.ingest", "evaluation")}
    assert short_queues == {"evaluation"}
    assert any(short_queues | {"maintenance"} <= queues for queues in served)
    # Beat (the reaper's schedule) runs in exactly one worker, and not behind training.
    beats = [queues for command, queues in zip(commands, served, strict=True) if "-B" in command]
    assert beats == [{"evaluation", "maintenance"}]
    assert len({command[command.index("-n") + 1] for command in commands}) == len(commands)  # distinct names


def descendants(pid: int) -> dict[int, str]:
    found, frontier = {}, [pid]
    while frontier:
        for child, cmd in children(frontier.pop()).items():
            found[child] = cmd
            frontier.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # as `make run &` in a non-interactive shell


@pytest.mark.worker
def test_sigint_stops_make_run_started_with_sigint_ignored_and_all_it_started(tmp_path):
    port, redis_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items()
           if k not in {"REDIS_URL", "DEBUG", "PITLANE_DEBUG", "DJANGO_SETTINGS_MODULE", "PITLANE_TEST_DB_NAME"}}
    env.update(PITLANE_VAR_DIR=str(tmp_path / "var"), PITLANE_PORT=str(port), PITLANE_REDIS_PORT=str(redis_port),
               PYTHONUNBUFFERED="1", PITLANE_WEB_PROCESSES="1")
    log_path = tmp_path / "run_local.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen([sys.executable, "-m", "webapp.run_local"], cwd=ROOT, env=env, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=_ignore_sigint)
    started: dict[int, str] = {}
    try:
        def serving() -> bool:
            if process.poll() is not None:
                raise AssertionError(f"run_local exited:\n{log_path.read_text()[-3000:]}")
            try:
                return get(f"http://127.0.0.1:{port}/api/v1/health/")[0] == 200
            except OSError:
                return False

        wait_for(serving, timeout_s=240, interval_s=1, message="make run to serve")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/favicon.ico", timeout=10) as icon:
            # The root icon path leads to the static file, served locally (no 404 in browser logs).
            assert icon.status == 200 and icon.url.endswith("/static/img/favicon.ico")
            assert icon.read(4) == b"\x00\x00\x01\x00"  # an ICO header

        def both_workers() -> dict[int, str] | None:
            workers = {pid: cmd for pid, cmd in children(process.pid).items() if " celery " in cmd}
            return workers if len(workers) == 2 else None

        workers = wait_for(both_workers, timeout_s=30, message="two celery workers")
        assert sorted(" -Q training " in cmd for cmd in workers.values()) == [False, True]
        assert any(" -Q evaluation,maintenance " in cmd and " -B " in cmd for cmd in workers.values())
        started = descendants(process.pid)
        assert any("redis-server" in cmd for cmd in started.values())
        assert any("webapp.server" in cmd for cmd in started.values())

        os.kill(process.pid, signal.SIGINT)
        process.wait(timeout=90)  # before the fix SIGINT stayed ignored and this timed out
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and any(alive(pid) for pid in started):
            time.sleep(0.5)
        left = {pid: cmd for pid, cmd in started.items() if alive(pid)}
        assert not left, f"still running after SIGINT: {left}"
        assert "Stopping Pitlane" in log_path.read_text()
    finally:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        for pid in started:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
