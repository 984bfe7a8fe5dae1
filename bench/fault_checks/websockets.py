"""Websocket figures against a real Daphne + Redis: how long an idle /ws/jobs/ socket stays open,
and connect-to-snapshot latency with 200 sockets opened at once.

Self-contained: an embedded Redis, a temporary var directory with a migrated SQLite database
(200 users in 4 teams, 100 jobs per team so every snapshot is full), the web server
(`python -m webapp.server`, Daphne as `make run` serves it, with as many processes:
PITLANE_WEB_PROCESSES, reported as ws_server_processes);
traffic only to 127.0.0.1; everything is stopped at the end.

  ws_idle_survives_s     seconds an idle socket stayed open (the run watches it for IDLE_S = 35 s;
                         >= 30 passes); ws_idle_update_received: a job update sent after the idle
                         period reached it
  ws_snapshot_p50_ms / ws_snapshot_p99_ms
                         from starting the websocket handshake to having the snapshot, SOCKETS
                         sockets of SOCKETS distinct users connecting concurrently, ROUNDS rounds
                         after a warm-up (p99 target < 500); the client runs on the same cores
  ws_snapshot_failures   sockets of those rounds that got no snapshot (target 0): refused, or
                         closed by Daphne when not accepted within its 5 s handshake timeout; they
                         count in the percentiles with the time until they failed
  ws_server_cpu_ms_per_socket / ws_redis_cpu_ms_per_socket / ws_client_cpu_ms_per_socket
                         CPU time (user + system) the web server processes, Redis and this
                         client spent per socket over those rounds: unlike the latencies, hardly
                         moved by what else the machine runs (the latencies are compared at the
                         same load: ws_load_avg_1m, the 1-minute load average before and after)

`python bench/fault_checks/websockets.py` prints `RESULT {json}`.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
# Run as a script, this folder comes first on sys.path and this file would shadow the `websockets`
# client library it uses.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(ROOT))

from websockets import exceptions as websockets_exceptions  # noqa: E402

from bench.fault_checks.stack import BenchStack, tagged_json  # noqa: E402  (after the path fix above)

SOCKETS = 200
TEAMS = 4
JOBS_PER_TEAM = 100
IDLE_S = 35.0
ROUNDS = 3

# Run in a subprocess (the bench process stays free of Django settings): migrate, create the
# users, teams, jobs and one session per user; print the session keys and a job id per team.
_SETUP = r"""
import json, sys
import django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.sessions.backends.db import SessionStore
from webapp.accounts.models import Membership, Team
from webapp.jobs.models import Job
users_n, teams_n, jobs_n = map(int, sys.argv[1:4])
User = get_user_model()
password = make_password("bench-password-1")
users = User.objects.bulk_create([User(username=f"bench{i}", email=f"bench{i}@example.com", password=password)
                                  for i in range(users_n)])
teams = [Team.objects.create(name=f"Bench team {t}") for t in range(teams_n)]
Membership.objects.bulk_create([Membership(team=teams[i % teams_n], user=u, role=Membership.Role.MEMBER)
                                for i, u in enumerate(users)])
for team in teams:
    Job.objects.bulk_create([Job(team=team, kind="training.bc", title=f"job {j}", progress=j % 100,
                                 metrics={"loss": 0.1, "epoch": j}) for j in range(jobs_n)])
sessions = []
for user in users:
    s = SessionStore()
    s["_auth_user_id"] = str(user.pk)
    s["_auth_user_backend"] = "django.contrib.auth.backends.ModelBackend"
    s["_auth_user_hash"] = user.get_session_auth_hash()
    s.create()
    sessions.append(s.session_key)
jobs = [Job.objects.filter(team=t).order_by("-created").first().pk for t in teams]
print("SETUP " + json.dumps({"sessions": sessions, "jobs": jobs}))
"""

_NOTIFY = r"""
import sys
import django
django.setup()
from webapp.jobs.models import Job
from webapp.jobs.notify import notify_job
notify_job(Job.objects.get(pk=int(sys.argv[1])))
"""


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


class Stack(BenchStack):
    """The shared bench stack with this part's channel prefix, database rows and job notifications."""

    def __init__(self) -> None:
        super().__init__("ws", PITLANE_CHANNEL_PREFIX=f"bench{os.getpid()}", DEBUG="0")

    def start(self) -> dict:
        self.redis.start()
        out = self.run_python(_SETUP, str(SOCKETS), str(TEAMS), str(JOBS_PER_TEAM), timeout=180)
        data = tagged_json(out, "SETUP")
        if data is None:
            raise RuntimeError(f"setup failed:\n{out[-2000:]}")
        self.start_server("webapp.server")
        return data

    def notify(self, job_id: int) -> None:
        self.run_python(_NOTIFY, str(job_id), timeout=60)


def _connect(port: int, session: str):
    import websockets

    # proxy=None: the client would otherwise read the proxy variables of the environment (a walk
    # over os.environ) for every socket, CPU taken from the server on the same cores.
    return websockets.connect(
        f"ws://127.0.0.1:{port}/ws/jobs/", origin=f"http://127.0.0.1:{port}",
        additional_headers={"Cookie": f"sessionid={session}"}, ping_interval=None,
        open_timeout=60, max_size=None, proxy=None)


