"""The RL training job: the handler for kind "rl.train", a thin wrapper around
training.rl.train.train (which also runs outside Celery, from the command line).

Each iteration's figures become the job's live metrics and a `TrainingIteration` row (the live
page fetches the rows it has not drawn when the job's websocket says it changed). The run folder
is derived from the model id, so a job re-run after a lost worker resumes from the folder's last
checkpoint. The model's status follows its job through `garage.receivers.model_follows_its_job`:
a cancel or any failure (a reward-function error included: its message names the line and the
step's params) leaves the model cancelled or failed; only a finished run is published here."""

from __future__ import annotations

import json

from . import services

#: Share of the bar the training loop fills; exporting and publishing take the rest.
TRAIN_SHARE = 95.0


def _eta(seconds) -> str:
    if seconds is None:
        return "…"
    seconds = int(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600}h {seconds % 3600 // 60:02d}m"
    return f"{seconds // 60}m {seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


def _round(value, digits: int = 3):
    return round(value, digits) if isinstance(value, (int, float)) else "…"


def job_metrics(event: dict) -> dict:
    """The few figures the job row shows (the full iteration goes to the model's rows). Evaluation
    does not run after every iteration: its figures are left as they were when it did not."""
    metrics = {
        "iteration": event.get("iteration"),
        "episodes": event.get("episodes"),
        "reward": _round(event.get("reward_mean"), 2),
        "steps_per_s": _round(event.get("steps_per_s"), 0),
        "eta": _eta(event.get("eta_s")),
    }
    completion = event.get("eval_completion_pct")
    if isinstance(completion, (int, float)):
        metrics["eval_completion"] = f"{completion:.0f} %"
    if event.get("best_iteration") is not None:
        metrics["best_iteration"] = event["best_iteration"]
    return metrics


def progress_callback(model, reporter):
    """on_progress for train(): one row per iteration, and the job's bar, message and metrics."""

    def on_progress(event: dict) -> None:
        if event.get("phase") == "done":
            reporter.progress(TRAIN_SHARE + 2, "Training done; exporting the model", eta="0s", force=True)
            return
        if event.get("phase") != "iteration":
            return
        services.record_iteration(model, event)
        percent = min(100.0, max(0.0, float(event.get("percent") or 0.0)))
        reporter.progress(TRAIN_SHARE * percent / 100.0,
                          f"Iteration {event['iteration']}: {event.get('episodes', 0)} episodes",
                          force=True, **job_metrics(event))

    return on_progress


class RewardFunctionFailed(RuntimeError):
    """The team's reward function failed during training; the message is the job's error."""


def _params_text(params: dict | None, limit: int = 3000) -> str:
    """The step's params as the job's error shows them (waypoints summarised, long text cut)."""
    if not params:
        return ""
    shown = {k: (f"[{len(v)} points]" if k == "waypoints" and isinstance(v, (list, tuple)) else v)
             for k, v in params.items()}
    text = "\n".join(f"  {key}: {json.dumps(value, default=repr)}" for key, value in sorted(shown.items()))
    return text if len(text) <= limit else text[:limit] + " ..."


def reward_error(exc) -> RewardFunctionFailed:
    """A sandbox RewardFunctionError as the team reads it: the message (with the line in their
    file) and the params of the step that made it fail."""
    params = _params_text(getattr(exc, "params", None))
    text = str(exc)
    text = text[0].upper() + text[1:]
    if params:
        text += f"\nThe step's params:\n{params}"
    return RewardFunctionFailed(text)


def train_rl(job, reporter) -> dict:
    from training.rl.config import RLConfig
    from training.rl.sandbox import RewardFunctionError
    from training.rl.train import STATE_FILE, train
    from webapp.garage.models import TrainedModel

    model = TrainedModel.objects.select_related("team", "cloned_from").get(
        pk=job.params["model_id"], team=job.team, kind=TrainedModel.Kind.REINFORCEMENT)
    out_dir = services.run_dir(model)
    config = RLConfig.from_dict(model.config)
    resuming = (out_dir / "checkpoints" / STATE_FILE).is_file()  # an iteration finished before
    init_from = None if resuming else services.init_from(model)
    if resuming:
        reporter.log("Resuming from the last iteration's checkpoint")
    elif init_from is not None:
        reporter.log(f"Continuing from {model.cloned_from.name} (model {model.cloned_from.pk})")
        reporter.log(services.clone_explanation(model.cloned_from, config))
    reporter.progress(0.5, "Starting the simulators and the reward sandbox", force=True)
    try:
        result = train(config, model.options["reward_source"], out_dir,
                       on_progress=progress_callback(model, reporter), should_stop=reporter.cancel_requested,
                       init_from=init_from)
    except RewardFunctionError as exc:
        raise reward_error(exc) from exc
    services.publish(model, result)
    summary = ", ".join(f"{k} {v}" for k, v in sorted(model.metrics.items()) if isinstance(v, (int, float)))
    reporter.log(f"Published: {summary}")
    reporter.progress(100, "Ready to drive", force=True)
    return {"model_id": model.pk, "metrics": model.metrics}
