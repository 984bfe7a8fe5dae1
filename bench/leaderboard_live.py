"""Live leaderboard figures against `make run`'s stack (webapp.server: Daphne, as many processes as
`make run` starts; embedded Redis; a migrated SQLite database in a temporary var directory).

Setup: a public physical event of TEAMS teams with LAPS laps each, a timer device, one team's
attempt running.

  lap_to_screen_p50_ms / lap_to_screen_p99_ms
      from sending a timer device's crossing (POST /api/v1/timer/crossings/) to each of VIEWERS
      websocket viewers of /ws/events/<id>/ having the board that shows the new lap; LAPS_TIMED
      laps after WARMUP_LAPS untimed ones, every viewer counted (target p99 <= 250 ms).
      lap_to_screen_first_last_ms_per_lap: the first and the last viewer's latency of each lap.
      The client (viewers and device) runs on the same cores as the server.
      lap_to_screen_missed: viewer x lap pairs that never got it (target 0). timer_post_ms_per_lap: how
      long each timer POST took to answer.
  leaderboard_rps / leaderboard_p50_ms / leaderboard_p99_ms
      the public event page (GET, no session) under CLIENTS concurrent keep-alive clients for
      DURATION_S seconds after a warm-up (p99 target <= 200 ms); leaderboard_errors: non-200 answers.

`python bench/leaderboard_live.py [--viewers N] [--clients N]` prints `RESULT {json}`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.fault_checks.stack import BenchStack, tagged_json  # noqa: E402

TEAMS = 64
LAPS = 30
VIEWERS = 500
LAPS_TIMED = 10
WARMUP_LAPS = 3
CLIENTS = 50
DURATION_S = 15.0

_SETUP = r"""
import json, random, sys
from datetime import timedelta
import django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
from django.contrib.auth import get_user_model
from django.utils import timezone
from webapp.accounts.models import Team
from webapp.leagues import race
from webapp.leagues.models import Event, LapResult, League, Registration
from webapp.leagues.services import make_organiser
teams_n, laps_n = map(int, sys.argv[1:3])
rng = random.Random(7)
User = get_user_model()
organiser = User.objects.create_user("bench-organiser", "org@example.com", "bench-password-1")
league = League.objects.create(name="Bench League")
make_organiser(organiser, league)
now = timezone.now()
event = Event.objects.create(league=league, name="Bench Race Day", kind=Event.Kind.PHYSICAL, track="reinvent_base",
                             starts=now - timedelta(hours=1), ends=now + timedelta(hours=8),
                             status=Event.Status.RUNNING, ranking_rule="best_average", consecutive_laps=3)
teams = Team.objects.bulk_create([Team(name=f"Bench team {i:02d}", slug=f"bench-team-{i:02d}") for i in range(teams_n)])
Registration.objects.bulk_create([Registration(event=event, team=t) for t in teams])
laps = []
for t in teams:
    base = rng.uniform(7.5, 12.0)
    for n in range(1, laps_n + 1):
        laps.append(LapResult(event=event, team=t, lap_number=n, lap_time_s=round(base + rng.uniform(0, 2.5), 3),
                              resets=rng.choice([0, 0, 0, 1]), source=LapResult.Source.ORGANISER,
                              recorded=now - timedelta(minutes=laps_n - n)))
LapResult.objects.bulk_create(laps)
device, token = race.issue_device(user=organiser, event=event, name="Finish line", debounce_s=2.0)
attempt = race.create_attempt(user=organiser, event=event, team=teams[0])
race.start(user=organiser, attempt=attempt, expected_version=attempt.version)
print("SETUP " + json.dumps({"token": token, "slug": league.slug, "event": event.pk}))
"""

_VERSION = re.compile(r'"on_track":\{.*?"laps":\[(.*?)\]\}', re.S)


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def _laps_on_track(message: str) -> int:
    """How many laps the board's team on track has (counted without decoding the whole board: the
    client shares the server's cores)."""
    match = _VERSION.search(message)
    if match is None:
        return -1
    return match.group(1).count('"n":')


class Stack(BenchStack):
    def __init__(self) -> None:
        super().__init__("board", PITLANE_CHANNEL_PREFIX=f"board{os.getpid()}", DEBUG="0")

    def start(self) -> dict:
        self.redis.start()
        out = self.run_python(_SETUP, str(TEAMS), str(LAPS), timeout=300)
        data = tagged_json(out, "SETUP")
        if data is None:
            raise RuntimeError(f"setup failed:\n{out[-2000:]}")
        self.start_server("webapp.server")
        return data


