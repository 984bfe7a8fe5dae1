"""Fit the DEEPRACER car's response to the AWS console's own traces, and measure how close it is.

Why: RL lap times are only comparable with the console's if our car responds to a command as the
console's car does. The console's simtraces (../shared/data/deepracer/logs) log, at 15 Hz, the
point DeepRacer reports (0.14 m ahead of the car origin), the heading and the commanded steering
angle and speed. Replaying the commands through `simulator.car` from each episode's first pose
shows how far apart the two cars are; fitting the profile's response model brings them together.

How the traces are read:
- Speed per step is the distance between consecutive logged points times the action rate. The
  logged `tstamp` steps jitter (0.04-0.08 s) without the distance moving with them (correlation
  -0.04 over the evaluation laps), so dividing by them would only add noise; their mean is 1/15 s.
- Row 0 of an episode is DeepRacer's 'prepare' step: the car stays where it is (as ours does), and
  row k >= 1 is the state after command k, as `simulator.episode.Session.step` records it.

What is fitted, by least squares (`scipy.optimize.least_squares`) for each response lag on the
physics' sub-step grid (1/60 s), keeping the lag with the smallest cost:
- speed: `speed_gain`, `max_accel`, `speed_time_constant_s`, from the per-step speed errors of the
  open-loop replays from each episode's first pose (speed hardly depends on the path);
- steering: `steering_gain`, `steering_time_constant_s`, from the one-step heading errors of a
  tracked replay (the pose is put back on the logged one before each step, the car's own speed,
  wheel angle and commands in flight carry on), which do not pile up as open-loop headings do.
Each kind of error is scaled by its noise floor (`SPEED_SCALE`, `YAW_SCALE`) so both count alike.
The path errors after 1 s and 2 s are measured, not fitted: open loop from each episode's first
pose, and from a logged pose every second of the long episodes with the car's internal state as
the tracked replay had it there.
"""

from __future__ import annotations

import copy
import csv
import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from scipy.optimize import least_squares

from simulator.car import DEEPRACER, Car, CarProfile, CarState, Command, reference_point

CONSOLE_TRACES = ("console_training_simtrace_0-iteration.csv", "console_evaluation_simtrace_0-iteration.csv")
FITTED = ("speed_gain", "max_accel", "speed_time_constant_s", "steering_gain", "steering_time_constant_s")
START = (1.05, 3.0, 0.2, 0.8, 0.4)
LOWER = (0.8, 0.5, 0.0, 0.2, 0.0)
UPPER = (1.3, 20.0, 1.0, 1.5, 2.0)
SPEED_SCALE = 0.08  # m/s: the logged per-step speeds scatter about this much at a steady command
YAW_SCALE = math.radians(0.75)  # rad: the best linear heading model leaves about this per step
REQUIRED_COLUMNS = ("episode", "steps", "X", "Y", "yaw", "steer", "throttle")


@dataclass(frozen=True)
class TraceEpisode:
    """One episode of a simtrace: logged points (m), heading (rad), commands (degrees, m/s)."""

    source: str
    episode: int
    x: np.ndarray
    y: np.ndarray
    yaw: np.ndarray
    steering_deg: np.ndarray
    speed: np.ndarray

    def __len__(self) -> int:
        return len(self.x)

    @property
    def points(self) -> np.ndarray:
        return np.column_stack([self.x, self.y])


def read_simtrace(path: str | os.PathLike) -> list[TraceEpisode]:
    """The episodes of a DeepRacer simtrace CSV, rows in step order."""
    path = Path(path)
    rows: dict[int, list[dict[str, str]]] = {}
    with path.open(newline="") as stream:
        reader = csv.DictReader(stream)
        missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"{path.name}: not a DeepRacer simtrace (missing columns {missing})")
        for line, row in enumerate(reader, start=2):
            try:
                rows.setdefault(int(row["episode"]), []).append(row)
            except ValueError:
                raise ValueError(f"{path.name} line {line}: episode {row['episode']!r} is not a number") from None
    episodes = []
    for number, group in sorted(rows.items()):
        group.sort(key=lambda r: float(r["steps"]))
        column = {c: np.array([float(r[c]) for r in group]) for c in REQUIRED_COLUMNS[2:]}
        episodes.append(TraceEpisode(path.name, number, column["X"], column["Y"], np.radians(column["yaw"]),
                                     column["steer"], column["throttle"]))
    return episodes


def load_console_traces(log_dir: str | os.PathLike) -> list[TraceEpisode]:
    """The console's training and evaluation episodes on reinvent_base."""
    return [e for name in CONSOLE_TRACES for e in read_simtrace(Path(log_dir) / name)]


