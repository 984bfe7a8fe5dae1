"""Reinforcement-learning workflows of a team: start a PPO training run (or a clone that continues
from another run's checkpoint), record what each iteration reported, and publish a finished run's
export (TFLite, model card, model_metadata.json, hyperparameters.json, reward function, the
console/DRfC archive and the training logs) so the model is ready to drive.

The rules of a configuration are `training.rl.config.RLConfig.check()`'s; this module adds the
web's own (the reward function version is the team's and passed validation, a clone's parent is
the team's RL model with a checkpoint) and turns every refusal into a ValidationError on the field
to blame, so the form, tests and any other caller get the same answer."""

from __future__ import annotations

import json
import logging
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction

from training.rl.config import FIELD_NAMES, ConfigError, RLConfig, available_tracks, clone_plan
from webapp.garage.models import TrainedModel
from webapp.jobs.services import start_job
from webapp.rewards import services as rewards

from .models import TrainingIteration

log = logging.getLogger(__name__)

TRAIN_KIND = "rl.train"
#: Clones continue from a model that stopped with a checkpoint: a finished or a cancelled run.
CLONABLE = (TrainedModel.Status.READY, TrainedModel.Status.CANCELLED)
#: Run-folder files published beside the export (the training logs the analysis page reads).
LOG_FOLDERS = ("training-simtrace", "evaluation-simtrace", "metrics", "logs")
LOG_FILES = ("training_config.json", "progress.jsonl")


@lru_cache(maxsize=1)
def _track_names() -> tuple[str, ...]:
    return tuple(available_tracks())


def track_names() -> list[str]:
    """The tracks a run may train on (RLConfig's list: DeepRacer-scale built-in and .npy tracks)."""
    return list(_track_names())


def check_config(data: RLConfig | dict[str, Any]) -> RLConfig:
    """A validated RLConfig; a broken one is a ValidationError on the field to blame."""
    if isinstance(data, RLConfig):
        return data
    try:
        return RLConfig.from_dict(data)
    except (ConfigError, TypeError) as exc:
        field = getattr(exc, "field", None)
        if field in FIELD_NAMES:
            raise ValidationError({field: str(exc)}) from None
        raise ValidationError(f"Configuration: {exc}") from None


def check_reward_version(team, version) -> None:
    """The reward function version must be the team's and have passed validation."""
    if version is None:
        raise ValidationError({"reward_version": "Choose a reward function version."})
    if version.function.team_id != team.pk:
        raise ValidationError({"reward_version": "That reward function is not the team's."})
    try:
        rewards.check_trainable(version)
    except ValidationError as exc:
        raise ValidationError({"reward_version": exc.messages}) from None


def check_clone_parent(team, parent: TrainedModel | None, config: RLConfig) -> None:
    """A clone continues one of the team's RL models that stopped with a checkpoint, keeping its
    network and input (clone_plan's rule; the action space may change)."""
    if parent is None:
        return
    if parent.team_id != team.pk:
        raise ValidationError("That model is not the team's.")
    if parent.kind != TrainedModel.Kind.REINFORCEMENT:
        raise ValidationError("Only a reinforcement-learning model can be cloned into an RL run.")
    if parent.status not in CLONABLE:
        raise ValidationError("A model can be cloned once it is ready or was cancelled with a checkpoint "
                              f"(this one is {parent.get_status_display().lower()}).")
    clone_explanation(parent, config)


def clone_explanation(parent: TrainedModel, config: RLConfig) -> str:
    """What continuing from `parent` does to the network under `config` (the policy head is kept,
    or re-initialised when the action space changed): training.rl's `clone_plan`, in a sentence.
    A configuration the parent cannot continue into (another network or input) is refused."""
    try:
        return clone_plan(check_config(parent.config), config).explanation
    except ConfigError as exc:
        field = exc.field if exc.field in FIELD_NAMES else None
        message = f"A clone cannot change this: {exc}"
        raise ValidationError({field: message} if field else message) from None


