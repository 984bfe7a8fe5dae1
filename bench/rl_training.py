"""Benchmark of PPO training (training.rl.train) on this machine (2 shared cores are the target).

Every figure is end to end: rollouts of the vectorised cars with the camera, rewards from the real
sandbox (training.rl.sandbox, bubblewrap) in batches, PPO updates, greedy evaluations between
iterations, DeepRacer logs and checkpoints.

- `--quick`: `rl_env_steps_per_s` with the default configuration (8 cars, 80x60, the small
  network) and the console's centre-line reward (`simulator.gym_env.follow_center_line`'s source),
  trained until a greedy evaluation trial completes a clean lap of reinvent_base (no off-track:
  `first_lap_s`, wall seconds since training started; the run stops there or after
  `--first-lap-budget` s); then
  `shallow_160x120_steps_per_s`: DeepRacer's shallow network on the full 160x120 frame.
- `--minutes N`: N minutes on reinvent_base with the default setup -> `completion_pct` of the last
  evaluation (3 trials) and the best lap.
- `--minutes N --fast`: the "fast15" action space (15 actions up to 3.5 m/s,
  `training.rl.config.ACTION_SPACE_PRESETS`), the lap-pace example reward, 3 stacked frames (one
  frame cannot show how the car is turning, and the fitted car's steering lags by about 0.5 s) and
  `beta_entropy` 0.001 (with DeepRacer's 0.01 the stochastic training policy stays random enough
  that it learns to drive slowly: 6.13 s after 30 minutes, against 5.73 s after 8 with 0.001)
  -> `best_lap_over_limit` = best evaluation lap / `simulator.limit` physical-limit lap.
  `--preset` (an `ACTION_SPACE_PRESETS` key) and `--lr-schedule` (`RLConfig.lr_schedule`) change
  those two choices for experiments.
  Also `reference_lap_s`: what a driver that knows the car's state (wheel angle, speed, the
  commands in flight) and searches the same action space 0.8 s ahead with the simulator's own
  car model laps in (`reference_drive`), the yardstick of what that action space allows.
- `--unseen-track`: N minutes (default 10) on several built-in tracks, then 3 greedy trials on
  reinvent_base, which training never saw -> `unseen_track_completion_pct`.

Also reports `steps_per_cpu_s` (steps per second of this process's CPU time, TensorFlow's threads
included; the sandbox's process is not), which other load on the shared cores disturbs less than
wall time, the load average after each run, and `phase_s`: the wall seconds of the run's
iterations spent in rollouts (cars, camera, policy, sandboxed rewards), waiting for PPO updates
(an update runs during the next iteration's rollout, so only what outlasts it counts), logs,
evaluations and checkpoints. Ends with one line `RESULT {json}`.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import argparse
import contextlib
import inspect
import json
import math
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from simulator.gym_env import follow_center_line  # noqa: E402
from training.rl.config import RLConfig  # noqa: E402

TRAIN_TRACKS = ["pitlane_loop", "pitlane_hairpin", "reInvent2019_track", "pitlane_speedway"]
UNSEEN_TRACK = "reinvent_base"


def centre_line_source() -> str:
    """`follow_center_line` as a console reward file."""
    lines = inspect.getsource(follow_center_line).splitlines()
    body = [line for line in lines[1:] if not line.strip().startswith('"""')]
    return "def reward_function(params):\n" + "\n".join(body) + "\n"


