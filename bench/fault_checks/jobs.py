"""Lost jobs under faults, against a real Celery worker (with beat, as `make run` runs it) and Redis.

Self-contained: a temporary var directory with a migrated SQLite database (one team), an embedded
Redis that keeps nothing on disk (so a restart comes back empty: the worst case), Celery worker
subprocesses; only 127.0.0.1; everything is stopped at the end. The settings are the test settings
(`webapp.settings_test`: the `test.countdown` job kind, a 4 s stale heartbeat, re-dispatch after 3 s);
production's thresholds are 60 s, so recovery there takes about a minute longer, not more.

  jobs_lost_worker_kill  of 10 countdown jobs (2 running, 8 queued), how many did not succeed after
                         the worker's process group got SIGKILL, Redis restarted empty and a new
                         worker started (within RECOVERY_S)
  jobs_lost_redis_down   of 10 jobs submitted while Redis was down, how many did not succeed after
                         Redis came back (the worker is started again if it exited, as run_local does)
  jobs_lost              the sum (target 0)
  submit_ms_redis_down_max  the slowest of those 10 submissions (start_job, the web request's work)
  recovery_s_worker_kill / recovery_s_redis_down  from the fault's end to the last job's success

`python bench/fault_checks/jobs.py` prints `RESULT {json}`.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
sys.path.insert(0, str(ROOT))

from bench.fault_checks.stack import BenchStack, tagged_json  # noqa: E402  (after the path fix above)

JOBS = 10
STEPS, DELAY_S = 12, 0.25  # 3 s per job
RECOVERY_S = 120.0

_SETUP = r"""
import django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
from django.contrib.auth import get_user_model
from webapp.accounts.services import create_team
user = get_user_model().objects.create_user(username="bench", password="bench-password-1")
create_team(user=user, name="Bench team")
"""

_SUBMIT = r"""
import json, sys, time
import django
django.setup()
from webapp.accounts.models import Team
from webapp.jobs.services import start_job
team = Team.objects.get()
n, steps, delay = int(sys.argv[1]), sys.argv[2], sys.argv[3]
ids, seconds = [], []
for _ in range(n):
    t0 = time.monotonic()
    job = start_job(team=team, user=team.captain, kind="test.countdown", params={"steps": steps, "delay_s": delay})
    seconds.append(time.monotonic() - t0)
    ids.append(job.pk)
print("SUBMIT " + json.dumps({"ids": ids, "seconds": seconds}))
"""

_STATUS = r"""
import json, sys
import django
django.setup()
from webapp.jobs.models import Job
ids = json.loads(sys.argv[1])
print("STATUS " + json.dumps(dict(Job.objects.filter(pk__in=ids).values_list("id", "status"))))
"""


class Stack(BenchStack):
    """The shared bench stack (test settings) + the jobs part's helpers."""

    def __init__(self):
        super().__init__("jobs", settings="webapp.settings_test", TF_CPP_MIN_LOG_LEVEL="3")
        self.workers_started = 0

    def python(self, code: str, *args: str, tag: str) -> dict:
        return tagged_json(self.run_python(code, *args), tag) or {}

    def start_worker(self) -> None:
        self.workers_started += 1
        super().start_worker("training,evaluation,maintenance", f"bench{self.workers_started}@%h",
                             "-B", "--concurrency", "2", "--schedule", str(self.var_dir / "celerybeat-schedule"),
                             log_name=f"worker-{self.workers_started}.log")

    def statuses(self, ids: list[int]) -> dict[int, str]:
        return {int(k): v for k, v in self.python(_STATUS, json.dumps(ids), tag="STATUS").items()}

    def wait_until_all_done(self, ids: list[int], timeout_s: float) -> tuple[int, float]:
        """Poll until every job finished (or time ran out); restart a worker that exited, as
        run_local does. Returns (jobs that did not succeed, seconds waited)."""
        t0 = time.monotonic()
        while True:
            if self.worker and self.worker.poll() is not None:
                self.kill_worker()
                self.start_worker()
            status = self.statuses(ids)
            done = [s for s in status.values() if s in ("succeeded", "failed", "cancelled")]
            if len(done) == len(ids) or time.monotonic() - t0 > timeout_s:
                return sum(1 for s in status.values() if s != "succeeded"), time.monotonic() - t0
            time.sleep(1.0)


def worker_kill_scenario(stack: Stack) -> dict:
    stack.start_worker()
    ids = stack.python(_SUBMIT, str(JOBS), str(STEPS), str(DELAY_S), tag="SUBMIT")["ids"]
    deadline = time.monotonic() + 60
    while list(stack.statuses(ids).values()).count("running") < 2 and time.monotonic() < deadline:
        time.sleep(0.3)
    time.sleep(1.0)  # both well under way
    before = stack.statuses(ids)
    stack.kill_worker()
    stack.redis.stop()
    stack.redis.start()  # empty: nothing kept on disk
    stack.start_worker()
    lost, waited = stack.wait_until_all_done(ids, RECOVERY_S)
    return {"jobs_lost_worker_kill": lost, "recovery_s_worker_kill": round(waited, 1),
            "running_at_kill": list(before.values()).count("running"),
            "queued_at_kill": list(before.values()).count("queued")}


def redis_down_scenario(stack: Stack) -> dict:
    if not stack.worker or stack.worker.poll() is not None:
        stack.start_worker()
    stack.redis.stop()
    submitted = stack.python(_SUBMIT, str(JOBS), "2", "0.05", tag="SUBMIT")
    queued = list(stack.statuses(submitted["ids"]).values()).count("queued")
    stack.redis.start()
    lost, waited = stack.wait_until_all_done(submitted["ids"], RECOVERY_S)
    return {"jobs_lost_redis_down": lost, "recovery_s_redis_down": round(waited, 1),
            "queued_while_down": queued,
            "submit_ms_redis_down_max": round(1000 * max(submitted["seconds"]), 1)}


def measure() -> dict:
    with Stack() as stack:
        stack.redis.start()
        stack.python(_SETUP, tag="SETUP")
        figures = worker_kill_scenario(stack)
        figures.update(redis_down_scenario(stack))
    figures["jobs_lost"] = figures["jobs_lost_worker_kill"] + figures["jobs_lost_redis_down"]
    figures["jobs_of"] = 2 * JOBS
    figures["workers_started"] = stack.workers_started
    return figures


if __name__ == "__main__":
    print("RESULT " + json.dumps(measure()))