def start_rl_training(*, team, user, name: str, reward_version, config: RLConfig | dict[str, Any],
                      cloned_from: TrainedModel | None = None) -> TrainedModel:
    """One TrainedModel (kind rl, status training) and its "rl.train" job."""
    config = check_config(config)
    check_reward_version(team, version=reward_version)
    check_clone_parent(team, cloned_from, config)
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": "Give the model a name."})
    options = {
        "reward_version_id": reward_version.pk,
        "reward_function": reward_version.function.name,
        "reward_version": reward_version.number,
        "reward_sha256": reward_version.sha256,
        # The source as trained: versions are immutable, but a deleted function must not make a
        # queued or resumed run fail, nor change what a finished model says it learnt from.
        "reward_source": reward_version.source,
    }
    with transaction.atomic():
        model = TrainedModel.objects.create(
            team=team, created_by=user, name=name[:120], kind=TrainedModel.Kind.REINFORCEMENT,
            config=config.to_dict(), options=options, cloned_from=cloned_from)
        model.artifacts_dir = f"teams/{team.pk}/models/{model.pk}"
        model.job = start_job(team=team, user=user, kind=TRAIN_KIND, params={"model_id": model.pk},
                              title=f"Train {model.name} (RL)")
        model.save(update_fields=["artifacts_dir", "job"])
    return model


def clone_initial(parent: TrainedModel) -> dict[str, Any]:
    """Form values that continue `parent`: its configuration, name and reward function version."""
    return {"name": f"{parent.name} (clone)"[:120], "config": dict(parent.config),
            "reward_version": parent.options.get("reward_version_id")}


def run_dir(model: TrainedModel) -> Path:
    """The run's local working folder, derived from the model id: a re-run of the job (a killed
    worker, the reaper) calls train() on the same folder and resumes from its last checkpoint."""
    return Path(settings.WORK_ROOT) / "rl" / f"model_{model.pk}"


def init_from(model: TrainedModel) -> Path | None:
    """The parent's run folder a clone starts from (None for a fresh run)."""
    parent = model.cloned_from
    if parent is None:
        return None
    folder = run_dir(parent)
    if not (folder / "checkpoints").is_dir():
        raise ValueError(f"The checkpoints of {parent.name} (model {parent.pk}) are not on this worker; "
                         "the clone cannot continue from them.")
    return folder


# -- live history --------------------------------------------------------------------------------

#: Iteration figures kept per row (the rest of an on_progress event stays in the run's progress.jsonl).
ITERATION_KEYS = (
    "iteration", "episodes", "steps", "elapsed_s", "eta_s", "percent", "reward_mean", "reward_min",
    "reward_max", "eval_completion_pct", "eval_lap_times", "best_iteration", "steps_per_s",
    "episodes_per_hour", "entropy", "kl", "policy_loss", "value_loss", "lr", "clip_fraction", "progress_mean",
    "best_lap_time_s", "first_lap_s",
)
EPISODE_KEYS = ("episode", "track", "reward", "progress", "steps", "status", "lap_time")


def record_iteration(model: TrainedModel, event: dict[str, Any]) -> TrainingIteration:
    """Keep one iteration's figures and episodes for the live page (a re-run after a lost worker
    reports an iteration again: the row is replaced)."""
    metrics = {key: event[key] for key in ITERATION_KEYS if key in event}
    episodes = [{key: row.get(key) for key in EPISODE_KEYS} for row in event.get("episode_rows")
                or event.get("episodes_since") or []]
    row, _ = TrainingIteration.objects.update_or_create(
        trained_model=model, iteration=int(event["iteration"]),
        defaults={"metrics": metrics, "episodes": episodes})
    return row


# -- publishing ----------------------------------------------------------------------------------

#: Published export files: artifact key -> file name in the export folder.
EXPORT_FILES = {
    "model_card": "model_card.json",
    "model_metadata": "model_metadata.json",
    "hyperparameters": "hyperparameters.json",
    "reward_function": "reward_function.py",
}


