"""DeepRacer log formats: SIM_TRACE_LOG lines, simtrace CSVs and metrics JSON.

Written so that DeepRacer's own analysis tools (deepracer-utils' `DeepRacerLog`,
`SimulationLogsIO`, `AnalysisUtils`) read our runs exactly as they read AWS's: same header, same
field order and number formats, same folder layout (deepracer-for-cloud's: `training-simtrace/{n}-iteration.csv`,
`evaluation-{yyyymmddHHMMSS}/evaluation-simtrace/0-iteration.csv` beside `model/model_metadata.json`;
`write_evaluation_folder` and `evaluation_zip` write an evaluation that way).
"""

from __future__ import annotations

import csv
import io
import json
import os
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from simulator.episode import StepResult, TrialResult
from simulator.rules import METRICS_STATUS, EpisodeStatus

SIMTRACE_HEADER = ["episode", "steps", "X", "Y", "yaw", "steer", "throttle", "action", "reward", "done",
                   "all_wheels_on_track", "progress", "closest_waypoint", "track_len", "tstamp", "episode_status",
                   "pause_duration"]

TRAINING_METRICS_VERSION = 2.0


def simtrace_row(step: StepResult, track_length: float, episode: int | None = None) -> list:
    """One CSV row, typed as AWS writes them (steps as a float, tstamp to the millisecond).

    `episode` replaces the step's own episode number (a training log numbers episodes of several
    environments consecutively)."""
    return [
        step.episode if episode is None else episode,
        float(step.step),
        step.x,
        step.y,
        step.heading_deg,
        step.steering_deg,
        step.speed,
        step.action,
        step.reward,
        step.done,
        step.all_wheels_on_track,
        step.progress,
        step.closest_waypoint,
        track_length,
        round(step.sim_time, 3),
        step.status.value,
        step.pause_duration,
    ]


#: printf format of the raw robomaker log line (DeepRacer simapp), fields in SIMTRACE_HEADER order.
SIM_TRACE_LOG_FORMAT = "SIM_TRACE_LOG:%d,%d,%.4f,%.4f,%.4f,%.2f,%.2f,%d,%.4f,%s,%s,%.4f,%d,%.2f,%.3f,%s,%.2f"


def sim_trace_log_line(step: StepResult, track_length: float, episode: int | None = None) -> str:
    """The raw robomaker log line: the CSV row's fields in the simapp's printf format."""
    return SIM_TRACE_LOG_FORMAT % tuple(simtrace_row(step, track_length, episode))


def write_sim_trace_log(stream: IO[str], steps: Iterable[StepResult], track_length: float) -> None:
    for step in steps:
        stream.write(sim_trace_log_line(step, track_length) + "\n")


def write_simtrace_csv(path: str | os.PathLike, steps: Iterable[StepResult], track_length: float) -> Path:
    """Write a simtrace CSV with AWS's header; creates parent folders."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("w", newline="") as f:
        f.write(_simtrace_text(steps, track_length))
    return target


def training_simtrace_path(model_dir: str | os.PathLike, iteration: int) -> Path:
    return Path(model_dir) / "training-simtrace" / f"{iteration}-iteration.csv"


def evaluation_simtrace_path(model_dir: str | os.PathLike, stamp: str) -> Path:
    """`stamp` is the evaluation's start as yyyymmddHHMMSS (deepracer-utils matches 14 digits)."""
    return Path(model_dir) / evaluation_folder_name(stamp) / "evaluation-simtrace" / "0-iteration.csv"


def evaluation_stamp(when: datetime | None = None) -> str:
    """yyyymmddHHMMSS of `when` (default: now) in UTC, as deepracer-for-cloud names evaluations."""
    when = datetime.now(UTC) if when is None else when
    if when.tzinfo is not None:
        when = when.astimezone(UTC)
    return when.strftime("%Y%m%d%H%M%S")


def evaluation_folder_name(stamp: str) -> str:
    if len(stamp) != 14 or not stamp.isdigit():
        raise ValueError("evaluation stamp must be 14 digits, yyyymmddHHMMSS")
    return f"evaluation-{stamp}"


# --------------------------------------------------------------------------- deepracer-for-cloud layout
MODEL_METADATA_PATH = "model/model_metadata.json"