def load() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def run(name: str, config: RLConfig, reward: str, out: Path, stop_at_clean_lap: bool = False) -> dict[str, Any]:
    from simulator.stopping import Stopped
    from training.rl.train import train

    events: list[dict] = []

    def on_progress(event: dict) -> None:
        events.append(event)
        if event["phase"] == "iteration":
            print(f"  [{name}] it {event['iteration']} steps {event['steps']} t {event['elapsed_s']:.0f}s "
                  f"{event['steps_per_s']:.0f} steps/s eval {event['eval_completion_pct']} "
                  f"laps {event['eval_lap_times']} clean {event['eval_clean_laps']} load {load()}", flush=True)

    def should_stop() -> bool:
        return stop_at_clean_lap and any(e.get("eval_clean_laps") for e in events)

    cpu0 = time.process_time()
    with contextlib.suppress(Stopped):
        train(config, reward, out, on_progress=on_progress, should_stop=should_stop, export=False)
    cpu = time.process_time() - cpu0
    iterations = [e for e in events if e["phase"] == "iteration"]
    last = iterations[-1]
    phases: dict[str, float] = {}
    for event in iterations:
        for key, seconds in (event.get("phase_s") or {}).items():
            phases[key] = phases.get(key, 0.0) + (seconds or 0.0)
    evaluated = [e for e in iterations if e["eval_completion_pct"] is not None]
    laps = [t for e in evaluated for t in e["eval_lap_times"] if t is not None]
    return {
        "steps": last["steps"], "elapsed_s": round(last["elapsed_s"], 1),
        "steps_per_s": round(last["steps"] / last["elapsed_s"], 1),
        "steps_per_cpu_s": round(last["steps"] / cpu, 1),
        "first_lap_s": last["first_lap_s"],
        "best_lap_time_s": min(laps) if laps else None,
        "best_completion_pct": max((e["eval_completion_pct"] for e in evaluated), default=None),
        "last_completion_pct": evaluated[-1]["eval_completion_pct"] if evaluated else None,
        "last_lap_times": evaluated[-1]["eval_lap_times"] if evaluated else None,
        "last_clean_laps": evaluated[-1]["eval_clean_laps"] if evaluated else None,
        "iterations": len(iterations), "out_dir": str(out),
        "phase_s": {k: round(v, 1) for k, v in phases.items()}, "load": load(),
    }


def quick(work: Path, budget: float) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    cfg = RLConfig(max_seconds=budget)
    first = run("default", cfg, centre_line_source(), work / "default", stop_at_clean_lap=True)
    figures["rl_env_steps_per_s"] = first["steps_per_s"]
    figures["rl_steps_per_cpu_s"] = first["steps_per_cpu_s"]
    figures["first_lap_s"] = first["first_lap_s"]
    figures["default_run"] = first
    shallow = RLConfig(network="deepracer_shallow", downscale=1, max_seconds=60.0, eval_trials=0)
    second = run("shallow_160x120", shallow, centre_line_source(), work / "shallow")
    figures["shallow_160x120_steps_per_s"] = second["steps_per_s"]
    figures["shallow_160x120_steps_per_cpu_s"] = second["steps_per_cpu_s"]
    return figures


def timed(work: Path, minutes: float, fast: bool, preset: str = "fast15",
          lr_schedule: str = "constant") -> dict[str, Any]:
    if fast:
        from simulator.car import DEEPRACER
        from simulator.limit import minimum_lap_time
        from training.rl.config import ACTION_SPACE_PRESETS
        from training.rl.examples import example

        space = ACTION_SPACE_PRESETS[preset][2]
        cfg = RLConfig(max_seconds=60.0 * minutes, action_space=space, stack_size=3, beta_entropy=0.001,
                       lr_schedule=lr_schedule)
        result = run(f"fast_{minutes:g}min", cfg, example("lap_pace").source, work / "fast")
        limit = minimum_lap_time(UNSEEN_TRACK, DEEPRACER).lap_time_s
        best = result["best_lap_time_s"]
        reference = reference_drive(UNSEEN_TRACK, [(a["steering_angle"], a["speed"]) for a in space])
        return {"minutes": minutes, "preset": preset, "lr_schedule": lr_schedule,
                "best_lap_s": best, "limit_lap_s": round(limit, 3),
                "best_lap_over_limit": round(best / limit, 3) if best else None,
                "reference_lap_s": reference,
                "reference_lap_over_limit": round(reference / limit, 3) if reference else None,
                "run": result}
    cfg = RLConfig(max_seconds=60.0 * minutes)
    result = run(f"{minutes:g}min", cfg, centre_line_source(), work / "timed")
    return {"minutes": minutes, "completion_pct": result["last_completion_pct"],
            "best_completion_pct": result["best_completion_pct"], "best_lap_s": result["best_lap_time_s"],
            "run": result}