def _put(name: str, path: Path) -> str:
    if default_storage.exists(name):
        default_storage.delete(name)
    with open(path, "rb") as fh:
        return default_storage.save(name, File(fh))


def publish_car_archive(model: TrainedModel, out: Path) -> str | None:
    """Store the DeepRacer car's model upload (`model_<pk>.tar.gz`: model_metadata.json +
    agent/model.pb, training.rl.deepracer_car_export) of a finished run; None, with the reason
    logged, when the model cannot run on the car (a frame stack) or the export fails: the rest of
    the model is published either way."""
    from training.rl.deepracer_car_export import car_archive_from_run

    with tempfile.TemporaryDirectory() as tmp:
        try:
            archive = car_archive_from_run(out, Path(tmp), name=f"model_{model.pk}")
        except Exception as exc:  # noqa: BLE001 - an optional download never blocks publishing
            log.warning("model %s: no DeepRacer car archive: %s", model.pk, exc)
            return None
        relative = f"car/{archive.name}"
        _put(model.artifact_name(relative), archive)
    return relative


def publish(model: TrainedModel, result) -> TrainedModel:
    """Copy a finished run's export and logs to the default storage and make the model ready:
    TFLite + card (what the drive agent and the API serve), model_metadata.json,
    hyperparameters.json, reward_function.py, the console/DRfC archive and the training logs."""
    from training.rl.export import console_archive

    out = Path(result.out_dir)
    if result.export_dir is None or not (Path(result.export_dir) / "model_card.json").is_file():
        raise ValueError("Training stopped before a model could be exported (no iteration finished).")
    export_dir = Path(result.export_dir)
    artifacts: dict[str, Any] = {}
    for key, filename in EXPORT_FILES.items():
        if (export_dir / filename).is_file():
            _put(model.artifact_name(filename), export_dir / filename)
            artifacts[key] = filename
    with tempfile.TemporaryDirectory() as tmp:
        name = f"model_{model.pk}"
        archive = console_archive(out, Path(tmp) / f"{name}.zip", name=name)
        artifacts["console_archive"] = f"console/{archive.name}"
        _put(model.artifact_name(artifacts["console_archive"]), archive)
    car = publish_car_archive(model, out)
    if car is not None:
        artifacts["car_archive"] = car
    logs = []
    for relative in LOG_FILES:
        if (out / relative).is_file():
            _put(model.artifact_name(f"logs/{relative}"), out / relative)
            logs.append(relative)
    for folder in LOG_FOLDERS:
        for path in sorted((out / folder).rglob("*")) if (out / folder).is_dir() else []:
            if path.is_file():
                relative = path.relative_to(out).as_posix()
                _put(model.artifact_name(f"logs/{relative}"), path)
                logs.append(relative)
    artifacts["logs"] = logs
    card = json.loads((export_dir / "model_card.json").read_text())
    tflite_name = f"{model.artifacts_dir}/model.tflite"
    if default_storage.exists(tflite_name):
        default_storage.delete(tflite_name)
    with open(export_dir / card["tflite"]["file"], "rb") as fh:
        model.tflite.save("model.tflite", File(fh), save=False)
    artifacts["tflite"] = "model.tflite"
    model.card = card
    model.tflite_sha256 = card["tflite"]["sha256"]
    model.metrics = {
        **dict(result.metrics), "iterations": result.iterations, "episodes": result.episodes,
        "steps": result.steps, "elapsed_s": round(result.elapsed_s, 1), "best_iteration": result.best_iteration,
        "best_eval_completion_pct": result.best_eval_completion_pct, "best_lap_time_s": result.best_lap_time_s,
        "stop_reason": result.stop_reason,
    }
    model.history = {"iterations": [row.metrics for row in model.rl_iterations.order_by("iteration")]}
    model.artifacts = artifacts
    model.status = TrainedModel.Status.READY
    model.save()
    return model

