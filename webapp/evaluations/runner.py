"""The body of an evaluation job: drive the model through the drive agent's loop in our
simulator (`drive_agent.evaluation.run_sim_evaluation`), store the DeepRacer-format files and the
results, then make sure the track's lap-time limit is cached for the evaluation page."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from django.conf import settings
from django.core.files import File

from simulator.stopping import ShouldStop

from .limits import ensure_limit
from .models import Evaluation

ProgressFn = Callable[..., None]


class ModelNotReady(RuntimeError):
    """The model has no exported TFLite file (still training, failed, or deleted)."""


def _rules(evaluation: Evaluation):
    from simulator.rules import EVALUATION_RULES

    penalty = evaluation.off_track_penalty_s
    # One penalty for every reset, as the console's evaluation does; the time limit is per trial.
    return replace(EVALUATION_RULES, off_track_penalty_s=penalty, reversed_penalty_s=penalty,
                   immobilized_penalty_s=penalty, time_limit_s=evaluation.time_limit_s)


def _materialise_model(evaluation: Evaluation, work: Path):
    from drive_agent.model_card import parse_model_card
    from drive_agent.runtime import TFLiteModel

    model = evaluation.model
    if not model.is_ready:
        raise ModelNotReady(f"model {model.pk} is {model.get_status_display().lower()} and has no TFLite file")
    path = work / "model.tflite"
    with model.tflite.open("rb") as src, path.open("wb") as dst:
        shutil.copyfileobj(src, dst)
    return TFLiteModel(path, parse_model_card(model.card))


def _trace_document(result) -> dict:
    cols = result.trace_arrays()
    return {
        "trial": (cols["trial"] + 1).tolist(),
        "t": [round(v, 3) for v in cols["time"].tolist()],
        "x": [round(v, 4) for v in cols["x"].tolist()],
        "y": [round(v, 4) for v in cols["y"].tolist()],
        "speed": [round(v, 3) for v in cols["speed"].tolist()],
        "steering_deg": [round(v, 2) for v in cols["steering_deg"].tolist()],
    }


def variation_of(evaluation: Evaluation):
    """The evaluation's `TrialVariation`, or None when its trials are alike."""
    from drive_agent.evaluation import TrialVariation

    return TrialVariation(seed=evaluation.seed or 0) if evaluation.vary else None


def _store(field, name: str, path: Path) -> None:
    with path.open("rb") as fh:
        field.save(name, File(fh), save=False)


def run_evaluation(evaluation: Evaluation, on_progress: ProgressFn, should_stop: ShouldStop) -> dict:
    """Evaluate, store files and results on `evaluation`, cache the limit; returns the summary.

    `on_progress(pct, message)` goes 0-100; `should_stop()` abandons the run
    (`simulator.stopping.Stopped` propagates to the caller)."""
    from drive_agent.evaluation import run_sim_evaluation, summarise
    from simulator.simtrace import evaluation_stamp
    from simulator.track import load_track

    work = Path(settings.WORK_ROOT) / f"evaluation-{evaluation.pk}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    try:
        model = _materialise_model(evaluation, work)
        track = load_track(evaluation.track, reverse=evaluation.is_clockwise)
        result = run_sim_evaluation(
            model, track, n_trials=evaluation.trials, rules=_rules(evaluation),
            on_progress=lambda pct, msg: on_progress(0.9 * pct, msg), should_stop=should_stop,
            out_dir=work, set_speed=evaluation.set_speed, variation=variation_of(evaluation),
            stamp=evaluation_stamp(evaluation.created),
        )
        evaluation.summary = summarise(result, evaluation.off_track_penalty_s)
        (work / "trace.json").write_text(json.dumps(_trace_document(result), separators=(",", ":")))
        _store(evaluation.simtrace, "evaluation-simtrace-0-iteration.csv", result.simtrace_path)
        _store(evaluation.metrics_file, "metrics.json", result.metrics_path)
        _store(evaluation.trace_file, "trace.json", work / "trace.json")
        evaluation.save(update_fields=["summary", "simtrace", "metrics_file", "trace_file"])
    finally:
        shutil.rmtree(work, ignore_errors=True)
    on_progress(92.0, "Lap-time limit of the track")
    ensure_limit(evaluation.track, evaluation.direction, evaluation.profile)
    return evaluation.summary