def _post_crossing(url: str, token: str, crossing_id: str, device_time_us: int) -> int:
    body = json.dumps({"crossing_id": crossing_id, "device_time_us": device_time_us, "sensor": "a"}).encode()
    request = urllib.request.Request(f"{url}/api/v1/timer/crossings/", data=body, method="POST", headers={
        "Authorization": f"Device {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status


async def _lap_to_screen(stack: Stack, data: dict, viewers: int) -> dict:
    import websockets

    url = f"ws://127.0.0.1:{stack.port}/ws/events/{data['event']}/"
    sockets = []
    for start in range(0, viewers, 50):  # open them in batches, as a venue's phones would arrive
        batch = await asyncio.gather(*(websockets.connect(url, origin=stack.url, ping_interval=None, max_size=None,
                                                          open_timeout=120, proxy=None)
                                       for _ in range(start, min(viewers, start + 50))))
        sockets += batch
        await asyncio.gather(*(ws.recv() for ws in batch))  # each one's first board
    latencies: list[float] = []
    per_lap: list[tuple[float, float]] = []
    post_ms: list[float] = []
    missed = 0
    clock_us = 1_000_000_000
    # The first crossing starts the lap on the device clock; each later one closes a lap.
    await asyncio.to_thread(_post_crossing, stack.url, data["token"], "start", clock_us)
    await asyncio.sleep(2.0)
    for ws in sockets:  # drain the boards of the start
        while True:
            try:
                await asyncio.wait_for(ws.recv(), 0.05)
            except TimeoutError:
                break
    # Warm-up: each web process handles a timer POST once (imports, the track's physical limit for
    # the plausibility check) before the timed laps; they are laps 1 and 2 of the attempt.
    for warm in range(WARMUP_LAPS):
        clock_us += 8_500_000
        await asyncio.to_thread(_post_crossing, stack.url, data["token"], f"warm-{warm}", clock_us)
        await asyncio.sleep(1.0)
    for ws in sockets:
        while True:
            try:
                await asyncio.wait_for(ws.recv(), 0.05)
            except TimeoutError:
                break
    for lap in range(WARMUP_LAPS + 1, WARMUP_LAPS + LAPS_TIMED + 1):
        clock_us += 8_500_000 + lap * 1000

        async def wait_for_lap(ws, lap=lap) -> float | None:
            deadline = time.perf_counter() + 10
            while time.perf_counter() < deadline:
                try:
                    message = await asyncio.wait_for(ws.recv(), max(0.01, deadline - time.perf_counter()))
                except TimeoutError:
                    return None
                if _laps_on_track(message) >= lap:
                    return time.perf_counter()
            return None

        waiters = [asyncio.ensure_future(wait_for_lap(ws)) for ws in sockets]
        await asyncio.sleep(0.05)
        sent = time.perf_counter()
        await asyncio.to_thread(_post_crossing, stack.url, data["token"], f"lap-{lap}", clock_us)
        post_ms.append(round((time.perf_counter() - sent) * 1000, 1))
        this_lap = []
        for arrived in await asyncio.gather(*waiters):
            if arrived is None:
                missed += 1
            else:
                this_lap.append((arrived - sent) * 1000)
        latencies += this_lap
        if this_lap:
            per_lap.append((round(min(this_lap), 1), round(max(this_lap), 1)))
        await asyncio.sleep(0.5)
    await asyncio.gather(*(ws.close() for ws in sockets))
    return {
        "lap_to_screen_viewers": viewers,
        "lap_to_screen_laps": LAPS_TIMED,
        "lap_to_screen_p50_ms": round(statistics.median(latencies), 1) if latencies else None,
        "lap_to_screen_p99_ms": round(_percentile(latencies, 99), 1) if latencies else None,
        "lap_to_screen_max_ms": round(max(latencies), 1) if latencies else None,
        "lap_to_screen_missed": missed,
        "lap_to_screen_first_last_ms_per_lap": per_lap,
        "timer_post_ms_per_lap": post_ms,
    }


async def _get(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, path: str, host: str) -> int:
    writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: keep-alive\r\n\r\n".encode())
    await writer.drain()
    status_line = await reader.readline()
    length = 0
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b""):
            break
        name, _, value = line.decode("latin-1").partition(":")
        if name.lower() == "content-length":
            length = int(value)
    await reader.readexactly(length)
    return int(status_line.split()[1])


async def _page_load(stack: Stack, path: str, clients: int, duration_s: float) -> dict:
    latencies: list[float] = []
    errors = 0

    async def client(stop_at: float, record: bool) -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection("127.0.0.1", stack.port)
        try:
            while time.perf_counter() < stop_at:
                started = time.perf_counter()
                status = await _get(reader, writer, path, f"127.0.0.1:{stack.port}")
                if record:
                    latencies.append((time.perf_counter() - started) * 1000)
                    errors += status != 200
        finally:
            writer.close()

    await asyncio.gather(*(client(time.perf_counter() + 3.0, False) for _ in range(clients)))  # warm-up
    began = time.perf_counter()
    await asyncio.gather(*(client(began + duration_s, True) for _ in range(clients)))
    elapsed = time.perf_counter() - began
    return {
        "leaderboard_teams": TEAMS, "leaderboard_laps_per_team": LAPS, "leaderboard_clients": clients,
        "leaderboard_rps": round(len(latencies) / elapsed, 1),
        "leaderboard_p50_ms": round(statistics.median(latencies), 1),
        "leaderboard_p99_ms": round(_percentile(latencies, 99), 1),
        "leaderboard_errors": errors,
    }


def measure(viewers: int, clients: int) -> dict:
    with Stack() as stack:
        data = stack.start()
        figures: dict = {"web_processes": int(stack.env()["PITLANE_WEB_PROCESSES"]), "cpu_count": os.cpu_count()}
        figures.update(asyncio.run(_lap_to_screen(stack, data, viewers)))
        path = f"/leagues/{data['slug']}/events/{data['event']}/"
        figures.update(asyncio.run(_page_load(stack, path, clients, DURATION_S)))
        figures["load_average_1m"] = round(os.getloadavg()[0], 2)
        return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--viewers", type=int, default=VIEWERS)
    parser.add_argument("--clients", type=int, default=CLIENTS)
    args = parser.parse_args()
    print("RESULT " + json.dumps(measure(args.viewers, args.clients)), flush=True)


if __name__ == "__main__":
    main()
