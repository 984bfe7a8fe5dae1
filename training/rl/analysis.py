"""Log analysis of an RL run (seed 004's workflow, built in), pure NumPy on the run's logs.

Reads what `training.rl.logs.TrainingLog` wrote (the NumPy column files, else the simtrace CSVs;
`metrics/TrainingMetrics.json`) and answers the questions DeepRacer teams ask of their logs:

- `reward_heatmap`: mean reward per x/y cell of the track;
- `actions_along_track`: per stretch of the lap (waypoint segments), the action histogram and the
  mean steering and speed chosen there;
- `best_and_worst_paths`: the paths of the best and worst episodes, by reward or by progress;
- `iteration_summary`: per iteration, episodes, reward (mean/min/max), % of episodes that
  completed the lap, and the evaluation trials' completion and lap times.

`analyse_run` bundles them into one JSON-ready dict for a range of iterations (100k steps take
well under a second: every reduction is a vectorised pass over the columns).
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from simulator.track import Track, load_track
from training.rl.logs import (
    COLUMNS_DTYPE,
    STATUSES,
    columns_path,
    evaluation_simtrace_path,
    metrics_path,
    parse_track_key,
    read_state,
)

_COMPLETE = STATUSES.index(next(s for s in STATUSES if s.value == "lap_complete"))
_STATUS_CODE = {s.value: i for i, s in enumerate(STATUSES)}
#: CSV header -> column name (as `training.rl.logs` names the .npz columns) and type.
_CSV_COLUMNS = {"episode": ("episode", np.int32), "steps": ("steps", np.float64), "X": ("x", np.float64),
                "Y": ("y", np.float64), "yaw": ("yaw", np.float64), "steer": ("steer", np.float64),
                "throttle": ("throttle", np.float64), "action": ("action", np.float64),
                "reward": ("reward", np.float64), "progress": ("progress", np.float64),
                "closest_waypoint": ("closest_waypoint", np.int32), "track_len": ("track_len", np.float64),
                "tstamp": ("tstamp", np.float64), "pause_duration": ("pause_duration", np.float64)}


class AnalysisError(ValueError):
    """The run has no logs to analyse (or not for the iterations asked for)."""


@dataclass
class Steps:
    """Columns of logged steps (one entry per step, episodes contiguous) and the track names the
    `track` column indexes."""

    columns: dict[str, np.ndarray]
    tracks: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.columns["x"])

    def __getitem__(self, name: str) -> np.ndarray:
        return self.columns[name]

    def select(self, mask: np.ndarray) -> Steps:
        return Steps({k: v[mask] for k, v in self.columns.items()}, self.tracks)

    def on_track(self, track: int | str) -> Steps:
        index = self.tracks.index(track) if isinstance(track, str) else track
        return self.select(self.columns["track"] == index)

    @property
    def main_track(self) -> int:
        """Index of the track with the most steps."""
        counts = np.bincount(self.columns["track"].astype(np.int64), minlength=len(self.tracks))
        return int(np.argmax(counts)) if len(counts) else 0


# --------------------------------------------------------------------------- loading
def logged_iterations(run_dir: str | os.PathLike, phase: str = "training") -> list[int]:
    """Iterations that have logs of `phase` ("training" or "evaluation"), in order."""
    run = Path(run_dir)
    found = set()
    folder = "training-simtrace" if phase == "training" else "evaluation-simtrace"
    for path in (run / folder).glob("*-iteration.csv"):
        head = path.name.split("-", 1)[0]
        if head.isdigit():
            found.add(int(head))
    return sorted(found)


def _log_tracks(run: Path) -> list[str]:
    """The track list the `track` column indexes: the log's state, else the run's
    training_config.json (logs without a state file ran on its first track)."""
    try:
        return list(read_state(run)["tracks"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    config = _training_config(run)
    if config is not None:
        return [config.tracks[0].key]
    return []


def _training_config(run: Path) -> Any:
    from training.rl.config import RLConfig

    try:
        return RLConfig.from_dict(json.loads((run / "training_config.json").read_text()))
    except (OSError, ValueError, TypeError):
        return None


def load_steps(run_dir: str | os.PathLike, phase: str = "training",
               iterations: Sequence[int] | range | None = None) -> Steps:
    """The steps of `phase` for `iterations` (default: all logged), with an `iteration` column."""
    if phase not in ("training", "evaluation"):
        raise ValueError("phase must be 'training' or 'evaluation'")
    run = Path(run_dir)
    available = logged_iterations(run, phase)
    wanted = available if iterations is None else [i for i in iterations if i in set(available)]
    if not wanted:
        raise AnalysisError(f"no {phase} logs" + ("" if iterations is None else " for those iterations")
                            + f" in {run}")
    parts = [_load_iteration(run, phase, iteration) for iteration in wanted]
    table = np.concatenate(parts)
    columns = {name: table[name] for name in COLUMNS_DTYPE.names or ()}
    columns["iteration"] = np.repeat(np.asarray(wanted, dtype=np.int32), [len(p) for p in parts])
    tracks = _log_tracks(run)
    if not tracks:
        tracks = ["unknown"]
    return Steps(columns, tracks)


def _columns_header_prefix() -> bytes:
    """The .npy header of a COLUMNS_DTYPE table up to its shape (the same in every such file)."""
    import io

    buffer = io.BytesIO()
    np.save(buffer, np.zeros(0, dtype=COLUMNS_DTYPE))
    raw = buffer.getvalue()
    return raw[: raw.index(b"'shape'")]


_HEADER_PREFIX = _columns_header_prefix()


def _load_iteration(run: Path, phase: str, iteration: int) -> np.ndarray:
    path = columns_path(run, phase, iteration)
    if path.exists():
        # np.load parses each header with ast.literal_eval (ms a file on a busy machine): a file
        # with the known header prefix is read directly, anything else through np.load.
        with path.open("rb") as f:
            head = f.read(len(_HEADER_PREFIX))
            if head == _HEADER_PREFIX:  # format 1.0: magic (6), version (2), header length (2)
                f.seek(10 + int.from_bytes(head[8:10], "little"))
                return np.fromfile(f, dtype=COLUMNS_DTYPE)
        table = np.load(path)
        if table.dtype == COLUMNS_DTYPE:
            return table
    csv_path = (run / "training-simtrace" / f"{iteration}-iteration.csv" if phase == "training"
                else evaluation_simtrace_path(run, iteration))
    return read_simtrace_csv(csv_path)


def read_simtrace_csv(path: str | os.PathLike) -> np.ndarray:
    """A simtrace CSV (ours or AWS's) as a COLUMNS_DTYPE table; track index 0."""
    with open(path, newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        rows = list(reader)
    index = {name: i for i, name in enumerate(header)}
    missing = [h for h in ("episode", "X", "Y", "reward", "progress", "episode_status") if h not in index]
    if missing:
        raise AnalysisError(f"{path}: not a simtrace CSV (missing {', '.join(missing)})")
    cols = list(zip(*rows, strict=True)) if rows else [()] * len(header)
    out: dict[str, np.ndarray] = {}
    for head, (name, dtype) in _CSV_COLUMNS.items():
        if head in index:
            out[name] = np.asarray(cols[index[head]], dtype=np.float64).astype(dtype)
    out["steps"] = out["steps"].astype(np.int32)
    out["action"] = out.get("action", np.full(len(rows), -1.0)).astype(np.int16)
    for name in ("done", "all_wheels_on_track"):
        out[name] = np.asarray([v == "True" for v in cols[index[name]]], dtype=bool) if name in index else \
            np.zeros(len(rows), dtype=bool)
    out["status"] = np.asarray([_STATUS_CODE.get(v, 1) for v in cols[index["episode_status"]]], dtype=np.int8)
    out["track"] = np.zeros(len(rows), dtype=np.int16)
    table = np.zeros(len(rows), dtype=COLUMNS_DTYPE)
    for name, values in out.items():
        table[name] = values
    return table


def track_of(steps: Steps, index: int | None = None) -> Track:
    """The `Track` of the steps' track `index` (default: the one with most steps)."""
    key = steps.tracks[steps.main_track if index is None else index]
    name, reverse = parse_track_key(key)
    return load_track(name, reverse=reverse)


# --------------------------------------------------------------------------- episodes
@dataclass
class Episodes:
    """Per-episode aggregates of a `Steps` (episodes in log order)."""

    start: np.ndarray  # index of the episode's first step
    end: np.ndarray  # index one past its last step
    iteration: np.ndarray
    episode: np.ndarray
    reward: np.ndarray
    progress: np.ndarray
    steps: np.ndarray
    status: np.ndarray  # status code of the last step
    track: np.ndarray
    time: np.ndarray  # seconds from first to last step

    def __len__(self) -> int:
        return len(self.start)

    @property
    def completed(self) -> np.ndarray:
        return self.status == _COMPLETE


def episodes_of(steps: Steps) -> Episodes:
    n = len(steps)
    if n == 0:
        empty = np.zeros(0, dtype=np.int64)
        return Episodes(empty, empty, empty, empty, np.zeros(0), np.zeros(0), empty, empty, empty, np.zeros(0))
    ep, it = steps["episode"], steps["iteration"]
    change = np.empty(n, dtype=bool)
    change[0] = True
    np.not_equal(ep[1:], ep[:-1], out=change[1:])
    change[1:] |= it[1:] != it[:-1]
    start = np.flatnonzero(change)
    end = np.append(start[1:], n)
    last = end - 1
    return Episodes(
        start=start, end=end, iteration=it[start].astype(np.int64), episode=ep[start].astype(np.int64),
        reward=np.add.reduceat(steps["reward"], start), progress=np.maximum.reduceat(steps["progress"], start),
        steps=end - start, status=steps["status"][last].astype(np.int64), track=steps["track"][start].astype(np.int64),
        time=steps["tstamp"][last] - steps["tstamp"][start],
    )


# --------------------------------------------------------------------------- analyses
def reward_heatmap(steps: Steps, track: Track, cell_m: float | None = None) -> dict[str, Any]:
    """Mean reward per square cell over the track's bounding box grown by a tenth of its longer
    side, where cars that left the track end up (None where no step fell). `cell_m` defaults
    to 1/96 of the box's longer side. Steps beyond the box are left out."""
    lo = np.minimum(track.inner.min(axis=0), track.outer.min(axis=0))
    hi = np.maximum(track.inner.max(axis=0), track.outer.max(axis=0))
    margin = 0.1 * float(max(hi - lo))
    lo, hi = lo - margin, hi + margin
    cell = float(cell_m or max(hi - lo) / 96.0)
    if cell <= 0:
        raise ValueError("cell_m must be positive")
    nx, ny = int(np.ceil((hi[0] - lo[0]) / cell)) or 1, int(np.ceil((hi[1] - lo[1]) / cell)) or 1
    ix = np.floor((steps["x"] - lo[0]) / cell).astype(np.int64)
    iy = np.floor((steps["y"] - lo[1]) / cell).astype(np.int64)
    inside = (ix >= 0) & (ix < nx) & (iy >= 0) & (iy < ny)
    flat = iy[inside] * nx + ix[inside]
    counts = np.bincount(flat, minlength=nx * ny).reshape(ny, nx)
    sums = np.bincount(flat, weights=steps["reward"][inside], minlength=nx * ny).reshape(ny, nx)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = sums / counts
    return {
        "x": (lo[0] + cell * (np.arange(nx) + 0.5)).round(4).tolist(),
        "y": (lo[1] + cell * (np.arange(ny) + 0.5)).round(4).tolist(),
        "mean_reward": [[None if c == 0 else round(float(v), 5) for v, c in zip(row, crow, strict=True)]
                        for row, crow in zip(mean, counts, strict=True)],
        "count": counts.tolist(),
        "cell_m": cell,
        "steps": int(inside.sum()),
    }


def actions_along_track(steps: Steps, track: Track, segments: int = 40,
                        n_actions: int | None = None) -> dict[str, Any]:
    """Per stretch of the lap (`segments` equal runs of waypoints, from the start line): the
    steps counted there, the mean commanded steering (deg) and speed (m/s), the histogram of
    discrete actions (when the actions are indices) and the stretch's middle point."""
    n_wp = len(track.center)
    segments = max(1, min(segments, n_wp))
    wp = np.clip(steps["closest_waypoint"].astype(np.int64), 0, n_wp) % n_wp
    seg = wp * segments // n_wp
    counts = np.bincount(seg, minlength=segments)
    with np.errstate(invalid="ignore", divide="ignore"):
        steer = np.bincount(seg, weights=steps["steer"], minlength=segments) / counts
        speed = np.bincount(seg, weights=steps["throttle"], minlength=segments) / counts
    actions = steps["action"].astype(np.int64)
    histogram: list[list[int]] | None = None
    if len(actions) and actions.min() >= 0:
        k = int(n_actions or actions.max() + 1)
        hist = np.bincount(seg * k + np.clip(actions, 0, k - 1), minlength=segments * k).reshape(segments, k)
        histogram = hist.tolist()
    middle = (np.arange(segments) * n_wp + n_wp // 2) // segments
    return {
        "segment": list(range(segments)),
        "first_waypoint": ((np.arange(segments) * n_wp + segments - 1) // segments).tolist(),
        "x": track.center[middle, 0].round(4).tolist(),
        "y": track.center[middle, 1].round(4).tolist(),
        "count": counts.tolist(),
        "mean_steering_deg": [None if c == 0 else round(float(v), 3) for v, c in zip(steer, counts, strict=True)],
        "mean_speed": [None if c == 0 else round(float(v), 3) for v, c in zip(speed, counts, strict=True)],
        "action_histogram": histogram,
    }


def best_and_worst_paths(steps: Steps, by: str = "reward", n: int = 3) -> dict[str, list[dict[str, Any]]]:
    """The `n` best and `n` worst episodes by total `reward` or by `progress` (ties: fewer
    steps first), each with its path (x, y, speed along it)."""
    if by not in ("reward", "progress"):
        raise ValueError("by must be 'reward' or 'progress'")
    eps = episodes_of(steps)
    if not len(eps):
        return {"best": [], "worst": []}
    key = eps.reward if by == "reward" else eps.progress
    order = np.lexsort((eps.steps, -key))  # best first
    best = order[:n]
    worst = order[::-1][:n] if len(order) > n else order[::-1][:0]
    return {"best": [_path(steps, eps, i) for i in best], "worst": [_path(steps, eps, i) for i in worst]}


def _path(steps: Steps, eps: Episodes, i: int) -> dict[str, Any]:
    sl = slice(int(eps.start[i]), int(eps.end[i]))
    return {
        "iteration": int(eps.iteration[i]), "episode": int(eps.episode[i]),
        "reward": round(float(eps.reward[i]), 4), "progress": round(float(eps.progress[i]), 3),
        "steps": int(eps.steps[i]), "status": STATUSES[int(eps.status[i])].value,
        "track": steps.tracks[int(eps.track[i])] if int(eps.track[i]) < len(steps.tracks) else "unknown",
        "x": steps["x"][sl].round(4).tolist(), "y": steps["y"][sl].round(4).tolist(),
        "speed": steps["throttle"][sl].round(3).tolist(),
    }


def iteration_summary(run_dir: str | os.PathLike) -> list[dict[str, Any]]:
    """One row per iteration from metrics/TrainingMetrics.json: episodes, reward mean/min/max,
    mean progress, % of episodes that completed the lap, and the evaluation trials after it
    (count, mean completion %, lap times of the completed ones in seconds)."""
    path = metrics_path(run_dir)
    try:
        document = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise AnalysisError(f"no training metrics in {run_dir}") from exc
    entries = document.get("metrics") or []
    training = [m for m in entries if m.get("phase") == "training"]
    if not training:
        return []
    iteration_of_episode = _iteration_of_episode(run_dir, training)
    rows: dict[int, dict[str, Any]] = {}
    for m in training:
        it = iteration_of_episode(m["episode"])
        row = rows.setdefault(it, {"iteration": it, "rewards": [], "progress": [], "complete": 0,
                                   "eval": []})
        row["rewards"].append(float(m["reward_score"]))
        row["progress"].append(float(m["completion_percentage"]))
        row["complete"] += m["episode_status"] == "Lap complete"
    for m in entries:
        if m.get("phase") == "evaluation":
            it = iteration_of_episode(m["episode"])
            if it in rows:
                rows[it]["eval"].append(m)
    out = []
    for it in sorted(rows):
        row = rows[it]
        rewards = np.asarray(row["rewards"])
        n = len(rewards)
        evals = row["eval"]
        out.append({
            "iteration": it,
            "episodes": n,
            "reward_mean": round(float(rewards.mean()), 4),
            "reward_min": float(rewards.min()),
            "reward_max": float(rewards.max()),
            "progress_mean": round(float(np.mean(row["progress"])), 3),
            "completed_pct": round(100.0 * row["complete"] / n, 2),
            "eval_trials": len(evals),
            "eval_completion_pct": (round(float(np.mean([e["completion_percentage"] for e in evals])), 2)
                                    if evals else None),
            "eval_lap_times": [e["elapsed_time_in_milliseconds"] / 1000.0 for e in evals
                               if e["episode_status"] == "Lap complete"],
        })
    return out


def _iteration_of_episode(run_dir: str | os.PathLike, training: list[dict[str, Any]]) -> Any:
    """Episode number (1-based) -> iteration: from the log's state when there is one, else as
    deepracer-utils does (a constant number of episodes per iteration, the largest trial)."""
    try:
        bounds = [(r["first_episode"] + 1, r["first_episode"] + r["episodes"], r["iteration"])
                  for r in read_state(run_dir)["iterations"]]
    except (OSError, ValueError, KeyError, TypeError):
        bounds = []
    if bounds:
        firsts = np.asarray([b[0] for b in bounds])
        its = [b[2] for b in bounds]
        return lambda episode: its[max(int(np.searchsorted(firsts, episode, side="right")) - 1, 0)]
    per = max(int(m["trial"]) for m in training) or 1
    return lambda episode: (int(episode) - 1) // per


def analyse_run(run_dir: str | os.PathLike, iterations: Sequence[int] | range | None = None, *,
                track: str | None = None, by: str = "reward", n_paths: int = 3,
                segments: int = 40, n_actions: int | None = None) -> dict[str, Any]:
    """Everything the log-analysis page shows, JSON-ready: the per-iteration table and, for the
    steps of `iterations` (default all) on `track` (default: the track most steps ran on), the
    reward heat map, actions along the track and the best/worst episode paths."""
    summary = iteration_summary(run_dir)
    labels = action_labels(run_dir)
    if n_actions is None and labels:
        n_actions = len(labels)
    steps = load_steps(run_dir, "training", iterations)
    if track is not None and track not in steps.tracks:
        raise AnalysisError(f"the run did not train on {track!r} (tracks: {', '.join(steps.tracks)})")
    index = steps.main_track if track is None else steps.tracks.index(track)
    on_track = steps.on_track(index)
    the_track = track_of(steps, index)
    its = sorted(set(steps["iteration"].tolist()))
    wanted = set(its)
    return {
        "iterations": its,
        "tracks": steps.tracks,
        "track": steps.tracks[index],
        "steps": len(on_track),
        "episodes": len(episodes_of(on_track)),
        "summary": summary,
        "summary_in_range": [row for row in summary if row["iteration"] in wanted],
        "heatmap": reward_heatmap(on_track, the_track),
        "actions": actions_along_track(on_track, the_track, segments, n_actions),
        "paths": best_and_worst_paths(on_track, by, n_paths),
        "action_labels": labels,
    }


def action_labels(run_dir: str | os.PathLike) -> list[str] | None:
    """"-15 deg 0.8 m/s" per discrete action of the run's model_metadata.json (None for a
    continuous space or without the file)."""
    try:
        meta = json.loads((Path(run_dir) / "model_metadata.json").read_text())
    except (OSError, ValueError):
        config = _training_config(Path(run_dir))
        meta = config.model_metadata().to_json() if config is not None else None
    space = meta.get("action_space") if isinstance(meta, dict) else None
    if not isinstance(space, list):
        return None
    try:
        return [f"{float(a['steering_angle']):+g} deg {float(a['speed']):g} m/s" for a in space]
    except (KeyError, TypeError, ValueError):
        return None


@dataclass
class RunAnalysis:
    """`analyse_run`'s result for iterations first..last, with the track it was drawn on."""

    run_dir: Path
    first: int
    last: int
    result: dict[str, Any]
    track: Track

    def totals(self) -> dict[str, Any]:
        """Episodes and steps analysed, the iterations found in the range and the track."""
        its = self.result["iterations"]
        return {"episodes": self.result["episodes"], "steps": self.result["steps"],
                "iterations": len(its), "first": its[0], "last": its[-1], "track": self.result["track"]}


def load_run(run_dir: str | os.PathLike, first: int | None = None, last: int | None = None, *,
             track: str | None = None, by: str = "reward", n_paths: int = 3, segments: int = 40) -> RunAnalysis:
    """`analyse_run` for iterations `first`..`last` (default: all), as a `RunAnalysis` that
    `training.rl.plots.analysis_figures` draws."""
    available = logged_iterations(run_dir)
    if not available:
        raise AnalysisError(f"no training logs in {run_dir}")
    low = available[0] if first is None else first
    high = available[-1] if last is None else last
    result = analyse_run(run_dir, [i for i in available if low <= i <= high], track=track, by=by,
                         n_paths=n_paths, segments=segments)
    name, reverse = parse_track_key(result["track"])
    return RunAnalysis(Path(run_dir), low, high, result, load_track(name, reverse=reverse))
