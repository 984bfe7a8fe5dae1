"""`train()`: one behavioural-cloning training run from recordings to a drivable model.

A plain function (no Celery, no Django): the web app wraps it as a job, the CLI calls it
directly. It is restartable: every finished epoch is checkpointed in `out_dir`, and calling it
again with the same `out_dir` and configuration resumes after the last finished epoch (after a
`simulator.stopping.Stopped` as after a crash).

Artifacts in `out_dir`:
    model.keras, model.tflite, model_card.json, history.json, validation.npz,
    config.json, plots/*.json (Plotly figures), heatmaps/frame_*.png, heatmaps/sequence.gif,
    checkpoint/ (resume state; safe to delete after a run completed)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import keras
import numpy as np
from PIL import Image

from drive_agent.preprocessing import preprocess
from simulator.stopping import OnProgress, ShouldStop, Stopped, raise_if_stopped
from training.bc import bottleneck, data, export, models, plots, saliency
from training.bc.callbacks import (
    BEST_WEIGHTS_FILE,
    CHECKPOINT_DIR,
    MODEL_FILE,
    EpochCheckpointer,
    ProgressReporter,
    load_checkpoint_state,
)
from training.bc.config import TrainConfig
from training.bc.dataset_index import recording

#: Config fields that may change between a run and its resumption.
RESUMABLE_CHANGES = ("epochs", "patience", "saliency_samples", "saliency_gif_frames",
                     "quantization", "representative_samples")


@dataclass
class TrainResult:
    """A completed run (a stopped one raises `Stopped` instead)."""

    out_dir: Path
    epochs_completed: int
    resumed_from_epoch: int
    best_epoch: int | None
    stopped_early: bool
    history: dict[str, list[float]]
    metrics: dict[str, float] = field(default_factory=dict)
    artifacts: dict[str, Any] = field(default_factory=dict)
    model_card: dict[str, Any] | None = None


@dataclass
class _Fit:
    """What `fit` trains: PilotNet (or the transfer head on cached features) and its data."""

    model: keras.Model
    train_ds: Any
    val_ds: Any
    steps_per_epoch: int
    prefix: keras.Model | None = None   # set when the fit model is a head on bottleneck features


def _comparable(config: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in config.items() if k not in RESUMABLE_CHANGES}


def _steps(samples: int, cfg: TrainConfig) -> int:
    steps = max(1, math.ceil(samples / cfg.batch_size))
    return min(steps, cfg.max_steps_per_epoch) if cfg.max_steps_per_epoch else steps


def _image_fit(split: data.SplitData, cfg: TrainConfig) -> _Fit:
    model = models.compile_model(models.build_model(cfg), cfg)
    return _Fit(model,
                data.training_dataset(split.train_paths, split.train_angles, cfg),
                data.validation_dataset(split.val_paths, split.val_angles, cfg),
                _steps(len(split.train_paths), cfg))


def _bottleneck_fit(split: data.SplitData, cfg: TrainConfig, cache_dir: Path) -> _Fit:
    prefix = models.build_inception_prefix(cfg, cfg.inception_weights)
    digest = bottleneck.file_digest(cfg.inception_weights)
    features = []
    for dataset_id in range(len(split.index.datasets)):
        array, _, _ = bottleneck.cached_features(recording(split.index, dataset_id), prefix,
                                                 cfg, cache_dir, digest)
        features.append(array)
    train = bottleneck.feature_samples(split.index, split.train_frames, cfg, training=True)
    val = bottleneck.feature_samples(split.index, split.val_frames, cfg, training=False)
    head = models.compile_model(
        models.build_transfer_head(tuple(prefix.output_shape[1:]), cfg), cfg)
    return _Fit(head,
                bottleneck.feature_dataset(features, train, cfg.batch_size, cfg.seed, True),
                bottleneck.feature_dataset(features, val, cfg.batch_size, None, False),
                _steps(len(train), cfg), prefix=prefix)


def _display_and_inputs(paths: np.ndarray, cfg: TrainConfig) -> tuple[np.ndarray, np.ndarray]:
    """Model inputs and RGB display frames (same crop/resize) of a few validation frames."""
    spec = data.preprocessing_spec(cfg)
    rgb_spec = data.preprocessing_spec(cfg.replace(color_space="rgb"))
    inputs, display = [], []
    for path in paths:
        with Image.open(path) as img:
            frame = np.asarray(img.convert("RGB"))
        inputs.append(preprocess(frame, spec))
        display.append(preprocess(frame, rgb_spec, dtype=np.uint8))
    return np.stack(inputs), np.stack(display)


def _representative(split: data.SplitData, cfg: TrainConfig) -> list[np.ndarray]:
    rng = np.random.default_rng(cfg.seed)
    count = min(cfg.representative_samples, len(split.train_paths))
    picks = rng.choice(len(split.train_paths), size=count, replace=False)
    frames = [batch.numpy() for batch in data.image_dataset(split.train_paths[picks], cfg)]
    return list(np.concatenate(frames)) if frames else []


def _export(fit: _Fit, split: data.SplitData, cfg: TrainConfig, out_dir: Path,
            state: dict[str, Any], should_stop: ShouldStop | None) -> tuple[dict, dict, dict]:
    """Write every artifact of a finished run; returns (metrics, artifacts, card)."""
    export_model = (fit.model if fit.prefix is None
                    else models.join_transfer_model(fit.prefix, fit.model))
    export_model.save(out_dir / "model.keras")

    predicted = export_model.predict(data.image_dataset(split.val_paths, cfg),
                                     verbose=0).reshape(-1)
    true = split.val_angles
    np.savez(out_dir / "validation.npz", true=true, predicted=predicted.astype(np.float32),
             frame_index=split.val_frames.astype(np.int64),
             dataset_id=split.index.dataset_id[split.val_frames],
             row=split.index.row[split.val_frames])
    error = predicted - true
    metrics = {"val_loss": float(state["best_val_loss"]),
               "val_mae": float(np.mean(np.abs(error))),
               "val_mse": float(np.mean(error ** 2)),
               "best_epoch": float(state["best_epoch"])}
    raise_if_stopped(should_stop, "training stopped before exporting the model")

    representative = _representative(split, cfg) if cfg.quantization == "int8" else None
    blob = export.to_tflite(export_model, cfg.quantization, representative)
    (out_dir / "model.tflite").write_bytes(blob)
    card = export.model_card(cfg, export.sha256_bytes(blob), split.index.datasets,
                             len(split.index), metrics)
    export.write_json(out_dir / "model_card.json", card)

    history = {**state["history"], "epoch_time_s": state["epoch_time_s"]}
    export.write_json(out_dir / "history.json", history)
    plot_dir = out_dir / "plots"
    plot_dir.mkdir(exist_ok=True)
    ids, counts = np.unique(split.index.dataset_id, return_counts=True)
    figures = {**plots.training_figures(state["history"], true, predicted, split.val_frames,
                                        dataset_ids=split.index.dataset_id[split.val_frames],
                                        block_frames=cfg.val_block_frames,
                                        dataset_frames=dict(zip(ids.tolist(), counts.tolist(), strict=True))),
               **plots.dataset_figures(split.index.steering_raw, cfg.smoothing_alpha,
                                       cfg.smoothing_sigma)}
    for name, figure in figures.items():
        export.write_json(plot_dir / f"{name}.json", figure)

    wanted = min(max(cfg.saliency_gif_frames, cfg.saliency_samples), len(split.val_paths))
    heatmaps: dict[str, Any] = {"png": [], "gif": ""}
    if wanted > 0:
        inputs, display = _display_and_inputs(split.val_paths[:wanted], cfg)
        heatmaps = saliency.write_heatmaps(export_model, inputs, display, out_dir / "heatmaps",
                                           cfg.saliency_samples, cfg.saliency_gif_frames)
    artifacts = {"model_keras": "model.keras", "tflite": "model.tflite",
                 "model_card": "model_card.json", "history": "history.json",
                 "validation": "validation.npz", "config": "config.json",
                 "plots": {name: f"plots/{name}.json" for name in figures},
                 "heatmaps": heatmaps}
    return metrics, artifacts, card


def train(dataset_dirs: list[str | Path], config: TrainConfig, out_dir: str | Path,
          on_progress: OnProgress | None = None, should_stop: ShouldStop | None = None,
          cache_dir: str | Path | None = None) -> TrainResult:
    """Train a steering model on `dataset_dirs` into `out_dir` (resuming a checkpoint there).

    on_progress(dict) receives phase ("batch"/"epoch_end"), epoch (1-based), epochs, batch,
    batches, loss, val_loss, eta_s, percent. should_stop() is polled about every 0.25 s; when it
    answers True the run stops within a batch and raises `simulator.stopping.Stopped` (the last
    epoch checkpoint stays, so the same call later resumes). cache_dir holds bottleneck features
    (default: `out_dir/../bottleneck_cache`, shared by the runs of a grid).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    cache_dir = Path(cache_dir) if cache_dir else out_dir.parent / "bottleneck_cache"
    config_dict = config.to_dict()
    state = load_checkpoint_state(out_dir)
    if state is not None and _comparable(state.pop("config")) != _comparable(config_dict):
        raise ValueError(f"{out_dir} holds a checkpoint of a different configuration; "
                         "use a new output directory")
    export.write_json(out_dir / "config.json", config_dict)
    keras.utils.set_random_seed(config.seed)

    split = data.prepare([Path(d) for d in dataset_dirs], config)
    use_cache = config.architecture == "inception_transfer" and config.use_bottleneck_cache
    fit = _bottleneck_fit(split, config, cache_dir) if use_cache else _image_fit(split, config)

    start_epoch = 0
    checkpoint_dir = out_dir / CHECKPOINT_DIR
    if state is not None:
        fit.model = keras.models.load_model(checkpoint_dir / MODEL_FILE)
        start_epoch = int(state["epoch"])
    checkpointer = EpochCheckpointer(out_dir, config_dict, config.patience, state)
    state = checkpointer.state
    val_losses = state["history"].get("val_loss") or [None]
    reporter = ProgressReporter(on_progress, should_stop, config.epochs, fit.steps_per_epoch,
                                start_epoch, val_losses[-1])

    if start_epoch < config.epochs and not state["stopped_early"]:
        # A stop raises Stopped out of fit; the checkpoint of the last finished epoch stays.
        fit.model.fit(fit.train_ds, validation_data=fit.val_ds, epochs=config.epochs,
                      initial_epoch=start_epoch, steps_per_epoch=fit.steps_per_epoch,
                      callbacks=[reporter, checkpointer], verbose=0, shuffle=False)
    if state["epoch"] == 0:
        raise Stopped("training stopped before its first epoch ended")
    fit.model.load_weights(checkpoint_dir / BEST_WEIGHTS_FILE)
    metrics, artifacts, card = _export(fit, split, config, out_dir, state, should_stop)
    if on_progress is not None:
        on_progress({"phase": "done", "epoch": state["epoch"], "epochs": config.epochs,
                     "batch": fit.steps_per_epoch, "batches": fit.steps_per_epoch,
                     "loss": state["history"].get("loss", [None])[-1],
                     "val_loss": metrics["val_loss"], "eta_s": 0.0, "percent": 100.0})
    return TrainResult(out_dir=out_dir, epochs_completed=int(state["epoch"]), resumed_from_epoch=start_epoch,
                       best_epoch=state["best_epoch"], stopped_early=bool(state["stopped_early"]),
                       history=dict(state["history"]), metrics=metrics, artifacts=artifacts, model_card=card)
