"""Export a trained Keras model for the car: TFLite (float32 or int8) and the model card.

The card is the contract the drive agent obeys (docs/architecture.md); it is validated with the
drive agent's own parser before it is written, so a card training writes can always be driven.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from drive_agent.model_card import SCHEMA, parse_model_card
from training.bc.config import SOURCE_HEIGHT, SOURCE_WIDTH, TrainConfig


def to_tflite(model: keras.Model, quantization: str,
              representative: Iterable[np.ndarray] | None = None) -> bytes:
    """Convert to TFLite; int8 is post-training quantisation calibrated on `representative`
    frames (float input/output kept, so the agent feeds both kinds the same way)."""
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if quantization == "int8":
        if representative is None:
            raise ValueError("int8 quantisation needs representative frames")
        frames = [np.asarray(f, dtype=np.float32) for f in representative]

        def samples():
            for frame in frames:
                yield [frame[None]]

        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = samples
    with contextlib.redirect_stdout(io.StringIO()):  # the converter prints its SavedModel
        return converter.convert()


def sha256_bytes(blob: bytes) -> str:
    return hashlib.sha256(blob).hexdigest()


def model_card(cfg: TrainConfig, tflite_sha256: str, datasets: list[str], frames: int,
               metrics: dict[str, float], tflite_file: str = "model.tflite") -> dict[str, Any]:
    card = {
        "schema": SCHEMA,
        "kind": "regression_steering",
        "input": {"camera": "udacity_center", "width": SOURCE_WIDTH, "height": SOURCE_HEIGHT,
                  "channels": 3},
        "preprocessing": cfg.preprocessing_card(),
        "output": {"name": "steering", "units": "normalised -1..1 (x 25 degrees)"},
        "action_space": None,
        "tflite": {"file": tflite_file, "sha256": tflite_sha256,
                   "quantization": cfg.quantization, "input_dtype": "float32",
                   "input_shape": [1, *cfg.input_shape]},
        "training": {"datasets": datasets, "config": cfg.to_dict(), "frames": int(frames),
                     "architecture": cfg.architecture},
        "metrics": {k: float(v) for k, v in metrics.items()},
    }
    parse_model_card(card)
    return card


def write_json(path: Path, payload: Any) -> None:
    """Write JSON atomically (a reader never sees half a file)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(payload, indent=2, sort_keys=True))
    tmp.replace(path)


def tflite_predict(tflite_bytes: bytes, frames: np.ndarray) -> np.ndarray:
    """Run a TFLite model frame by frame (as the car does); returns (N,) predictions."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:  # pragma: no cover - older environments
        Interpreter = tf.lite.Interpreter
    interpreter = Interpreter(model_content=tflite_bytes)
    interpreter.allocate_tensors()
    inp = interpreter.get_input_details()[0]
    out = interpreter.get_output_details()[0]
    preds = []
    for frame in frames:
        interpreter.set_tensor(inp["index"], np.asarray(frame, np.float32)[None])
        interpreter.invoke()
        preds.append(float(interpreter.get_tensor(out["index"]).reshape(-1)[0]))
    return np.array(preds, dtype=np.float32)
