"""Reward sandbox cost: the round trip of a batch of real params dicts through `RewardSandbox`.

Builds BATCH rewarded steps' params of reinvent_base with `simulator.episode.Session` (what a PPO
rollout hands the sandbox), then times `RewardSandbox.rewards` on them with three reward
functions: a constant (the sandbox's own overhead), our centre-line example and our
speed-on-straights example (a realistic function that walks the waypoints). Figures:
  sandbox_us_per_step      wall time per step of one batch, constant reward (target <= 20)
  sandbox_cpu_us_per_step  CPU time per step of both processes (clock ticks: +-10 ms per run)
  sandbox_us_per_step_centre_line / _speed_on_straights   the same with the example functions
  in_process_us_per_step_* the same function called in this process (what the sandbox adds)
  sandbox_start_s          start-up of one sandbox (bubblewrap + interpreter + numpy/scipy/shapely)
Each figure is the best of RUNS runs (the machine is shared). Prints one final line: RESULT {json}.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from simulator.car import Command  # noqa: E402
from simulator.episode import Session  # noqa: E402
from simulator.rules import EpisodeStatus  # noqa: E402
from simulator.track import load_track  # noqa: E402
from training.rl.examples import example  # noqa: E402
from training.rl.sandbox import RewardSandbox  # noqa: E402

BATCH = 1000
RUNS = 7
CONSTANT = "def reward_function(params):\n    return 1.0\n"


def rollout_params(track, n: int) -> list[dict]:
    session = Session(track)
    out, k = [], 0
    while len(out) < n:
        k += 1
        result = session.step(Command(steering_deg=3.0 * ((k // 20) % 3 - 1), speed=1.5))
        if result.status is not EpisodeStatus.PREPARE:
            out.append(result.params)
        if result.done:
            session.reset(start_distance=(k * 0.37) % track.length)
    return out


def best_us_per_step(call, batch: list[dict], runs: int) -> float:
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        call(batch)
        best = min(best, time.perf_counter() - started)
    return best / len(batch) * 1e6


def descendants_cpu_s(pid: int) -> float:
    """User + system CPU seconds of `pid`'s descendants (bubblewrap's init and the child)."""
    tick = os.sysconf("SC_CLK_TCK")
    total, todo = 0.0, [pid]
    while todo:
        parent = todo.pop()
        try:
            tasks = os.listdir(f"/proc/{parent}/task")
        except OSError:
            continue
        for task in tasks:
            try:
                children = Path(f"/proc/{parent}/task/{task}/children").read_text().split()
            except OSError:
                continue
            for child in map(int, children):
                try:
                    fields = Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                total += (int(fields[11]) + int(fields[12])) / tick
                todo.append(child)
    return total


def cpu_us_per_step(sandbox: RewardSandbox, batch: list[dict], runs: int) -> float:
    """CPU time (this process + the sandbox's processes) per step, over `runs` batches: what the
    round trip costs the machine, which a busy shared machine does not inflate as it does wall time."""
    pid = sandbox._proc.pid
    host0, child0 = time.process_time(), descendants_cpu_s(pid)
    for _ in range(runs):
        sandbox.rewards("reinvent_base", batch)
    spent = time.process_time() - host0 + descendants_cpu_s(pid) - child0
    return spent / (runs * len(batch)) * 1e6


def in_process(source: str):
    namespace: dict = {}
    exec(compile(source, "reward_function.py", "exec"), namespace)
    fn = namespace["reward_function"]
    return lambda batch: [fn(dict(p)) for p in batch]


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer runs (noisier)")
    args = parser.parse_args(argv)
    runs = 3 if args.quick else RUNS
    track = load_track("reinvent_base")
    batch = rollout_params(track, BATCH)
    waypoints = {"reinvent_base": track.waypoints}
    result: dict[str, float] = {}
    for label, source in (("", CONSTANT), ("_centre_line", example("centre_line").source),
                          ("_speed_on_straights", example("speed_on_straights").source)):
        started = time.perf_counter()
        with RewardSandbox(source, waypoints=waypoints) as sandbox:
            start_s = time.perf_counter() - started
            sandbox.rewards("reinvent_base", batch)  # warm
            us = best_us_per_step(lambda b, s=sandbox: s.rewards("reinvent_base", b), batch, runs)
            cpu_us = cpu_us_per_step(sandbox, batch, 3 * runs)
        result[f"sandbox_us_per_step{label}"] = round(us, 2)
        result[f"sandbox_cpu_us_per_step{label}"] = round(cpu_us, 2)
        if label:
            result[f"in_process_us_per_step{label}"] = round(best_us_per_step(in_process(source), batch, runs), 2)
        else:
            result["sandbox_start_s"] = round(start_s, 3)
        print(f"sandbox{label or '_constant'}: {us:7.2f} us/step wall, {cpu_us:7.2f} us/step CPU, "
              f"in batches of {BATCH} (start {start_s:.2f} s)")
    load = os.getloadavg()
    result["load_average_1m"] = round(load[0], 2)
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} cpus")
    print("RESULT " + json.dumps(result))
    return result


if __name__ == "__main__":
    main()
