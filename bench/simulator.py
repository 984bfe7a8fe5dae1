"""Simulator throughput and memory, on one core.

- deepracer_steps_per_s: Session.step (physics, race rules, reward params + a reward function)
  plus a 160x120 grayscale camera frame, replaying an autopilot's commands (target >= 3000).
- udacity_frames_per_s: physics plus the three 320x160 RGB cameras plus three JPEG encodings
  (quality 90, as `record` writes them) (target >= 300).
- rss_mb_per_car: resident memory added per simulated car with its cameras, from creating 10
  cars on one track (the track texture is shared and reported separately) (target < 50).

Prints its figures, then one line `RESULT {json}`. Run: `python bench/simulator.py [--quick]`.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import gc  # noqa: E402
import io  # noqa: E402
import itertools  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from simulator.camera import DeepRacerCamera, UdacityCameras  # noqa: E402
from simulator.car import DEEPRACER, UDACITY, Car, CarState  # noqa: E402
from simulator.episode import Session  # noqa: E402
from simulator.gym_env import follow_center_line  # noqa: E402
from simulator.recorder import SessionConfig, drive_session  # noqa: E402
from simulator.render_texture import texture_for  # noqa: E402
from simulator.track import load_track  # noqa: E402


def pin_to_one_core() -> int:
    cpu = min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})
    return cpu


def rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def autopilot_commands(track, profile, steps: int):  # type: ignore[no-untyped-def]
    """Commands an autopilot gives over `steps` control steps (replayed, so not timed)."""
    return [f.controls.to_command(profile, 1.5) for f in
            itertools.islice(drive_session(track, profile, SessionConfig(), seed=1), steps)]


def bench_deepracer(steps: int, repeats: int) -> float:
    track = load_track("reinvent_base")
    camera = DeepRacerCamera(track)
    commands = autopilot_commands(track, DEEPRACER, steps)
    best = 0.0
    for _ in range(repeats):
        session = Session(track, DEEPRACER, reward_fn=follow_center_line, seed=0)
        began = time.perf_counter()
        for command in commands:
            if session.done:
                session.reset()
            session.step(command)
            state = session.state
            camera.render(state.x, state.y, state.yaw)
        best = max(best, len(commands) / (time.perf_counter() - began))
    return best


def bench_udacity(frames: int, repeats: int) -> float:
    track = load_track("pitlane_loop_road")
    cameras = UdacityCameras(track)
    commands = autopilot_commands(track, UDACITY, frames)
    best = 0.0
    for _ in range(repeats):
        x, y, yaw = track.pose_at(0.0)
        car = Car(UDACITY, CarState(x, y, yaw))
        began = time.perf_counter()
        for command in commands:
            state = car.step(command)
            for image in cameras.render(state.x, state.y, state.yaw).values():
                Image.fromarray(image).save(io.BytesIO(), format="JPEG", quality=90)
        best = max(best, len(commands) / (time.perf_counter() - began))
    return best


def bench_memory(cars: int = 10) -> dict[str, float]:
    figures = {}
    for name, track_name, make in (("deepracer", "reinvent_base", DeepRacerCamera),
                                   ("udacity", "pitlane_lake_road", UdacityCameras)):
        track = load_track(track_name)
        texture = texture_for(track)
        warm = make(track)  # first camera: shared texture and import-time allocations
        warm.render(*track.pose_at(0.0))
        gc.collect()
        before = rss_mb()
        fleet = []
        for k in range(cars):
            x, y, yaw = track.pose_at(k * 3.0)
            car = Car(UDACITY if name == "udacity" else DEEPRACER, CarState(x, y, yaw))
            camera = make(track)
            camera.render(x, y, yaw)
            fleet.append((car, camera))
        gc.collect()
        figures[f"{name}_mb_per_car"] = (rss_mb() - before) / cars
        figures[f"{name}_texture_mb"] = texture.index.nbytes / 2**20
        del fleet, warm
    return figures


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter runs (noisier)")
    args = parser.parse_args(argv)
    cpu = pin_to_one_core()
    steps, frames, repeats = (600, 150, 2) if args.quick else (3000, 600, 3)
    print(f"pinned to cpu {cpu}; numpy {np.__version__}; best of {repeats} runs")
    memory = bench_memory()  # first, so memory freed by the other runs cannot hide growth
    deepracer = bench_deepracer(steps, repeats)
    print(f"deepracer: {deepracer:8.0f} steps/s  (physics + rules + reward params + 160x120 gray frame)")
    udacity = bench_udacity(frames, repeats)
    print(f"udacity:   {udacity:8.0f} frames/s (physics + 3x 320x160 RGB + 3 JPEG q90)")
    for key, value in memory.items():
        print(f"{key:26s} {value:8.2f} MB")
    result = {
        "deepracer_steps_per_s": round(deepracer, 1),
        "udacity_frames_per_s": round(udacity, 1),
        "rss_mb_per_car": round(max(memory["deepracer_mb_per_car"], memory["udacity_mb_per_car"]), 2),
        **{k: round(v, 2) for k, v in memory.items()},
    }
    print("RESULT " + json.dumps(result))
    return result


if __name__ == "__main__":
    main()
