"""A tiny end-to-end run on the real sample writes every artifact, and they agree."""

import hashlib
import json

import keras
import numpy as np

from drive_agent.model_card import load_model_card
from tests.bc.helpers import tiny_config
from training.bc import data
from training.bc.export import tflite_predict

EXPECTED = ["model.keras", "model.tflite", "model_card.json", "history.json", "validation.npz",
            "config.json", "plots/loss.json", "plots/predictions_over_time.json",
            "plots/predicted_vs_true.json", "plots/error_histogram.json",
            "plots/steering_histogram.json", "plots/steering_smoothing.json",
            "heatmaps/sequence.gif", "heatmaps/frame_000.png", "checkpoint/state.json"]


def test_run_completes_and_writes_every_artifact(trained_run):
    result, cfg, _ = trained_run
    assert result.epochs_completed == 2
    for name in EXPECTED:
        assert (result.out_dir / name).is_file(), name
    history = json.loads((result.out_dir / "history.json").read_text())
    assert len(history["loss"]) == len(history["val_loss"]) == 2
    assert np.isfinite(result.metrics["val_mae"])


def test_model_card_is_valid_and_pins_the_tflite(trained_run):
    result, cfg, _ = trained_run
    card = load_model_card(result.out_dir / "model_card.json")
    blob = (result.out_dir / "model.tflite").read_bytes()
    assert card.tflite.sha256 == hashlib.sha256(blob).hexdigest()
    assert card.kind == "regression_steering"
    assert card.tflite.input_shape == (1, 66, 200, 3)
    assert card.preprocessing.color_space == "yuv" and card.preprocessing.crop_top == 60
    assert card.training["config"]["side_cameras"] is True
    assert card.metrics["val_loss"] == result.metrics["val_loss"]


def test_tflite_matches_keras(trained_run, real_sample):
    result, cfg, _ = trained_run
    model = keras.models.load_model(result.out_dir / "model.keras")
    split = data.prepare([real_sample], cfg)
    frames = next(iter(data.image_dataset(split.val_paths[:6], cfg))).numpy()[:6]
    expected = model(frames, training=False).numpy().ravel()
    got = tflite_predict((result.out_dir / "model.tflite").read_bytes(), frames)
    assert np.allclose(got, expected, atol=1e-4)


def test_validation_predictions_are_the_validation_frames(trained_run, real_sample):
    result, cfg, _ = trained_run
    saved = np.load(result.out_dir / "validation.npz")
    split = data.prepare([real_sample], cfg)
    assert np.array_equal(saved["frame_index"], split.val_frames)
    assert np.allclose(saved["true"], split.val_angles)
    assert saved["predicted"].shape == saved["true"].shape
    mae = float(np.mean(np.abs(saved["predicted"] - saved["true"])))
    assert np.isclose(mae, result.metrics["val_mae"], atol=1e-5)


def test_progress_reports_epochs_batches_and_eta(trained_run):
    _, _, events = trained_run
    epoch_ends = [e for e in events if e["phase"] == "epoch_end"]
    assert [e["epoch"] for e in epoch_ends] == [1, 2]
    assert all(e["val_loss"] is not None for e in epoch_ends)
    batches = [e for e in events if e["phase"] == "batch"]
    assert batches and all(set(e) >= {"epoch", "batch", "loss", "val_loss", "eta_s", "percent"}
                           for e in batches)
    assert events[-1]["phase"] == "done" and events[-1]["percent"] == 100.0
    percents = [e["percent"] for e in events]
    assert percents == sorted(percents)


def test_int8_export_is_quantised_and_close(real_sample, tmp_path):
    from training.bc.train import train

    cfg = tiny_config(epochs=1, quantization="int8", representative_samples=16,
                      saliency_samples=0, saliency_gif_frames=0)
    result = train([real_sample], cfg, tmp_path / "int8")
    assert result.artifacts["heatmaps"] == {"png": [], "gif": ""}
    card = json.loads((result.out_dir / "model_card.json").read_text())
    assert card["tflite"]["quantization"] == "int8"
    model = keras.models.load_model(result.out_dir / "model.keras")
    split = data.prepare([real_sample], cfg)
    frames = next(iter(data.image_dataset(split.val_paths[:4], cfg))).numpy()[:4]
    got = tflite_predict((result.out_dir / "model.tflite").read_bytes(), frames)
    assert np.allclose(got, model(frames).numpy().ravel(), atol=0.1)
