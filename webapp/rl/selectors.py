"""Read-side queries of the RL pages; every lookup is scoped to a team (another team's model is
404). Models come from `garage.selectors`, which owns them; this adds the RL kind, the live
iteration rows and the published files."""

from __future__ import annotations

import json

from django.http import Http404

from webapp.garage.models import TrainedModel
from webapp.garage.selectors import model_of_team_or_404
from webapp.rewards.models import RewardFunctionVersion

from .models import TrainingIteration

#: Downloads of a ready RL model: name -> (artifact key, content type, download suffix).
DOWNLOADS = {
    "tflite": ("tflite", "application/octet-stream", "model.tflite"),
    "card": ("model_card", "application/json", "model_card.json"),
    "metadata": ("model_metadata", "application/json", "model_metadata.json"),
    "hyperparameters": ("hyperparameters", "application/json", "hyperparameters.json"),
    "reward": ("reward_function", "text/x-python", "reward_function.py"),
    "console": ("console_archive", "application/zip", None),
}
#: At most this many iterations per history request (the page asks again for the rest).
HISTORY_PAGE = 200


def rl_model_of_team_or_404(team, model_id: int) -> TrainedModel:
    model = model_of_team_or_404(team, model_id)
    if model.kind != TrainedModel.Kind.REINFORCEMENT:
        raise Http404
    return model


def reward_version_of(model: TrainedModel) -> RewardFunctionVersion | None:
    """The reward function version a model trained with, if it still exists (the model keeps its
    source either way)."""
    version_id = model.options.get("reward_version_id")
    if not version_id:
        return None
    return (RewardFunctionVersion.objects.select_related("function__team")
            .filter(pk=version_id, function__team_id=model.team_id).first())


def iterations_after(model: TrainedModel, after: int, limit: int = HISTORY_PAGE) -> list[TrainingIteration]:
    return list(TrainingIteration.objects.filter(trained_model=model, iteration__gt=after)
                .order_by("iteration")[:limit])


def history(model: TrainedModel, after: int = -1) -> dict:
    """The iteration rows after `after` (their figures and episodes) and the run's state: what the
    live page appends to its charts."""
    rows = iterations_after(model, after)
    job = model.job
    return {
        "model_id": model.pk,
        "status": model.status,
        "job_status": job.status if job else None,
        "time_limit_s": _time_limit_s(model.config),
        "iterations": [{**row.metrics, "iteration": row.iteration} for row in rows],
        "episodes": [{**episode, "iteration": row.iteration} for row in rows for episode in row.episodes],
        "last": rows[-1].iteration if rows else after,
        "more": len(rows) == HISTORY_PAGE,
    }


def config_items(model: TrainedModel) -> list[tuple[str, str]]:
    """The configuration as the model page lists it: lists and objects as JSON, None as a dash."""
    def text(value) -> str:
        if value is None:
            return "—"
        return json.dumps(value) if isinstance(value, (list, dict, bool)) else str(value)

    return [(key, text(value)) for key, value in sorted(model.config.items())]


def _time_limit_s(config: dict) -> float | None:
    if config.get("max_seconds"):
        return float(config["max_seconds"])
    if config.get("max_minutes"):
        return 60.0 * float(config["max_minutes"])
    return None


def download(model: TrainedModel, what: str) -> tuple[str, str, str]:
    """(storage name, content type, download file name) of a ready model's published file."""
    if what not in DOWNLOADS or not model.is_ready:
        raise Http404
    key, content_type, suffix = DOWNLOADS[what]
    if key == "tflite":
        return model.tflite.name, content_type, f"model_{model.pk}.tflite"
    relative = model.artifacts.get(key)
    if not relative:
        raise Http404
    filename = f"model_{model.pk}_{suffix or relative.rsplit('/', 1)[-1]}"
    if key == "console_archive" and relative.endswith(".tar.gz"):
        content_type = "application/gzip"
    return model.artifact_name(relative), content_type, filename
