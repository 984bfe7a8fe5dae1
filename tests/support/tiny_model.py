"""A tiny but driving Keras steering model, exported to TFLite with its model card.

Why: evaluation, API and browser tests need a real model file that completes laps in a few
hundred simulator steps. The network is one Dense layer with hand-set weights on a small
grayscale DeepRacer frame: it steers away from the brighter half of the image (the verge) towards
the dark tarmac, so it drives the built-in DeepRacer tracks without training.

`build_steering_model(out_dir)` imports TensorFlow; tests call `cached_steering_model(cache_dir)`,
which runs the builder in a subprocess (the test process stays free of TensorFlow) and reuses
the result while this file is unchanged.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

INPUT_HW = (12, 16)
CROP_TOP, CROP_BOTTOM = 50, 0
GAIN = 6.0  # tanh(GAIN x brightness difference of the two halves, 0..1 scale)
MODEL_FILE = "model.tflite"
CARD_FILE = "model_card.json"


def steering_card(sha256: str = "") -> dict:
    """The model card (docs/architecture.md) of the tiny model, for the DeepRacer camera."""
    return {
        "schema": "pitlane.model_card/1",
        "kind": "regression_steering",
        "input": {"camera": "deepracer_front", "width": 160, "height": 120, "channels": 1},
        "preprocessing": {"crop_top": CROP_TOP, "crop_bottom": CROP_BOTTOM, "resize": list(INPUT_HW),
                          "color_space": "gray", "scale": "none"},
        "output": {"name": "steering", "units": "normalised -1..1 (x 25 degrees)"},
        "action_space": None,
        "tflite": {"file": MODEL_FILE, "sha256": sha256, "quantization": "float32",
                   "input_dtype": "float32", "input_shape": [1, *INPUT_HW, 1]},
        "training": {"datasets": [], "config": {"builder": "tests.support.tiny_model"}, "frames": 0},
        "metrics": {"val_loss": 0.0, "val_mae": 0.0},
    }


def build_steering_model(out_dir: str | Path) -> tuple[Path, Path]:
    """Write `model.tflite` and `model_card.json` into `out_dir`; returns both paths."""
    import numpy as np
    import tensorflow as tf

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    h, w = INPUT_HW
    inp = tf.keras.Input((h, w, 1))
    x = tf.keras.layers.Rescaling(1 / 255.0)(inp)
    x = tf.keras.layers.Flatten()(x)
    dense = tf.keras.layers.Dense(1, activation="tanh")
    model = tf.keras.Model(inp, dense(x))
    # + steers right (Udacity convention): a brighter left half means the verge is on the left.
    sign = np.where(np.arange(w) < w // 2, 1.0, -1.0)
    weights = np.tile(sign, (h, 1)).reshape(h * w, 1) * GAIN / (h * w / 2)
    dense.set_weights([weights.astype("float32"), np.zeros(1, dtype="float32")])
    data = tf.lite.TFLiteConverter.from_keras_model(model).convert()
    model_path = out / MODEL_FILE
    model_path.write_bytes(data)
    card_path = out / CARD_FILE
    card_path.write_text(json.dumps(steering_card(hashlib.sha256(data).hexdigest()), indent=1))
    return model_path, card_path


def cached_steering_model(cache_dir: str | Path) -> tuple[Path, Path]:
    """The model built once per version of this file, in a TensorFlow subprocess."""
    key = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:12]
    folder = Path(cache_dir) / f"tiny_steering_{key}"
    if not (folder / "DONE").exists():
        subprocess.run([sys.executable, "-m", "tests.support.tiny_model", str(folder)], check=True,
                       cwd=Path(__file__).resolve().parents[2], stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE)
    return folder / MODEL_FILE, folder / CARD_FILE


if __name__ == "__main__":
    target = Path(sys.argv[1])
    build_steering_model(target)
    (target / "DONE").write_text("ok")