def reference_drive(track_name: str, actions: list[tuple[float, float]], first_s: float = 0.2,
                    then_s: float = 0.6, max_s: float = 60.0) -> float | None:
    """Lap time (s, from a standing start on the start line) of a driver that knows the car's
    whole state and, before every step, tries each pair (action held `first_s`, then action held
    `then_s`) on a copy of the simulator's car, keeping the first action of the pair that gets
    furthest along the track without leaving it. None if it never finishes within `max_s`."""
    import copy

    from simulator.car import DEEPRACER, Car, CarState, Command
    from simulator.track import load_track

    track = load_track(track_name)
    hz = DEEPRACER.action_hz
    k1, k2 = round(first_s * hz), round(then_s * hz)
    car = Car(DEEPRACER, CarState(*track.pose_at(0.0)))
    here = track.project_local(car.state.x, car.state.y, None)
    covered = 0.0

    def advance(before, after) -> float:
        return (after.distance - before.distance + track.length / 2) % track.length - track.length / 2

    for step in range(int(max_s * hz)):
        best, choice = -math.inf, 0
        for first in range(len(actions)):
            for then in range(len(actions)):
                trial, at, gained = copy.deepcopy(car), here, 0.0
                for k in range(k1 + k2):
                    steering, speed = actions[first if k < k1 else then]
                    state = trial.step(Command(steering_deg=steering, speed=speed))
                    nxt = track.project_local(state.x, state.y, at.segment)
                    if abs(nxt.offset) > 0.5 * track.width_at(nxt):
                        gained -= 100.0 - k  # off the track: the later, the better
                        break
                    gained += advance(at, nxt)
                    at = nxt
                if gained > best:
                    best, choice = gained, first
        steering, speed = actions[choice]
        state = car.step(Command(steering_deg=steering, speed=speed))
        nxt = track.project_local(state.x, state.y, here.segment)
        covered += advance(here, nxt)
        here = nxt
        if covered >= track.length:
            return round((step + 1) / hz, 3)
    return None


def unseen(work: Path, minutes: float) -> dict[str, Any]:
    import numpy as np

    from simulator.track import load_track
    from training.rl.networks import build_actor_critic
    from training.rl.ppo import PPOLearner
    from training.rl.train import RunState, _clean_laps, _evaluate, checkpoint_dir

    cfg = RLConfig(tracks=[{"name": t, "reverse": False} for t in TRAIN_TRACKS], max_seconds=60.0 * minutes)
    out = work / "unseen"
    result = run("unseen", cfg, centre_line_source(), out)
    state = RunState.load(out / "checkpoints" / "state.json")
    model = build_actor_critic(cfg)
    learner = PPOLearner(model, cfg, np.random.default_rng(0))
    learner.load(checkpoint_dir(out, state.last_iteration), optimizer=False)
    evaluation = _evaluate(learner, cfg, load_track(UNSEEN_TRACK), None)
    return {"train_tracks": TRAIN_TRACKS, "unseen_track": UNSEEN_TRACK, "minutes": minutes,
            "unseen_track_completion_pct": round(evaluation.completion_pct, 1),
            "unseen_lap_times": evaluation.lap_times, "unseen_clean_laps": _clean_laps(evaluation),
            "unseen_off_track": evaluation.off_track_count, "run": result}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="steps/s and the first lap")
    parser.add_argument("--first-lap-budget", type=float, default=240.0, help="seconds for the --quick run")
    parser.add_argument("--minutes", type=float, help="a timed run on reinvent_base")
    parser.add_argument("--fast", action="store_true", help="with --minutes: fast actions, speed reward")
    parser.add_argument("--preset", default="fast15", help="with --fast: the action-space preset")
    parser.add_argument("--lr-schedule", default="constant", help="with --fast: RLConfig.lr_schedule")
    parser.add_argument("--unseen-track", action="store_true", help="train on other tracks, drive reinvent_base")
    parser.add_argument("--work", type=Path, help="keep the runs here (default: a temporary folder)")
    args = parser.parse_args()
    if not (args.quick or args.minutes or args.unseen_track):
        parser.error("choose --quick, --minutes N and/or --unseen-track")
    figures: dict[str, Any] = {"load_before": load(), "cores": os.cpu_count()}
    with tempfile.TemporaryDirectory(prefix="rl_bench_") as tmp:
        work = args.work or Path(tmp)
        if args.quick:
            figures.update(quick(work, args.first_lap_budget))
        if args.minutes and not args.unseen_track:
            figures[f"{'fast_' if args.fast else ''}{args.minutes:g}min"] = timed(
                work, args.minutes, args.fast, args.preset, args.lr_schedule)
        if args.unseen_track:
            figures["unseen"] = unseen(work, args.minutes or 10.0)
    figures["load_after"] = load()
    print("RESULT " + json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
