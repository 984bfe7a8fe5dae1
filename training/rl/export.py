"""Export a trained RL policy for the car, and a run in the AWS console / deepracer-for-cloud layout.

`export_model` writes `<run>/export/`: `model.tflite` and `model_card.json` (what the drive agent
loads: kind `discrete_actions` or `continuous_actions`, the DeepRacer front camera 160x120 grey,
the training observation's preprocessing: grey, downscale, unit scale, frame stacking) beside
DeepRacer's own `model_metadata.json`, `hyperparameters.json` and `reward_function.py`. The card
is validated with the drive agent's parser before it is written.

`console_archive` zips a run as a DeepRacer model folder (deepracer-for-cloud's single-worker
layout, which deepracer-utils' `DeepRacerLog` recognises), plus the console's log download
(`logs/training/*-robomaker.log`):

    model/model_metadata.json, model/model.tflite, model/model_card.json
    ip/hyperparameters.json
    reward_function.py, training_params.yaml
    metrics/TrainingMetrics.json
    training-simtrace/{n}-iteration.csv
    evaluation-simtrace/{n}-iteration.csv   (evaluation trials between iterations)
    logs/training/{name}-robomaker.log
"""

from __future__ import annotations

import json
import os
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from drive_agent.model_card import SCHEMA, parse_model_card
from training.bc.export import sha256_bytes, to_tflite, write_json
from training.rl.config import RLConfig
from training.rl.logs import metrics_path, robomaker_log_path

CAMERA = "deepracer_front"
CAMERA_WIDTH, CAMERA_HEIGHT = 160, 120
EXPORT_DIR = "export"
MODEL_FILE = "model.tflite"
CARD_FILE = "model_card.json"
REPRESENTATIVE_FRAMES = 64


class ExportError(ValueError):
    """The policy or the run cannot be exported (wrong shapes, missing files)."""


def _config(config: RLConfig | Mapping[str, Any]) -> RLConfig:
    return config if isinstance(config, RLConfig) else RLConfig.from_dict(config)


def preprocessing_card(config: RLConfig) -> dict[str, Any]:
    """The card's preprocessing: the trainer's observation (grey, downscale, unit scale) and its
    frame stack."""
    card = dict(config.preprocessing_card())
    card["stack"] = config.stack_size
    return card


def action_space_card(config: RLConfig) -> Any:
    """The card's action_space: the discrete table, or the continuous ranges."""
    space = config.model_metadata().action_space
    if space.kind == "discrete":
        return [{"steering_angle": a.steering_angle, "speed": a.speed} for a in space.actions]
    return {"steering_angle": {"low": space.steering_range[0], "high": space.steering_range[1]},
            "speed": {"low": space.speed_range[0], "high": space.speed_range[1]}}


def model_card(config: RLConfig, tflite_sha256: str, quantization: str, training: dict[str, Any],
               metrics: dict[str, Any]) -> dict[str, Any]:
    discrete = config.action_space_type == "discrete"
    card = {
        "schema": SCHEMA,
        "kind": "discrete_actions" if discrete else "continuous_actions",
        "input": {"camera": CAMERA, "width": CAMERA_WIDTH, "height": CAMERA_HEIGHT, "channels": 1},
        "preprocessing": preprocessing_card(config),
        "output": ({"name": "action_probabilities", "units": "probability of each action of action_space"}
                   if discrete else
                   {"name": "action", "units": "steering, speed in -1..1, mapped linearly onto action_space"}),
        "action_space": action_space_card(config),
        "tflite": {"file": MODEL_FILE, "sha256": tflite_sha256, "quantization": quantization,
                   "input_dtype": "float32", "input_shape": [1, *config.input_shape]},
        "training": training,
        "metrics": metrics,
    }
    parse_model_card(card)
    return card