def start_state(profile: CarProfile, episode: TraceEpisode, k: int = 0) -> CarState:
    """The car at rest at row k's logged pose (the car origin is `xy_ahead` behind the point)."""
    yaw = float(episode.yaw[k])
    return CarState(float(episode.x[k]) - profile.xy_ahead * math.cos(yaw),
                    float(episode.y[k]) - profile.xy_ahead * math.sin(yaw), yaw)


def _command(episode: TraceEpisode, k: int) -> Command:
    return Command(float(episode.steering_deg[k]), float(episode.speed[k]))


def replay(profile: CarProfile, episode: TraceEpisode) -> np.ndarray:
    """Open loop from the episode's first pose: our reported point at every row, (N, 2)."""
    car = Car(profile, start_state(profile, episode))
    points = [reference_point(profile, car.state)]
    for k in range(1, len(episode)):
        points.append(reference_point(profile, car.step(_command(episode, k))))
    return np.array(points)


def step_speeds(points: np.ndarray, action_hz: float) -> np.ndarray:
    """Speed over each step (m/s): distance between consecutive points times the action rate."""
    return np.hypot(*np.diff(points, axis=0).T) * action_hz


def _wrap(angle: np.ndarray | float) -> np.ndarray | float:
    return (np.asarray(angle) + np.pi) % (2.0 * np.pi) - np.pi


def tracked_replay(profile: CarProfile, episode: TraceEpisode, keep_cars: bool = False) -> tuple[np.ndarray, list[Car]]:
    """Before each step the pose goes back to the logged one; the car's speed, wheel angle and
    commands in flight carry on. Returns the one-step heading errors (rad, N - 1) and, with
    `keep_cars`, a copy of the car before each row's step (cars[k] is about to apply command k + 1)."""
    car = Car(profile, start_state(profile, episode))
    errors = np.empty(len(episode) - 1)
    cars = []
    for k in range(1, len(episode)):
        logged = start_state(profile, episode, k - 1)
        car.state = car.state._replace(x=logged.x, y=logged.y, yaw=logged.yaw)
        if keep_cars:
            cars.append(copy.deepcopy(car))
        errors[k - 1] = car.step(_command(episode, k)).yaw - episode.yaw[k]
    return np.asarray(_wrap(errors)), cars


def residuals(profile: CarProfile, episodes: Sequence[TraceEpisode]) -> np.ndarray:
    """The fit's residuals: per-step speed errors (open loop) and one-step heading errors (tracked),
    each divided by its noise floor."""
    parts = []
    for episode in episodes:
        speeds = step_speeds(replay(profile, episode), profile.action_hz)
        parts.append((speeds - step_speeds(episode.points, profile.action_hz)) / SPEED_SCALE)
        parts.append(tracked_replay(profile, episode)[0] / YAW_SCALE)
    return np.concatenate(parts)


def with_fitted(profile: CarProfile, values: Sequence[float] | np.ndarray) -> CarProfile:
    """`profile` with the `FITTED` fields set to `values`, in that order."""
    fields: dict[str, Any] = {name: float(v) for name, v in zip(FITTED, values, strict=True)}
    return replace(profile, **fields)


@dataclass(frozen=True)
class FitResult:
    profile: CarProfile
    lag_substeps: int
    cost: float  # mean squared scaled residual
    cost_by_lag: dict[int, float]


def fit(episodes: Sequence[TraceEpisode], base: CarProfile = DEEPRACER, lags: Iterable[int] = range(9),
        start: Sequence[float] | None = None) -> FitResult:
    """Least-squares fit of `FITTED` for each response lag (in physics sub-steps); the best lag wins."""
    if not episodes:
        raise ValueError("no trace episodes to fit")
    sub_dt = 1.0 / (base.action_hz * base.substeps)
    best: FitResult | None = None
    costs: dict[int, float] = {}
    for lag in lags:
        lagged = replace(base, response_lag_s=lag * sub_dt)

        def scaled(q: np.ndarray, lagged: CarProfile = lagged) -> np.ndarray:
            return residuals(with_fitted(lagged, q), episodes)

        x0 = np.clip(start if start is not None else START, LOWER, UPPER)
        solution = least_squares(scaled, x0, bounds=(LOWER, UPPER), diff_step=1e-3, x_scale="jac")
        costs[lag] = float(np.mean(solution.fun**2))
        if best is None or costs[lag] < best.cost:
            fitted = with_fitted(lagged, solution.x)
            best = FitResult(fitted, lag, costs[lag], costs)
    assert best is not None
    return replace(best, cost_by_lag=costs)


