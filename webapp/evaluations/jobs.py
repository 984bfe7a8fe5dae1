"""Job kind "evaluation": the worker-side handler around `runner.run_evaluation`.

A cancel stops the evaluation with `simulator.stopping.Stopped`, which the job runner records as
the job's cancellation."""

from __future__ import annotations

from .models import Evaluation
from .runner import run_evaluation
from .services import completion_percent


def evaluate(job, reporter) -> dict:
    evaluation = Evaluation.objects.select_related("model", "team").get(job=job)
    reporter.log(f"Evaluating model {evaluation.model_id} on {evaluation.track} ({evaluation.direction}), "
                 f"{evaluation.trials} trials")
    summary = run_evaluation(evaluation, reporter.progress, reporter.cancel_requested)
    best = summary["best_lap_time"]
    message = (f"{summary['completed_laps']}/{evaluation.trials} laps, best {best:.2f} s" if best is not None
               else f"No lap completed ({completion_percent(summary)} % on average)")
    reporter.progress(100.0, message, force=True, laps=summary["completed_laps"],
                      completion_pct=completion_percent(summary), off_tracks=summary["off_track_count"])
    reporter.log(message)
    return {"evaluation_id": evaluation.pk, "best_lap_time": best, "completed_laps": summary["completed_laps"],
            "completion_pct": summary["completion_pct"]}