def representative_frames(config: RLConfig, n: int = REPRESENTATIVE_FRAMES) -> list[np.ndarray]:
    """Model inputs for int8 calibration: camera frames along the first training track (a few
    offsets from the centre line, headings slightly off), preprocessed and stacked as the card says."""
    from drive_agent.model_card import PreprocessingSpec
    from drive_agent.preprocessing import FrameStack, preprocess
    from simulator.camera import DeepRacerCamera
    from simulator.track import load_track

    choice = config.tracks[0]
    track = load_track(choice.name, reverse=choice.reverse)
    camera = DeepRacerCamera(track)
    pre = preprocessing_card(config)
    spec = PreprocessingSpec(crop_top=pre["crop_top"], crop_bottom=pre["crop_bottom"],
                             resize=tuple(pre["resize"]) if pre["resize"] else None,
                             color_space=pre["color_space"], scale=pre["scale"], stack=pre["stack"])
    rng = np.random.default_rng(0)
    frames = []
    stack = FrameStack(spec.stack)
    for i in range(n):
        distance = track.length * i / n
        stack.reset()
        offset = float(rng.uniform(-0.3, 0.3)) * float(np.min(track.widths))
        yaw_error = float(rng.uniform(-0.3, 0.3))
        x = None
        for k in range(spec.stack):  # consecutive frames a car's length apart
            px, py, heading = track.pose_at(distance + 0.05 * k, offset)
            x = stack.push(preprocess(camera.render(px, py, heading + yaw_error), spec))
        assert x is not None
        frames.append(np.array(x, dtype=np.float32))
    return frames


def export_model(policy: Any, config: RLConfig | Mapping[str, Any], run_dir: str | os.PathLike, *,
                 best_iteration: int | None = None, reward_source: str | None = None,
                 metrics: Mapping[str, Any] | None = None, quantize: bool = False,
                 representative: Iterable[np.ndarray] | None = None,
                 export_dir: str | os.PathLike | None = None) -> Path:
    """Write the driving model and DeepRacer's files to `export_dir` (default `<run_dir>/export`)
    and return that folder.

    `policy`: a Keras model from the preprocessed frames (float32 [1, H, W, stack], 0..1) to the
    discrete action probabilities [1, n] or the continuous action [1, 2] in -1..1.
    `reward_source` defaults to the run's reward_function.py; `metrics` (the card's) default to
    the run's logs: best evaluation completion and lap, and the last iteration's figures.
    `quantize`: int8 weights and activations, calibrated on `representative` inputs (default:
    frames rendered along the first training track)."""
    cfg = _config(config)
    run = Path(run_dir)
    out = Path(export_dir) if export_dir is not None else run / EXPORT_DIR
    _check_policy(policy, cfg)
    if reward_source is None:
        try:
            reward_source = (run / "reward_function.py").read_text()
        except OSError as exc:
            raise ExportError(f"no reward source given and {run / 'reward_function.py'} is missing") from exc
    quantization = "int8" if quantize else "float32"
    if quantize and representative is None:
        representative = representative_frames(cfg)
    blob = to_tflite(policy, quantization, representative)
    summary = run_metrics(run, best_iteration)
    card_metrics = {**summary, **dict(metrics or {})}
    training = {
        "algorithm": "clipped_ppo",
        "tracks": [t.key for t in cfg.tracks],
        "config": cfg.to_dict(),
        "best_iteration": best_iteration,
        "iterations": summary.get("iterations", 0),
        "episodes": summary.get("episodes", 0),
    }
    card = model_card(cfg, sha256_bytes(blob), quantization, training, card_metrics)
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / (MODEL_FILE + ".tmp")
    tmp.write_bytes(blob)
    tmp.replace(out / MODEL_FILE)
    write_json(out / "model_metadata.json", cfg.model_metadata().to_json())
    write_json(out / "hyperparameters.json", cfg.to_hyperparameters_json())
    (out / "reward_function.py").write_text(reward_source)
    write_json(out / CARD_FILE, card)  # last: a card means the folder is complete
    return out


def _check_policy(policy: Any, config: RLConfig) -> None:
    inputs = getattr(policy, "inputs", None) or []
    outputs = getattr(policy, "outputs", None) or []
    if len(inputs) != 1 or len(outputs) != 1:
        raise ExportError("the policy must be a Keras model with one input and one output")
    shape = tuple(inputs[0].shape[1:])
    if shape != tuple(config.input_shape):
        raise ExportError(f"policy input {list(shape)} does not match the config's observation "
                          f"{list(config.input_shape)} (height, width, stack)")
    want = len(config.model_metadata().action_space.actions) if config.action_space_type == "discrete" else 2
    got = outputs[0].shape[-1]
    if got != want:
        raise ExportError(f"policy output has {got} values; the {config.action_space_type} action space "
                          f"needs {want}")