@dataclass(frozen=True)
class ReplayFigures:
    """How far our car is from the console's over the traces (metres, m/s)."""

    speed_error_rms: float  # per step, open loop from each episode's first pose
    speed_error_p95: float
    speed_error_max: float
    start_speeds_console: list[float]  # mean over the evaluation laps' first steps (command 1 m/s)
    start_speeds_ours: list[float]
    steady_speed_console: float  # mean speed where the command has been 1 m/s for 0.5 s
    steady_speed_ours: float
    heading_error_rms_deg: float  # one step, tracked
    path_error_1s: list[float]  # from each episode's first pose (episodes at least 1 s long)
    path_error_2s: list[float]
    window_path_error_1s: list[float]  # from a logged pose every second of the long episodes
    window_path_error_2s: list[float]

    def summary(self) -> dict[str, Any]:
        """The figures as a flat JSON-ready dict (metres, m/s, degrees), rounded."""

        def stats(name: str, values: list[float]) -> dict[str, Any]:
            return {f"{name}_mean_m": round(float(np.mean(values)), 4),
                    f"{name}_max_m": round(float(np.max(values)), 4), f"{name}_n": len(values)}

        return {
            "speed_error_rms": round(self.speed_error_rms, 4),
            "speed_error_p95": round(self.speed_error_p95, 4),
            "speed_error_max": round(self.speed_error_max, 4),
            "steady_speed_console": round(self.steady_speed_console, 4),
            "steady_speed_ours": round(self.steady_speed_ours, 4),
            "start_speeds_console": [round(v, 3) for v in self.start_speeds_console],
            "start_speeds_ours": [round(v, 3) for v in self.start_speeds_ours],
            "heading_error_rms_deg": round(self.heading_error_rms_deg, 4),
            **stats("path_error_1s", self.path_error_1s),
            **stats("path_error_2s", self.path_error_2s),
            **stats("window_path_error_1s", self.window_path_error_1s),
            **stats("window_path_error_2s", self.window_path_error_2s),
        }


def _window_errors(profile: CarProfile, episode: TraceEpisode, cars: list[Car], every: int,
                   horizons: tuple[int, ...]) -> dict[int, list[float]]:
    errors: dict[int, list[float]] = {h: [] for h in horizons}
    for start in range(every, len(episode) - max(horizons), every):
        car = copy.deepcopy(cars[start])  # at row start's logged pose, about to apply command start + 1
        for k in range(start + 1, start + max(horizons) + 1):
            state = car.step(_command(episode, k))
            if k - start in errors:
                rx, ry = reference_point(profile, state)
                errors[k - start].append(math.hypot(rx - episode.x[k], ry - episode.y[k]))
    return errors


def measure(profile: CarProfile, episodes: Sequence[TraceEpisode], long_episode_steps: int = 100) -> ReplayFigures:
    """Replay every episode through `profile` and gather the figures the tests and the bench report."""
    hz = profile.action_hz
    one_s, two_s = round(hz), round(2 * hz)
    speed_errors, heading_errors = [], []
    path = {one_s: [], two_s: []}  # type: dict[int, list[float]]
    windows = {one_s: [], two_s: []}  # type: dict[int, list[float]]
    start_log, start_ours, steady_log, steady_ours = [], [], [], []
    for episode in episodes:
        ours = replay(profile, episode)
        v_ours, v_log = step_speeds(ours, hz), step_speeds(episode.points, hz)
        speed_errors.append(v_ours - v_log)
        heading, cars = tracked_replay(profile, episode, keep_cars=True)
        heading_errors.append(heading)
        error = np.hypot(*(ours - episode.points).T)
        for h in path:
            if len(episode) > h:
                path[h].append(float(error[h]))
        if len(episode) >= long_episode_steps:
            for h, values in _window_errors(profile, episode, cars, one_s, (one_s, two_s)).items():
                windows[h].extend(values)
            start_log.append(v_log[:10])
            start_ours.append(v_ours[:10])
            held = round(hz / 2)
            for k in range(held, len(v_log)):  # v[k - 1] is the step that applies command k
                if np.all(episode.speed[k - held + 1:k + 1] == 1.0):
                    steady_log.append(v_log[k - 1])
                    steady_ours.append(v_ours[k - 1])
    errors = np.abs(np.concatenate(speed_errors))
    if not start_log:
        raise ValueError(f"no episode of at least {long_episode_steps} steps to measure steady speeds on")
    return ReplayFigures(
        speed_error_rms=float(np.sqrt(np.mean(errors**2))),
        speed_error_p95=float(np.percentile(errors, 95)),
        speed_error_max=float(errors.max()),
        start_speeds_console=[float(v) for v in np.mean(start_log, axis=0)],
        start_speeds_ours=[float(v) for v in np.mean(start_ours, axis=0)],
        steady_speed_console=float(np.mean(steady_log)),
        steady_speed_ours=float(np.mean(steady_ours)),
        heading_error_rms_deg=math.degrees(float(np.sqrt(np.mean(np.concatenate(heading_errors) ** 2)))),
        path_error_1s=path[one_s],
        path_error_2s=path[two_s],
        window_path_error_1s=windows[one_s],
        window_path_error_2s=windows[two_s],
    )
