"""Read-side queries about trained models; every lookup is scoped to a team (or, for the API, to
the teams a credential may act for). "Ready" is always `TrainedModel.objects.ready()`."""

from __future__ import annotations

import json

from django.core.files.storage import default_storage
from django.http import Http404
from django.shortcuts import get_object_or_404

from .models import InceptionWeights, TrainedModel

DOWNLOADS = {
    "tflite": ("tflite", "application/octet-stream"),
    "keras": ("model_keras", "application/octet-stream"),
    "card": ("model_card", "application/json"),
}


def models_of_team(team):
    return TrainedModel.objects.filter(team=team).select_related("job", "created_by")


def model_of_team_or_404(team, model_id: int) -> TrainedModel:
    return get_object_or_404(TrainedModel.objects.select_related("team", "job", "cloned_from"),
                             team=team, pk=model_id)


def ready_models_of_team(team):
    """The team's models that are ready to drive (and so to evaluate)."""
    return TrainedModel.objects.filter(team=team).ready()


def models_of_teams(teams, *, ready_only: bool = False):
    """The models of several teams (`teams`: Teams or their ids, e.g. an API credential's teams)."""
    models = TrainedModel.objects.filter(team__in=teams).select_related("team")
    return models.ready() if ready_only else models


def model_of_teams_or_404(teams, model_id: int) -> TrainedModel:
    """One model of these teams, ready or not; another team's model is 404."""
    return get_object_or_404(models_of_teams(teams), pk=model_id)


def group_of_team(team, group_key: str) -> list[TrainedModel]:
    """The runs of one grid search, best validation loss first (unfinished runs last)."""
    runs = list(models_of_team(team).filter(group_key=group_key).order_by("created"))
    if not group_key or not runs:
        raise Http404
    return sorted(runs, key=lambda m: (m.val_loss is None, m.val_loss if m.val_loss is not None else 0))


def weights_of_team(team):
    return InceptionWeights.objects.filter(team=team).select_related("created_by")


def weights_of_team_or_404(team, weights_id: int) -> InceptionWeights:
    return get_object_or_404(InceptionWeights, team=team, pk=weights_id)


def figure(model: TrainedModel, name: str) -> dict:
    relative = model.artifacts.get("plots", {}).get(name)
    if not relative:
        raise Http404
    with default_storage.open(model.artifact_name(relative)) as fh:
        return json.load(fh)


def heatmap_name(model: TrainedModel, index: int | None) -> str:
    """Storage name of a saliency PNG (by index) or of the GIF (index None)."""
    heatmaps = model.artifacts.get("heatmaps", {})
    if index is None:
        relative = heatmaps.get("gif")
    else:
        pngs = heatmaps.get("png", [])
        relative = pngs[index] if 0 <= index < len(pngs) else None
    if not relative:
        raise Http404
    return model.artifact_name(relative)


def download(model: TrainedModel, artifact: str) -> tuple[str, str, str]:
    """(storage name, content type, download file name) of a model file; only a ready model's."""
    if artifact not in DOWNLOADS or not model.is_ready:
        raise Http404
    key, content_type = DOWNLOADS[artifact]
    if key == "tflite":
        return model.tflite.name, content_type, f"model_{model.pk}.tflite"
    relative = model.artifacts.get(key)
    if not relative:
        raise Http404
    return model.artifact_name(relative), content_type, f"model_{model.pk}_{relative}"




def training_history(model: TrainedModel) -> dict:
    """A BC model's loss per epoch so far (written after every epoch while it trains) for the live
    chart, with the epoch its weights come from (the lowest val_loss: restore-best)."""
    from training.bc.plots import kept_epoch

    history = model.history or {}
    series = {key: history.get(key, []) for key in ("loss", "val_loss") if history.get(key)}
    job = model.job
    return {"status": model.status, "job_status": job.status if job else "",
            "epochs": model.config.get("epochs"), "loss_name": model.config.get("loss", ""),
            "history": series, "kept_epoch": kept_epoch(series.get("val_loss", []))}


def validation_facts(model: TrainedModel) -> dict:
    """What the model page says about validation: the kept epoch's val_loss (the model's weights
    are that epoch's: restore-best), the last epoch's when it differs, and the MAE only when the
    loss is not already the MAE."""
    from training.bc.plots import kept_epoch

    val_losses = list((model.history or {}).get("val_loss", []))
    best = model.metrics.get("best_epoch")
    kept = int(best) if best else kept_epoch(val_losses)
    last = len(val_losses)
    loss_name = model.config.get("loss", "mae")
    return {
        "loss_name": loss_name, "loss_label": "MAE" if loss_name == "mae" else "MSE",
        "val_loss": model.metrics.get("val_loss"), "kept_epoch": kept,
        "epochs": model.metrics.get("epochs_completed") or last or None,
        "last_epoch": last, "last_val_loss": val_losses[-1] if val_losses else None,
        "restored_best": bool(kept and last and kept != last),
        "show_mae": loss_name != "mae", "val_mae": model.metrics.get("val_mae"),
    }


def _shown(value) -> str:
    if isinstance(value, (list, tuple)):
        return "x".join(str(v) for v in value)
    return "—" if value is None else str(value)


def varied_parameters(runs) -> list[str]:
    """The configuration keys whose values differ between the runs of a grid (in config order)."""
    keys: list[str] = []
    for run in runs:
        keys.extend(k for k in run.config if k not in keys)
    return [k for k in keys if len({_shown(run.config.get(k)) for run in runs}) > 1]


def grid_rows(runs) -> tuple[list[str], list[tuple[TrainedModel, list[str]]]]:
    """(varied parameter names, [(run, its value of each)]) for the grid page."""
    varied = varied_parameters(runs)
    return varied, [(run, [_shown(run.config.get(k)) for k in varied]) for run in runs]