async def _snapshot_latency(port: int, session: str) -> tuple[float, str | bytes | None]:
    """Milliseconds from starting the handshake to having the first message, and the message; a
    socket that failed (refused, or closed by the server before it was accepted) gives the time
    until it failed and None."""
    started = time.perf_counter()
    try:
        async with _connect(port, session) as ws:
            message = await asyncio.wait_for(ws.recv(), 60)
    except (OSError, TimeoutError, websockets_exceptions.WebSocketException):
        return (time.perf_counter() - started) * 1000, None
    return (time.perf_counter() - started) * 1000, message


def _check_snapshot(message: str | bytes) -> None:
    snapshot = json.loads(message)
    if snapshot.get("type") != "snapshot" or len(snapshot["jobs"]) != JOBS_PER_TEAM:
        raise RuntimeError(f"unexpected first message: {str(snapshot)[:200]}")


async def _snapshot_round(port: int, sessions: list[str]) -> tuple[list[float], int]:
    """Every session's connect-to-snapshot latency, its sockets opened together, and how many
    failed (their latency is the time until they failed). The snapshots (30 KB of JSON each) are
    decoded and checked once all have arrived, so that decoding them does not hold up the sockets
    still waiting (the client shares the server's cores)."""
    results = await asyncio.gather(*(_snapshot_latency(port, s) for s in sessions))
    for _, message in results:
        if message is not None:
            _check_snapshot(message)
    return [latency for latency, _ in results], sum(message is None for _, message in results)


async def _idle(stack: Stack, session: str, job_id: int) -> dict:
    started = time.monotonic()
    async with _connect(stack.port, session) as ws:
        await ws.recv()  # the snapshot
        close = None
        try:
            await asyncio.wait_for(ws.recv(), IDLE_S)
            close = "unexpected message"
        except TimeoutError:
            pass  # still open and silent: what an idle socket should be
        except Exception as exc:  # noqa: BLE001
            close = f"{type(exc).__name__}: {exc}"
        survived = time.monotonic() - started
        received = False
        if close is None:
            await asyncio.to_thread(stack.notify, job_id)
            try:
                message = json.loads(await asyncio.wait_for(ws.recv(), 15))
                received = message.get("type") == "job" and message["job"]["id"] == job_id
            except Exception as exc:  # noqa: BLE001
                close = f"{type(exc).__name__}: {exc}"
        return {"ws_idle_survives_s": round(survived, 1), "ws_idle_update_received": received,
                "ws_idle_close": close}


def _cpu_s(pid: int) -> float:
    """CPU seconds (user + system) of the process and its children (the server processes behind
    the port when PITLANE_WEB_PROCESSES is above 1)."""
    import psutil

    process = psutil.Process(pid)
    total = 0.0
    for each in [process, *process.children(recursive=True)]:
        try:
            times = each.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def measure() -> dict:
    with Stack() as stack:
        data = stack.start()
        sessions, jobs = data["sessions"], data["jobs"]
        processes = int(stack.env()["PITLANE_WEB_PROCESSES"])
        # Warm-up: imports, connections; about 10 sockets for each server process.
        asyncio.run(_snapshot_round(stack.port, sessions[:10 * processes]))
        latencies: list[float] = []
        failures = 0
        load_before = os.getloadavg()[0]
        server_cpu, redis_cpu = _cpu_s(stack.server.pid), _cpu_s(stack.redis.process.pid)
        client_cpu = time.process_time()
        for _ in range(ROUNDS):
            round_latencies, round_failures = asyncio.run(_snapshot_round(stack.port, sessions))
            latencies += round_latencies
            failures += round_failures
        per_socket = 1000 / (ROUNDS * len(sessions))
        server_cpu = (_cpu_s(stack.server.pid) - server_cpu) * per_socket
        redis_cpu = (_cpu_s(stack.redis.process.pid) - redis_cpu) * per_socket
        client_cpu = (time.process_time() - client_cpu) * per_socket
        figures = {
            "ws_server_processes": processes,
            "ws_snapshot_sockets": SOCKETS,
            "ws_snapshot_jobs_per_snapshot": JOBS_PER_TEAM,
            "ws_snapshot_p50_ms": round(statistics.median(latencies), 1),
            "ws_snapshot_p99_ms": round(_percentile(latencies, 99), 1),
            "ws_snapshot_max_ms": round(max(latencies), 1),
            "ws_snapshot_failures": failures,
            "ws_server_cpu_ms_per_socket": round(server_cpu, 2),
            "ws_redis_cpu_ms_per_socket": round(redis_cpu, 2),
            "ws_client_cpu_ms_per_socket": round(client_cpu, 2),
            "ws_load_avg_1m": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        }
        figures.update(asyncio.run(_idle(stack, sessions[0], jobs[0])))
        return figures


if __name__ == "__main__":
    print("RESULT " + json.dumps(measure()), flush=True)
