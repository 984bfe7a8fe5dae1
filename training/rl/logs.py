"""Training logs of an RL run, in DeepRacer's own formats, written as the run goes.

`TrainingLog` is called by the trainer once per iteration (and once per evaluation between
iterations). It writes, under the run's out_dir, what deepracer-for-cloud (single worker) and the
AWS console leave behind, so that `deepracer-utils` and the community's notebooks read our runs:

- `training-simtrace/{n}-iteration.csv`: every step of iteration n's episodes (SIMTRACE_HEADER);
- `logs/robomaker.log`: the same steps as raw `SIM_TRACE_LOG:` lines, after the simapp's header
  lines that deepracer-utils parses (hyperparameters, action space, sensor/network);
- `metrics/TrainingMetrics.json`: one entry per episode, phase "training", then the iteration's
  evaluation trials, phase "evaluation" (DeepRacer's layout: `episode` counts from 1 over the run,
  `trial` within the iteration; an evaluation row carries the iteration's last episode and trial,
  as deepracer-for-cloud writes them);
- `evaluation-simtrace/{n}-iteration.csv`: the steps of the evaluation trials after iteration n;
- `logs/columns/{training,evaluation}-{n}.npy`: the same steps as NumPy columns (plus the track
  of each step), which `training.rl.analysis` loads in milliseconds instead of parsing CSV.

deepracer-utils derives the iteration of an episode from a constant number of episodes per
iteration (DeepRacer's `num_episodes_between_training`): give `write_iteration` the same number
of episodes every iteration for its iteration numbers to match ours.

Resumable: `TrainingLog(out_dir, resume=True)` continues after the last iteration written;
writing an iteration again (a worker killed after logging it but before its checkpoint) replaces
it and everything logged after it. Every file grows by appending, so an iteration costs the same
at hour 20 as at minute 1 (rewriting the whole TrainingMetrics.json each iteration took 11 % of a
30-minute run and grew with it): each iteration's entries are written over what closes
TrainingMetrics.json's `metrics` list (`], "version": ..., "best_model_metric": ...}`, DeepRacer's
key order) and the document is closed again; the state
(`logs/training_log_state.jsonl`, read with `read_state`) is one JSON line per iteration
written (a later line for the same iteration replaces it). The state records the byte offsets
where each iteration starts in every file, so a resume or a rewritten iteration cuts them back.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from simulator.episode import EvaluationResult, StepResult
from simulator.rules import METRICS_STATUS, EpisodeStatus
from simulator.simtrace import (
    SIM_TRACE_LOG_FORMAT,
    SIMTRACE_HEADER,
    simtrace_row,
    training_episode_metric,
    training_metrics,
    training_simtrace_path,
)
from simulator.track import Track

STATE_VERSION = 2
#: What opens TrainingMetrics.json before its first entry.
_METRICS_OPEN = '{"metrics": ['

#: Episode statuses by code, as stored in the `status` column of the column files.
STATUSES: tuple[EpisodeStatus, ...] = tuple(EpisodeStatus)
_STATUS_CODE = {s.value: i for i, s in enumerate(STATUSES)}
#: The columns file of an iteration: SIMTRACE_HEADER's fields (lower case), the status as a code
#: into STATUSES and the track as an index into the log's track list.
COLUMNS_DTYPE = np.dtype([
    ("episode", np.int32), ("steps", np.int32), ("x", np.float32), ("y", np.float32), ("yaw", np.float32),
    ("steer", np.float32), ("throttle", np.float32), ("action", np.int16), ("reward", np.float64),
    ("done", np.bool_), ("all_wheels_on_track", np.bool_), ("progress", np.float32),
    ("closest_waypoint", np.int32), ("track_len", np.float32), ("tstamp", np.float64), ("status", np.int8),
    ("pause_duration", np.float32), ("track", np.int16),
])
#: Column of COLUMNS_DTYPE for each simtrace row field (None: converted separately).
_ROW_FIELDS = ("episode", "steps", "x", "y", "yaw", "steer", "throttle", "action", "reward", "done",
               "all_wheels_on_track", "progress", "closest_waypoint", "track_len", "tstamp", None,
               "pause_duration")


class TrainingLogError(ValueError):
    """A call that would make the log inconsistent (wrong order, empty episode, bad track list)."""


def metrics_path(out_dir: str | os.PathLike) -> Path:
    return Path(out_dir) / "metrics" / "TrainingMetrics.json"


def robomaker_log_path(out_dir: str | os.PathLike) -> Path:
    return Path(out_dir) / "logs" / "robomaker.log"


def evaluation_simtrace_path(out_dir: str | os.PathLike, iteration: int) -> Path:
    """The evaluation trials run after `iteration` (not deepracer-utils' `evaluation-{stamp}/`
    layout, which is for separate evaluation jobs)."""
    return Path(out_dir) / "evaluation-simtrace" / f"{iteration}-iteration.csv"


def columns_path(out_dir: str | os.PathLike, phase: str, iteration: int) -> Path:
    return Path(out_dir) / "logs" / "columns" / f"{phase}-{iteration}.npy"


def state_path(out_dir: str | os.PathLike) -> Path:
    return Path(out_dir) / "logs" / "training_log_state.jsonl"


def _old_state_path(out_dir: str | os.PathLike) -> Path:
    """The state file of logs written before STATE_VERSION 2 (one JSON document)."""
    return Path(out_dir) / "logs" / "training_log_state.json"


def read_state(out_dir: str | os.PathLike) -> dict[str, Any]:
    """The log's state: {"tracks": [...], "iterations": [IterationRecord dicts, in order]}.
    Raises OSError when there is none and ValueError when it is not a training log state; a
    last line cut short by a kill is ignored."""
    path = state_path(out_dir)
    if not path.exists() and _old_state_path(out_dir).exists():
        old = json.loads(_old_state_path(out_dir).read_text())
        if not isinstance(old, dict) or old.get("version") != 1:
            raise ValueError("not a training log state")
        return {"tracks": list(old["tracks"]), "iterations": list(old["iterations"])}
    state, _ = _read_state_lines(path)
    return {"tracks": state["tracks"], "iterations": state["iterations"]}


def _read_state_lines(path: Path) -> tuple[dict[str, Any], dict[int, int]]:
    """(state, byte offset of each iteration's first line)."""
    tracks: list[str] = []
    records: dict[int, dict[str, Any]] = {}
    offsets: dict[int, int] = {}
    offset = 0
    with path.open("rb") as f:
        for raw in f:
            if not raw.endswith(b"\n"):
                break  # a line cut short by a kill
            line = json.loads(raw)
            if not isinstance(line, dict) or line.get("version") != STATE_VERSION:
                raise ValueError("not a training log state")
            record = line["record"]
            records[int(record["iteration"])] = record
            offsets.setdefault(int(record["iteration"]), offset)
            tracks = list(line["tracks"])
            offset += len(raw)
    ordered = [records[k] for k in sorted(records)]
    return {"tracks": tracks, "iterations": ordered, "end": offset}, offsets


def track_key(track: Track) -> str:
    """How a track is named in the logs: its name, with " (reversed)" for the clockwise way."""
    return f"{track.name} (reversed)" if track.reverse else track.name


def parse_track_key(key: str) -> tuple[str, bool]:
    """(name, reverse) of a `track_key`."""
    suffix = " (reversed)"
    return (key[: -len(suffix)], True) if key.endswith(suffix) else (key, False)


@dataclass(frozen=True)
class IterationRecord:
    """What the log knows of one written iteration (kept in the state file)."""

    iteration: int
    first_episode: int  # 0-based over the run, as in the simtrace's `episode` column
    episodes: int
    metrics_start: int  # index of the iteration's first entry in TrainingMetrics.json
    robomaker_start: int  # byte offsets of the iteration's lines in logs/robomaker.log
    robomaker_end: int
    evaluation_trials: int = 0
    # Byte offsets in TrainingMetrics.json where the iteration's training entries and its
    # evaluation entries begin (each where the document's closing text stood), and where they end.
    metrics_offset: int = 0
    evaluation_offset: int = 0
    metrics_end: int = 0

    def to_dict(self) -> dict[str, int]:
        return {k: int(v) for k, v in self.__dict__.items()}


class TrainingLog:
    """Append-only DeepRacer-format logs of one training run; see the module docstring."""

    def __init__(self, out_dir: str | os.PathLike, *, resume: bool = False,
                 best_model_metric: str = "progress") -> None:
        self.out_dir = Path(out_dir)
        self.best_model_metric = best_model_metric
        self.iterations: list[IterationRecord] = []
        self.tracks: list[str] = []
        self.metric_count = 0  # entries in TrainingMetrics.json
        # What follows its last entry: the end of the list and the document's other keys.
        rest = json.dumps({k: v for k, v in training_metrics([], best_model_metric).items() if k != "metrics"})
        self._metrics_close = ("\n], " + rest[1:] + "\n").encode()
        self._state_offsets: dict[int, int] = {}  # iteration -> its first line in the state file
        self._state_end = 0
        if resume and (state_path(self.out_dir).exists() or _old_state_path(self.out_dir).exists()):
            self._load_state()
        else:
            self._clear()
            self._open_metrics()

    # ------------------------------------------------------------------ public API
    @property
    def next_episode(self) -> int:
        last = self.iterations[-1] if self.iterations else None
        return last.first_episode + last.episodes if last else 0

    @property
    def last_iteration(self) -> int | None:
        return self.iterations[-1].iteration if self.iterations else None

    def write_iteration(self, iteration: int, episodes: Sequence[Sequence[StepResult]],
                        tracks: Track | Sequence[Track]) -> list[dict[str, Any]]:
        """Log iteration `iteration`: `episodes` are the complete episodes it collected, each a
        list of its steps in order (rewards filled in), `tracks` the track they ran on (one for
        all, or one per episode). Returns the iteration's TrainingMetrics entries."""
        if iteration < 0:
            raise TrainingLogError("iteration must be >= 0")
        if not episodes:
            raise TrainingLogError(f"iteration {iteration} has no episodes to log")
        per_episode = self._tracks_for(tracks, len(episodes), "episode")
        self._drop_from(iteration)
        first = self.next_episode
        rows: list[list[Any]] = []
        track_column: list[int] = []
        entries: list[dict[str, Any]] = []
        for i, steps in enumerate(episodes):
            if not steps:
                raise TrainingLogError(f"iteration {iteration}: episode {i} has no steps")
            track = per_episode[i]
            number = first + i
            rows.extend(simtrace_row(s, track.length, number) for s in steps)
            track_column.extend([self._track_index(track)] * len(steps))
            entries.append(training_episode_metric(number + 1, steps, trial=i + 1))
        _write_csv(training_simtrace_path(self.out_dir, iteration), rows)
        _write_columns(columns_path(self.out_dir, "training", iteration), rows, track_column)
        start, end = self._append_robomaker(rows)
        offset = self._metrics_end()
        after = self._append_metrics(offset, entries)
        record = IterationRecord(iteration=iteration, first_episode=first, episodes=len(episodes),
                                 metrics_start=self.metric_count, robomaker_start=start, robomaker_end=end,
                                 metrics_offset=offset, evaluation_offset=after, metrics_end=after)
        self.metric_count += len(entries)
        self.iterations.append(record)
        self._save_record(record)
        return entries

    def write_evaluation(self, iteration: int, evaluation: EvaluationResult,
                         tracks: Track | Sequence[Track]) -> list[dict[str, Any]]:
        """Log the evaluation trials run after iteration `iteration` (the last one written):
        `evaluation` is `simulator.episode.run_trials`' result, `tracks` the track of all its
        trials or one per trial. Returns the phase "evaluation" metrics entries."""
        if not self.iterations or self.iterations[-1].iteration != iteration:
            raise TrainingLogError(
                f"evaluation of iteration {iteration}: write that iteration first (last written: "
                f"{self.last_iteration})")
        if not evaluation.trials:
            raise TrainingLogError(f"evaluation of iteration {iteration} has no trials")
        record = self.iterations[-1]
        self.metric_count = record.metrics_start + record.episodes  # an evaluation written again replaces it
        per_trial = self._tracks_for(tracks, len(evaluation.trials), "trial")
        by_episode = {t: per_trial[t] for t in range(len(evaluation.trials))}
        rows = []
        track_column = []
        for step in evaluation.trace:
            track = by_episode.get(step.episode)
            if track is None:
                raise TrainingLogError(f"evaluation trace has a step of trial {step.episode + 1}, "
                                       f"but only {len(evaluation.trials)} trials")
            rows.append(simtrace_row(step, track.length))
            track_column.append(self._track_index(track))
        _write_csv(evaluation_simtrace_path(self.out_dir, iteration), rows)
        _write_columns(columns_path(self.out_dir, "evaluation", iteration), rows, track_column)
        last_episode = record.first_episode + record.episodes  # 1-based number of the last one
        entries = []
        for trial in evaluation.trials:
            start = round(trial.start_time_s * 1000.0)
            end = round((trial.start_time_s + trial.elapsed_s) * 1000.0)
            entries.append({
                "reward_score": int(round(trial.total_reward)),
                "metric_time": end,
                "start_time": start,
                "elapsed_time_in_milliseconds": end - start,
                "episode": last_episode,
                "trial": record.episodes,
                "phase": "evaluation",
                "completion_percentage": int(trial.completion_pct),
                "episode_status": METRICS_STATUS[trial.status],
            })
        end = self._append_metrics(record.evaluation_offset, entries)
        self.metric_count += len(entries)
        self.iterations[-1] = IterationRecord(**{**record.__dict__, "evaluation_trials": len(entries),
                                                 "metrics_end": end})
        self._save_record(self.iterations[-1])
        return entries

    # ------------------------------------------------------------------ internals
    def _tracks_for(self, tracks: Track | Sequence[Track], n: int, what: str) -> list[Track]:
        if isinstance(tracks, Track):
            return [tracks] * n
        listed = list(tracks)
        if len(listed) == 1:
            return listed * n
        if len(listed) != n:
            raise TrainingLogError(f"{len(listed)} tracks given for {n} {what}s: give one, or one per {what}")
        return listed

    def _track_index(self, track: Track) -> int:
        key = track_key(track)
        try:
            return self.tracks.index(key)
        except ValueError:
            self.tracks.append(key)
            return len(self.tracks) - 1

    def _append_robomaker(self, rows: list[list[Any]]) -> tuple[int, int]:
        path = robomaker_log_path(self.out_dir)
        path.parent.mkdir(parents=True, exist_ok=True)
        fmt = SIM_TRACE_LOG_FORMAT + "\n"
        text = "".join([fmt % tuple(row) for row in rows])
        with path.open("a", encoding="utf-8") as f:
            if f.tell() == 0:
                f.write(self._robomaker_header())
            start = f.tell()
            f.write(text)
            return start, f.tell()

    def _robomaker_header(self) -> str:
        """The simapp lines deepracer-utils reads from a console robomaker log (hyperparameters,
        action space, sensors and network), from the run's JSON files when they exist."""
        lines = []
        hyper = _read_json(self.out_dir / "hyperparameters.json")
        if isinstance(hyper, dict):
            lines.append("Using the following hyper-parameters")
            lines.append(json.dumps(hyper, indent=2, sort_keys=True))
        meta = _read_json(self.out_dir / "model_metadata.json")
        if isinstance(meta, dict) and "action_space" in meta:
            lines.append(f"Loaded action space from file: {json.dumps(meta['action_space'])}")
            sensors = meta.get("sensor") or ["FRONT_FACING_CAMERA"]
            network = meta.get("neural_network", "DEEP_CONVOLUTIONAL_NETWORK_SHALLOW")
            lines.append(f"Sensor list {sensors!r}, network {network}, simapp_version {meta.get('version', '5')}")
        return "".join(line + "\n" for line in lines)

    def _drop_from(self, iteration: int) -> None:
        """Forget iteration `iteration` and later ones (they are being written again)."""
        keep = [r for r in self.iterations if r.iteration < iteration]
        if len(keep) == len(self.iterations):
            return
        dropped = self.iterations[len(keep):]
        for record in dropped:
            for path in (training_simtrace_path(self.out_dir, record.iteration),
                         evaluation_simtrace_path(self.out_dir, record.iteration),
                         columns_path(self.out_dir, "training", record.iteration),
                         columns_path(self.out_dir, "evaluation", record.iteration)):
                path.unlink(missing_ok=True)
        first = dropped[0]
        self.metric_count = first.metrics_start
        self._append_metrics(first.metrics_offset, [])
        _truncate(robomaker_log_path(self.out_dir), first.robomaker_start)
        self._state_end = self._state_offsets.get(first.iteration, self._state_end)
        _truncate(state_path(self.out_dir), self._state_end)
        for record in dropped:
            self._state_offsets.pop(record.iteration, None)
        self.iterations = keep

    # TrainingMetrics.json: {"metrics": [<entries>], "version": ..., "best_model_metric": ...}
    def _open_metrics(self) -> None:
        """Start an empty TrainingMetrics.json."""
        path = metrics_path(self.out_dir)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(_METRICS_OPEN.encode() + self._metrics_close)
        self._metrics_open_at = len(_METRICS_OPEN)

    def _metrics_end(self) -> int:
        """Where the next entry goes: after the last iteration's entries."""
        return self.iterations[-1].metrics_end if self.iterations else self._metrics_open_at

    def _append_metrics(self, offset: int, entries: list[dict[str, Any]]) -> int:
        """Write `entries` at byte `offset` (replacing whatever followed; none: cut back there),
        close the document; returns the offset after the last entry."""
        first = offset == self._metrics_open_at  # no comma before the list's first entry
        data = "".join(("\n" if first and i == 0 else ",\n") + json.dumps(e) for i, e in enumerate(entries)).encode()
        with metrics_path(self.out_dir).open("r+b") as f:
            f.seek(offset)
            f.write(data + self._metrics_close)
            f.truncate()
        return offset + len(data)

    def _save_record(self, record: IterationRecord) -> None:
        """Append the state line of `record` (the latest line of an iteration wins)."""
        line = json.dumps({"version": STATE_VERSION, "tracks": self.tracks, "record": record.to_dict()}) + "\n"
        path = state_path(self.out_dir)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("ab") as f:
            f.seek(self._state_end)
            f.truncate()
            f.write(line.encode())
            self._state_offsets.setdefault(record.iteration, self._state_end)
            self._state_end = f.tell()

    def _load_state(self) -> None:
        path = state_path(self.out_dir)
        if not path.exists():
            self._upgrade_state()
            return
        try:
            state, self._state_offsets = _read_state_lines(path)
            self.tracks = list(state["tracks"])
            self.iterations = [IterationRecord(**r) for r in state["iterations"]]
        except (OSError, ValueError, KeyError, TypeError):
            raise TrainingLogError(f"cannot resume: {path} is not a training log state") from None
        self._state_end = state["end"]
        _truncate(path, self._state_end)  # a line cut short by the kill goes
        last = self.iterations[-1] if self.iterations else None
        self.metric_count = last.metrics_start + last.episodes + last.evaluation_trials if last else 0
        document = metrics_path(self.out_dir)
        size = document.stat().st_size if document.exists() else 0
        head = self._metrics_head_length()
        if last is None:
            self._open_metrics()
        elif head is None or size < last.metrics_end:
            raise TrainingLogError(f"cannot resume: {document} is shorter than the log state expects")
        else:
            self._metrics_open_at = head
            self._append_metrics(last.metrics_end, [])  # entries of an iteration that never finished go
        # Lines appended by an iteration that never finished writing are cut off.
        _truncate(robomaker_log_path(self.out_dir), last.robomaker_end if last else None)

    def _metrics_head_length(self) -> int | None:
        """Bytes before the first entry of an existing TrainingMetrics.json of ours."""
        try:
            with metrics_path(self.out_dir).open("rb") as f:
                start = f.read(len(_METRICS_OPEN))
        except OSError:
            return None
        return len(start) if start == _METRICS_OPEN.encode() else None

    def _upgrade_state(self) -> None:
        """Logs written before STATE_VERSION 2 (one state document, TrainingMetrics.json rewritten
        whole): load them and write both files again in the appendable layout."""
        old = _read_json(_old_state_path(self.out_dir))
        document = _read_json(metrics_path(self.out_dir))
        if not isinstance(old, dict) or old.get("version") != 1 or not isinstance(document, dict):
            raise TrainingLogError(f"cannot resume: {_old_state_path(self.out_dir)} is not a training log state")
        entries = list(document.get("metrics") or [])
        self.tracks = list(old["tracks"])
        self._open_metrics()
        self.metric_count = 0
        for raw in old["iterations"]:
            record = IterationRecord(**{k: v for k, v in raw.items()
                                        if k not in ("metrics_offset", "evaluation_offset", "metrics_end")})
            train_entries = entries[record.metrics_start:record.metrics_start + record.episodes]
            eval_entries = entries[record.metrics_start + record.episodes:
                                   record.metrics_start + record.episodes + record.evaluation_trials]
            if len(train_entries) + len(eval_entries) != record.episodes + record.evaluation_trials:
                raise TrainingLogError(f"cannot resume: {metrics_path(self.out_dir)} has fewer entries "
                                       "than the log state expects")
            offset = self._metrics_end()
            middle = self._append_metrics(offset, train_entries)
            end = self._append_metrics(middle, eval_entries)
            self.metric_count += len(train_entries) + len(eval_entries)
            record = IterationRecord(**{**record.__dict__, "metrics_offset": offset,
                                        "evaluation_offset": middle, "metrics_end": end})
            self.iterations.append(record)
            self._save_record(record)
        _old_state_path(self.out_dir).unlink()
        last = self.iterations[-1] if self.iterations else None
        _truncate(robomaker_log_path(self.out_dir), last.robomaker_end if last else None)

    def _clear(self) -> None:
        """A new run in this folder: earlier logs go."""
        for folder, pattern in (("training-simtrace", "*-iteration.csv"), ("evaluation-simtrace", "*-iteration.csv"),
                                ("logs/columns", "*.npy")):
            for path in (self.out_dir / folder).glob(pattern):
                path.unlink()
        for path in (robomaker_log_path(self.out_dir), metrics_path(self.out_dir), state_path(self.out_dir),
                     _old_state_path(self.out_dir)):
            path.unlink(missing_ok=True)


# --------------------------------------------------------------------------- file helpers
#: One simtrace CSV row (SIMTRACE_HEADER order). Python's `csv` writes floats with repr (17
#: digits), five times slower; these precisions are finer than the simapp's own log line's.
SIMTRACE_CSV_FORMAT = "%d,%.1f,%.6f,%.6f,%.6f,%.4f,%.4f,%d,%.10g,%s,%s,%.6f,%d,%.6f,%.3f,%s,%.4f\n"


def _write_csv(path: Path, rows: list[list[Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fmt = SIMTRACE_CSV_FORMAT
    with tmp.open("w", encoding="utf-8") as f:
        f.write(",".join(SIMTRACE_HEADER) + "\n")
        f.write("".join([fmt % tuple(row) for row in rows]))
    tmp.replace(path)


def _write_columns(path: Path, rows: list[list[Any]], track_column: list[int]) -> None:
    """The simtrace rows as one structured NumPy array (COLUMNS_DTYPE) in a .npy file."""
    out = np.empty(len(rows), dtype=COLUMNS_DTYPE)
    if rows:
        cols = list(zip(*rows, strict=True))
        for i, name in enumerate(_ROW_FIELDS):
            if name is not None:
                out[name] = cols[i]
        out["status"] = [_STATUS_CODE[s] for s in cols[SIMTRACE_HEADER.index("episode_status")]]
        out["track"] = track_column
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.npy")
    np.save(tmp, out)
    tmp.replace(path)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _truncate(path: Path, size: int | None) -> None:
    if not path.exists():
        return
    if size is None:
        path.unlink()
        return
    with path.open("r+b") as f:
        f.truncate(size)
