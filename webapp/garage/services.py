"""Model workflows: start training runs (one, or a grid of them), publish a finished run's
artifacts to the default storage, and keep teams' Inception weights files."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction

from training.bc import config as bc
from webapp.datasets.services import RECOVERY_MODES
from webapp.jobs.services import new_group_key, start_job

from .models import InceptionWeights, TrainedModel

TRAIN_KIND = "garage.train_bc"
#: A recovery frame is repeated at most this many times (its sample weight).
MAX_RECOVERY_WEIGHT = 20


def max_grid_runs() -> int:
    """How many training runs one request may queue (settings.PITLANE_MAX_GRID_JOBS)."""
    return settings.PITLANE_MAX_GRID_JOBS


def check_grid_size(runs: int) -> None:
    """Refuse a grid search that would queue more runs than the platform allows."""
    if runs > max_grid_runs():
        raise ValidationError(f"The grid makes {runs} runs; at most {max_grid_runs()} are allowed.")


def check_recovery_options(recovery_mode: str, recovery_weight: int) -> None:
    if recovery_mode not in RECOVERY_MODES:
        raise ValidationError(f"Recovery segments: choose one of {', '.join(RECOVERY_MODES)}.")
    if not 1 <= int(recovery_weight) <= MAX_RECOVERY_WEIGHT:
        raise ValidationError(f"The recovery weight must be between 1 and {MAX_RECOVERY_WEIGHT}.")


def check_configs(configs) -> list[bc.TrainConfig]:
    """Every configuration as a validated TrainConfig (a mapping of its fields is accepted too).

    TrainConfig owns the rules, upper bounds included; a broken one is refused here as a
    ValidationError on the field to blame, so no caller can queue a run the form would refuse."""
    checked = []
    for config in configs:
        try:
            if isinstance(config, bc.TrainConfig):
                bc.validate(config)
                checked.append(config)
            else:
                checked.append(bc.TrainConfig.from_dict(config))
        except (bc.ConfigError, TypeError) as exc:
            field = getattr(exc, "field", None)
            if field in bc.FIELD_NAMES:
                raise ValidationError({field: str(exc)}) from None
            raise ValidationError(f"Configuration: {exc}") from None
    return checked


def _varying(grid: dict[str, Any]) -> list[str]:
    """Grid keys that hold several values (resize only when it is a list of lists)."""
    names = []
    for key, value in grid.items():
        if isinstance(value, (list, tuple)) and len(value) > 1 and (
                key != "resize" or all(isinstance(v, (list, tuple)) for v in value)):
            names.append(key)
    return names


def run_name(base: str, config: dict, varying: list[str]) -> str:
    if not varying:
        return base[:120]
    parts = []
    for key in varying:
        value = config[key]
        parts.append(f"{key}={'x'.join(map(str, value)) if isinstance(value, (list, tuple)) else value}")
    return f"{base} [{', '.join(parts)}]"[:120]


def start_training(*, team, user, name: str, datasets, configs, grid: dict | None = None,
                   weights: str = "none", recovery_mode: str = "include", recovery_weight: int = 1,
                   cloned_from: TrainedModel | None = None) -> list[TrainedModel]:
    """One TrainedModel and one training job per configuration; a grid shares a group key.

    `configs`: TrainConfig objects or mappings of their fields; each is validated here."""
    configs = list(configs)
    check_grid_size(len(configs))
    configs = check_configs(configs)
    check_recovery_options(recovery_mode, recovery_weight)
    datasets = list(datasets)
    if not datasets:
        raise ValidationError("Choose at least one dataset.")
    if any(d.team_id != team.pk or not d.is_ready for d in datasets):
        raise ValidationError("Every dataset must be one of the team's ready datasets.")
    if weights.startswith("team:") and not InceptionWeights.objects.filter(
            team=team, pk=int(weights.split(":", 1)[1])).exists():
        raise ValidationError("Those Inception weights are not the team's.")
    group_key = new_group_key() if len(configs) > 1 else ""
    varying = _varying(grid or {})
    # What it was trained on, kept with the run: the datasets link forgets a deleted dataset.
    options = {"weights": weights, "recovery_mode": recovery_mode, "recovery_weight": int(recovery_weight),
               "datasets": dataset_snapshot(datasets)}
    created = []
    with transaction.atomic():
        for config in configs:
            data = {**config.to_dict(), "inception_weights": None}
            model = TrainedModel.objects.create(
                team=team, created_by=user, name=run_name(name, data, varying), config=data,
                options=options, group_key=group_key, cloned_from=cloned_from,
            )
            model.datasets.set(datasets)
            model.artifacts_dir = f"teams/{team.pk}/models/{model.pk}"
            model.job = start_job(team=team, user=user, kind=TRAIN_KIND, params={"model_id": model.pk},
                                  title=f"Train {model.name}", group_key=group_key)
            model.save(update_fields=["artifacts_dir", "job"])
            created.append(model)
    return created


def run_dir(model: TrainedModel) -> Path:
    """The run's local working folder, derived from the model id: a re-run resumes from its checkpoint."""
    return Path(settings.WORK_ROOT) / "models" / f"model_{model.pk}"