def run_metrics(run_dir: str | os.PathLike, best_iteration: int | None = None) -> dict[str, Any]:
    """Figures of a run for its model card, from its logs (empty without logs): iterations,
    episodes, the last iteration's mean reward and % of completed episodes, and the best
    iteration's (default: the best evaluated one) evaluation completion and best lap."""
    from training.rl.analysis import AnalysisError, iteration_summary

    try:
        rows = iteration_summary(run_dir)
    except AnalysisError:
        return {}
    if not rows:
        return {}
    last = rows[-1]
    out: dict[str, Any] = {
        "iterations": len(rows),
        "episodes": sum(r["episodes"] for r in rows),
        "last_reward_mean": last["reward_mean"],
        "last_completed_pct": last["completed_pct"],
    }
    evaluated = [r for r in rows if r["eval_trials"]]
    if best_iteration is not None:
        chosen = [r for r in evaluated if r["iteration"] == best_iteration]
    else:
        chosen = sorted(evaluated, key=lambda r: (-r["eval_completion_pct"],
                                                  min(r["eval_lap_times"], default=float("inf"))))[:1]
    if chosen:
        best = chosen[0]
        out["best_iteration"] = best["iteration"]
        out["eval_completion_pct"] = best["eval_completion_pct"]
        out["eval_best_lap_s"] = min(best["eval_lap_times"], default=None)
    return out


# --------------------------------------------------------------------------- console archive
def archive_entries(run_dir: str | os.PathLike, name: str | None = None) -> list[tuple[Path, str]]:
    """(file in the run, path in the archive) for `console_archive`."""
    run = Path(run_dir)
    name = name or run.name
    export = run / EXPORT_DIR
    entries: list[tuple[Path, str]] = []

    def add(source: Path, target: str) -> None:
        if source.is_file():
            entries.append((source, target))

    metadata = export / "model_metadata.json" if (export / "model_metadata.json").exists() \
        else run / "model_metadata.json"
    add(metadata, "model/model_metadata.json")
    add(export / MODEL_FILE, f"model/{MODEL_FILE}")
    add(export / CARD_FILE, f"model/{CARD_FILE}")
    hyper = export / "hyperparameters.json" if (export / "hyperparameters.json").exists() \
        else run / "hyperparameters.json"
    add(hyper, "ip/hyperparameters.json")
    reward = export / "reward_function.py" if (export / "reward_function.py").exists() \
        else run / "reward_function.py"
    add(reward, "reward_function.py")
    add(metrics_path(run), "metrics/TrainingMetrics.json")
    for folder in ("training-simtrace", "evaluation-simtrace"):
        for csv_file in sorted((run / folder).glob("*-iteration.csv"), key=_iteration_number):
            add(csv_file, f"{folder}/{csv_file.name}")
    add(robomaker_log_path(run), f"logs/training/{name}-robomaker.log")
    return entries


def _iteration_number(path: Path) -> int:
    head = path.name.split("-", 1)[0]
    return int(head) if head.isdigit() else -1


def training_params_yaml(run_dir: str | os.PathLike) -> str | None:
    """deepracer-for-cloud's training_params.yaml, the parts a run has (track, reverse,
    action space type, episodes between training), or None without a training_config.json."""
    try:
        config = _config(json.loads((Path(run_dir) / "training_config.json").read_text()))
    except (OSError, ValueError):
        return None
    track = config.tracks[0]
    lines = {
        "WORLD_NAME": track.name,
        "REVERSE_DIR": str(track.reverse),
        "RACE_TYPE": "TIME_TRIAL",
        "NUMBER_OF_EPISODES": "0",
        "ALTERNATE_DRIVING_DIRECTION": str(len({t.reverse for t in config.tracks}) > 1),
        "NUM_TRACKS": str(len(config.tracks)),
        "TRACKS": ",".join(t.key for t in config.tracks),
        "ACTION_SPACE_TYPE": config.action_space_type,
        "NUM_EPISODES_BETWEEN_TRAINING": str(config.num_episodes_between_training),
        "SENSOR": "FRONT_FACING_CAMERA",
    }
    return "".join(f'{key}: "{value}"\n' for key, value in lines.items())


def console_archive(run_dir: str | os.PathLike, dest: str | os.PathLike, name: str | None = None) -> Path:
    """Zip the run in the DeepRacer model-folder layout (see the module docstring) under a
    top-level folder `name` (default: the run folder's name). `dest` is the zip file, or a
    folder to put `<name>.zip` in. Returns the zip's path."""
    run = Path(run_dir)
    name = name or run.name
    entries = archive_entries(run, name)
    if not any(target.startswith("training-simtrace/") for _, target in entries):
        raise ExportError(f"{run} has no training logs to archive")
    target = Path(dest)
    if target.is_dir():
        target = target / f"{name}.zip"
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for source, inside in entries:
            archive.write(source, f"{name}/{inside}")
        params = training_params_yaml(run)
        if params is not None:
            archive.writestr(f"{name}/training_params.yaml", params)
    tmp.replace(target)
    return target