@dataclass(frozen=True)
class EvaluationFolder:
    """Where one evaluation went in a deepracer-for-cloud model folder (`DeepRacerLog(root)` reads it):

        root/model/model_metadata.json
        root/evaluation-{stamp}/evaluation-simtrace/0-iteration.csv
        root/evaluation-{stamp}/metrics.json     (the console's evaluation metrics document)
    """

    root: Path
    stamp: str

    @property
    def folder(self) -> Path:
        return self.root / evaluation_folder_name(self.stamp)

    @property
    def simtrace(self) -> Path:
        return evaluation_simtrace_path(self.root, self.stamp)

    @property
    def metrics(self) -> Path:
        return self.folder / "metrics.json"

    @property
    def model_metadata(self) -> Path:
        return self.root / MODEL_METADATA_PATH


def _simtrace_text(steps: Iterable[StepResult], track_length: float) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(SIMTRACE_HEADER)
    for step in steps:
        writer.writerow(simtrace_row(step, track_length))
    return buffer.getvalue()


def write_evaluation_folder(root: str | os.PathLike, stamp: str, steps: Iterable[StepResult], track_length: float,
                            metrics: dict, model_metadata: dict) -> EvaluationFolder:
    """Write one evaluation into `root` in deepracer-for-cloud's layout (see `EvaluationFolder`).

    Evaluations of different stamps sit side by side (deepracer-utils loads each as a `stream`);
    model_metadata.json is the model's, so a later evaluation of the same model rewrites it."""
    place = EvaluationFolder(Path(root), stamp)
    write_simtrace_csv(place.simtrace, steps, track_length)
    write_metrics(place.metrics, metrics)
    place.model_metadata.parent.mkdir(parents=True, exist_ok=True)
    place.model_metadata.write_text(json.dumps(model_metadata, indent=1))
    return place


def evaluation_zip(stamp: str, simtrace_csv: bytes, metrics: bytes, model_metadata: dict) -> bytes:
    """The same layout as `write_evaluation_folder`, as a zip (the site's evaluation download):
    unzip it and point `DeepRacerLog` at the folder."""
    folder = evaluation_folder_name(stamp)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(MODEL_METADATA_PATH, json.dumps(model_metadata, indent=1))
        archive.writestr(f"{folder}/evaluation-simtrace/0-iteration.csv", simtrace_csv)
        archive.writestr(f"{folder}/metrics.json", metrics)
    return buffer.getvalue()


# --------------------------------------------------------------------------- metrics JSON
def _ms(seconds: float) -> int:
    return int(round(seconds * 1000.0))


def _status_text(status: EpisodeStatus) -> str:
    return METRICS_STATUS[status]


def completion_percentage(pct: float) -> int:
    """A completion percentage as the metrics files hold it: a whole number, rounded half to even
    (Python's round: 23.9999 -> 24, 25.447 -> 25, 24.5 -> 24), not truncated. The site's pages
    show trial completion with this same rule (webapp.evaluations)."""
    return int(round(pct))


def training_episode_metric(
    episode: int, steps: Sequence[StepResult], trial: int | None = None, phase: str = "training"
) -> dict:
    """One training metrics entry, keys in AWS's order and types (ints, status text)."""
    first, last = steps[0], steps[-1]
    completion = 100 if last.status is EpisodeStatus.LAP_COMPLETE else last.progress
    return {
        "reward_score": int(round(sum(s.reward for s in steps))),
        "metric_time": _ms(last.sim_time),
        "start_time": _ms(first.sim_time),
        "elapsed_time_in_milliseconds": _ms(last.sim_time) - _ms(first.sim_time),
        "episode": episode,
        "trial": episode if trial is None else trial,
        "phase": phase,
        "completion_percentage": completion_percentage(completion),
        "episode_status": _status_text(last.status),
    }


def training_metrics(entries: list[dict], best_model_metric: str = "progress") -> dict:
    """The TrainingMetrics.json document."""
    return {"metrics": entries, "version": TRAINING_METRICS_VERSION, "best_model_metric": best_model_metric}


def evaluation_metrics(trials: Sequence[TrialResult]) -> dict:
    """The evaluation metrics document, one entry per trial, as the console writes it."""
    entries = []
    for t in trials:
        start = _ms(t.start_time_s)
        end = _ms(t.start_time_s + t.elapsed_s)
        entries.append(
            {
                "completion_percentage": completion_percentage(t.completion_pct),
                "metric_time": end,
                "start_time": start,
                "elapsed_time_in_milliseconds": end - start,
                "episode_status": _status_text(t.status),
                "crash_count": t.crash_count,
                "immobilized_count": t.immobilized_count,
                "off_track_count": t.off_track_count,
                "reversed_count": t.reversed_count,
                "reset_count": t.reset_count,
                "trial": t.trial,
            }
        )
    return {"metrics": entries}


def write_metrics(path: str | os.PathLike, document: dict) -> Path:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(document))
    return target