def bottleneck_cache_dir(model: TrainedModel) -> Path:
    return Path(settings.WORK_ROOT) / "bottleneck_cache" / f"team_{model.team_id}"


def resolve_weights(model: TrainedModel) -> str | None:
    """A local path of the Inception weights the run asked for (None: random initialisation)."""
    if model.config.get("architecture") != "inception_transfer":
        return None
    choice = model.options.get("weights", "none")
    if choice == "none":
        return None
    if choice == "settings":
        if not settings.PITLANE_INCEPTION_WEIGHTS:
            raise ValueError("PITLANE_INCEPTION_WEIGHTS is not set on this worker.")
        return str(settings.PITLANE_INCEPTION_WEIGHTS)
    weights = InceptionWeights.objects.get(team=model.team, pk=int(choice.split(":", 1)[1]))
    try:
        return default_storage.path(weights.file.name)
    except NotImplementedError:  # remote storage: keep a local copy, keyed by content
        local = Path(settings.WORK_ROOT) / "weights" / f"{weights.sha256}.h5"
        if not local.is_file():
            local.parent.mkdir(parents=True, exist_ok=True)
            with default_storage.open(weights.file.name) as src, open(local, "wb") as dst:
                shutil.copyfileobj(src, dst)
        return str(local)


def _put(name: str, path: Path) -> str:
    if default_storage.exists(name):
        default_storage.delete(name)
    with open(path, "rb") as fh:
        return default_storage.save(name, File(fh))


def publish(model: TrainedModel, result) -> TrainedModel:
    """Copy a completed run's artifacts to the default storage and record card, metrics, history."""
    out = Path(result.out_dir)
    artifacts = result.artifacts
    files = [artifacts["model_keras"], artifacts["model_card"], artifacts["history"], artifacts["config"],
             *artifacts["plots"].values(), *artifacts["heatmaps"]["png"]]
    if artifacts["heatmaps"].get("gif"):
        files.append(artifacts["heatmaps"]["gif"])
    for relative in files:
        _put(model.artifact_name(relative), out / relative)
    tflite_name = f"{model.artifacts_dir}/{artifacts['tflite']}"
    if default_storage.exists(tflite_name):
        default_storage.delete(tflite_name)
    with open(out / artifacts["tflite"], "rb") as fh:
        model.tflite.save(artifacts["tflite"], File(fh), save=False)
    model.card = result.model_card
    model.tflite_sha256 = result.model_card["tflite"]["sha256"]
    model.metrics = {**result.metrics, "epochs_completed": result.epochs_completed,
                     "stopped_early": result.stopped_early}
    history = json.loads((out / artifacts["history"]).read_text())
    model.history = history
    model.artifacts = {k: v for k, v in artifacts.items() if k != "validation"}
    validation = out / artifacts.get("validation", "validation.npz")
    labels = heatmap_labels(validation, artifacts["heatmaps"].get("frames", []))
    model.artifacts["heatmaps"] = {**artifacts["heatmaps"], "labels": labels}
    model.status = TrainedModel.Status.READY
    model.save()
    return model


