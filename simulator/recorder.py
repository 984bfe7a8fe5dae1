"""Record Udacity-format training data (driving_log.csv + IMG/) by driving our simulated car.

`drive_session` is the driving itself (autopilot, optional keyboard steering and recoveries) as
a stream of frames, each saying whether it would be recorded; `record` renders and writes only
those. A recovery follows seed 000's recipe: stop recording, drive to the road edge, start
recording, drive back to the middle; so only the return is in the data.
"""

from __future__ import annotations

import math
import random
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import Any

from PIL import Image

from simulator.appearance import Randomisation
from simulator.autopilot import Autopilot, AutopilotConfig, Controls, KeyboardDriver
from simulator.camera import UdacityCameras
from simulator.car import MPH, UDACITY, Car, CarProfile, CarState
from simulator.driving_log import CAMERAS, DrivingLogWriter, to_udacity_steering


class Phase(str, Enum):
    DRIVE = "drive"  # ordinary driving, recorded
    DRIFT = "drift"  # heading for the road edge, not recorded
    RECOVER = "recover"  # back from the edge to the middle, recorded


@dataclass(frozen=True)
class SessionConfig:
    """What kind of driving to produce."""

    recoveries: bool = False
    keyboard: bool = False
    recovery_every_m: float = 80.0  # mean distance between recoveries (metres driven)
    drift_fraction: float = 0.85  # how far toward the edge a drift goes (fraction of half width)
    max_drift_s: float = 5.0
    max_recover_s: float = 8.0
    autopilot: AutopilotConfig = field(default_factory=AutopilotConfig)


@dataclass(frozen=True)
class DriveFrame:
    """One control step (1/15 s) of a session; `controls` are what was applied to the car."""

    step: int
    state: CarState
    controls: Controls
    phase: Phase
    record: bool
    offset: float  # metres left of the centre line
    half_width: float
    laps: float
    off_tracks: int


def drive_session(track: Any, profile: CarProfile = UDACITY, config: SessionConfig | None = None,
                  seed: int = 0) -> Iterator[DriveFrame]:
    """Drive forever (the caller stops), yielding every control step."""
    config = config or SessionConfig()
    rng = random.Random(seed)
    pilot = Autopilot(track, profile, config.autopilot, seed=seed)
    keys = KeyboardDriver(hz=profile.action_hz, seed=seed) if config.keyboard else None
    x, y, yaw = track.pose_at(rng.uniform(0, track.length))
    car = Car(profile, CarState(x, y, yaw, speed=0.0))
    phase, phase_steps, side = Phase.DRIVE, 0, 1.0
    travelled, off_tracks = 0.0, 0
    pilot.locate(car.state)
    last_distance = pilot.distance
    for step in range(sys.maxsize):
        state = car.state
        pilot.locate(state)
        moved = (pilot.distance - last_distance + track.length / 2) % track.length - track.length / 2
        travelled += moved
        last_distance = pilot.distance
        edge = abs(pilot.offset) / max(pilot.half_width, 1e-6)
        if edge > 1.0 + profile.width / max(pilot.half_width, 1e-6):  # wholly off the road: put it back
            off_tracks += 1
            x, y, yaw = track.pose_at(pilot.distance)
            car.reset(CarState(x, y, yaw, speed=state.speed * 0.5))
            phase, phase_steps = Phase.DRIVE, 0
            if keys:
                keys = KeyboardDriver(hz=profile.action_hz, seed=seed + step)
            continue
        phase_steps += 1
        seconds = phase_steps / profile.action_hz
        if phase is Phase.DRIVE and config.recoveries and state.speed > 2.0 and \
                rng.random() < max(moved, 0.0) / config.recovery_every_m:
            phase, phase_steps, side = Phase.DRIFT, 0, rng.choice((-1.0, 1.0))
        elif phase is Phase.DRIFT and (edge * math.copysign(1, pilot.offset) * side >= config.drift_fraction * 0.92
                                       or seconds > config.max_drift_s):
            phase, phase_steps = Phase.RECOVER, 0
        elif phase is Phase.RECOVER and ((edge < 0.12 and phase_steps > 5) or seconds > config.max_recover_s):
            phase, phase_steps = Phase.DRIVE, 0
        if phase is Phase.DRIFT:
            wanted = pilot.act(state, offset_fraction=side * config.drift_fraction * 1.1, lookahead_scale=0.7,
                               target_speed=pilot.target_speed * 0.8)
        elif phase is Phase.RECOVER:
            wanted = pilot.act(state, offset_fraction=0.0, lookahead_scale=0.8)
        else:
            wanted = pilot.act(state)
        applied = wanted._replace(steering=keys.steer(wanted.steering)) if keys else wanted
        yield DriveFrame(step, state, applied, phase, phase is not Phase.DRIFT, pilot.offset, pilot.half_width,
                         travelled / track.length, off_tracks)
        car.step(applied.to_command(profile, pilot.commanded_speed))


@dataclass
class RecordingStats:
    """What a recording produced."""

    path: Path
    frames: int = 0
    steps: int = 0
    recovery_frames: int = 0
    recoveries: int = 0
    laps: float = 0.0
    off_tracks: int = 0
    seconds: float = 0.0

    @property
    def frames_per_s(self) -> float:
        return self.frames / self.seconds if self.seconds else 0.0


def save_jpeg(frame: Any, path: Path, quality: int = 90) -> None:
    """Write a uint8 RGB frame as the simulator's JPEG (Pillow, baseline)."""
    Image.fromarray(frame).save(path, format="JPEG", quality=quality)


def record(track: Any, out_dir: str | Path, frames: int, *, recoveries: bool = False, keyboard: bool = False,
           seed: int = 0, randomisation: Randomisation | None = None, quality: int = 90,
           start: datetime | None = None, config: SessionConfig | None = None,
           on_progress: Callable[[RecordingStats], None] | None = None) -> RecordingStats:
    """Drive `track` (a road-scale track) and write `frames` recorded rows into `out_dir`."""
    if getattr(track, "scale", "udacity") != "udacity":
        raise ValueError(f"recording needs a road-scale (udacity) track; {track.name!r} is {track.scale!r} scale")
    config = config or SessionConfig(recoveries=recoveries, keyboard=keyboard)
    cameras = UdacityCameras(track, randomisation)
    stats = RecordingStats(path=Path(out_dir).resolve() / "driving_log.csv")
    began = time.perf_counter()
    previous_phase = Phase.DRIVE
    with DrivingLogWriter(out_dir, start=start) as writer:
        for frame in drive_session(track, UDACITY, config, seed):
            when = writer.tick()
            stats.steps += 1
            if frame.phase is Phase.RECOVER and previous_phase is not Phase.RECOVER:
                stats.recoveries += 1
            previous_phase = frame.phase
            if not frame.record:
                continue
            images = cameras.render(frame.state.x, frame.state.y, frame.state.yaw)
            paths = writer.image_paths(when)
            for camera in CAMERAS:
                save_jpeg(images[camera], paths[camera], quality)
            c = frame.controls
            writer.write_row(paths, to_udacity_steering(c.steering), c.throttle, c.brake,
                             max(frame.state.speed, 0.0) / MPH)
            stats.frames += 1
            stats.recovery_frames += frame.phase is Phase.RECOVER
            stats.laps, stats.off_tracks = frame.laps, frame.off_tracks
            if on_progress and (stats.frames % 100 == 0 or stats.frames == frames):
                stats.seconds = time.perf_counter() - began
                on_progress(stats)
            if stats.frames >= frames:
                break
    stats.seconds = time.perf_counter() - began
    return stats