def heatmap_labels(validation_npz: Path, positions) -> list[dict[str, float]]:
    """True and predicted steering of the validation frames the heat maps show (by position in
    the validation order, which validation.npz keeps)."""
    if not positions or not validation_npz.is_file():
        return []
    import numpy as np

    with np.load(validation_npz) as saved:
        true, predicted = saved["true"], saved["predicted"]
        return [{"true": round(float(true[i]), 4), "predicted": round(float(predicted[i]), 4)}
                for i in positions if 0 <= i < len(true)]


def evaluate_best(*, team, user, group_key: str, count: int, **evaluation) -> list:
    """Start an evaluation of each of the best `count` ready runs of a grid search (ranked by
    validation loss), with the same settings (`evaluation`: start_evaluation's keywords)."""
    from webapp.evaluations.services import start_evaluation

    from .selectors import group_of_team

    ready = [run for run in group_of_team(team, group_key) if run.is_ready]
    if not ready:
        raise ValidationError("No run of this grid is ready to drive yet.")
    if not 1 <= int(count) <= len(ready):
        raise ValidationError(f"Choose between 1 and {len(ready)} runs (the ready ones).")
    with transaction.atomic():
        return [start_evaluation(team=team, user=user, model=run, **evaluation) for run in ready[:int(count)]]


def upload_weights(*, team, user, uploaded, name: str = "") -> InceptionWeights:
    if not (uploaded.name or "").lower().endswith(".h5"):
        raise ValidationError("Upload an Inception v3 weights file (.h5).")
    digest = hashlib.sha256()
    for chunk in uploaded.chunks():
        digest.update(chunk)
    uploaded.seek(0)
    weights = InceptionWeights(team=team, created_by=user, name=(name or uploaded.name)[:120],
                               size=uploaded.size, sha256=digest.hexdigest())
    weights.file.save(Path(uploaded.name).name, uploaded, save=False)
    weights.save()
    return weights


def delete_weights(*, weights: InceptionWeights) -> None:
    weights.file.delete(save=False)
    weights.delete()


def dataset_snapshot(datasets) -> list[dict]:
    """id, name and frame count of each dataset a run trains on, as recorded in its options."""
    return [{"id": d.pk, "name": d.name, "frames": d.frames} for d in datasets]


def training_data(model: TrainedModel) -> list[dict]:
    """What the model was trained on, each dataset with "dataset" (the record, None once deleted),
    "name", "frames" and "deleted". A run that recorded its datasets keeps naming the deleted ones;
    an older run knows only the datasets that still exist."""
    present = {d.pk: d for d in model.datasets.all()}
    recorded = model.options.get("datasets")
    if not recorded:
        return [{"dataset": d, "name": d.name, "frames": d.frames, "deleted": False} for d in present.values()]
    rows = []
    for entry in recorded:
        dataset = present.get(entry.get("id"))
        rows.append({"dataset": dataset, "name": dataset.name if dataset else entry.get("name", "?"),
                     "frames": entry.get("frames"), "deleted": dataset is None})
    return rows


def deleted_datasets(model: TrainedModel) -> list[str]:
    """Names of the datasets a model was trained on that no longer exist (as far as it recorded)."""
    return [row["name"] for row in training_data(model) if row["deleted"]]


def clone_initial(model: TrainedModel) -> dict:
    """Form initial values that reproduce a model's run (a "clone configuration" form)."""
    return {
        "name": f"{model.name} (clone)"[:120],
        "datasets": [d.pk for d in model.datasets.all()],
        "weights": model.options.get("weights", "none"),
        "recovery_mode": model.options.get("recovery_mode", "include"),
        "recovery_weight": model.options.get("recovery_weight", 1),
    }

