"""Builds the tiny TFLite models (and their cards) the drive_agent tests run.

Run in a subprocess (`python tiny_models.py OUT_DIR`) so the test process never imports
TensorFlow; conftest caches the result keyed by this file's hash.
Models (all take a 320x160 Udacity frame, cropped 60/25 and resized to 8x16):
  regression_float.tflite   float32, one tanh output: steering
  regression_int8.tflite    full-integer int8 input/output, same weights
  discrete.tflite           5-way softmax over the card's action table
  continuous.tflite         two tanh outputs (steering, speed) in -1..1
  deepracer_discrete.tflite a 160x120 grayscale DeepRacer camera, 5-way softmax
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

INPUT_HW = (8, 16)
ACTIONS = [{"steering_angle": a, "speed": s} for a, s in
           [(-30, 0.5), (-15, 1.0), (0, 2.0), (15, 1.0), (30, 0.5)]]


def card_for(kind: str, file: str, quantization: str = "float32", action_space=None,
             color_space: str = "yuv") -> dict:
    return {
        "schema": "pitlane.model_card/1",
        "kind": kind,
        "input": {"camera": "udacity_center", "width": 320, "height": 160, "channels": 3},
        "preprocessing": {"crop_top": 60, "crop_bottom": 25, "resize": list(INPUT_HW),
                          "color_space": color_space, "scale": "none"},
        "output": {"name": "steering", "units": "normalised -1..1 (x 25 degrees)"},
        "action_space": action_space,
        "tflite": {"file": file, "sha256": "", "quantization": quantization,
                   "input_dtype": "int8" if quantization == "int8" else "float32",
                   "input_shape": [1, *INPUT_HW, 3]},
        "training": {"datasets": [], "config": {}, "frames": 0},
        "metrics": {"val_loss": 0.0, "val_mae": 0.0},
    }


def build(out: Path) -> None:
    import numpy as np
    import tensorflow as tf

    tf.keras.utils.set_random_seed(0)  # Keras 3 draws initial weights from its own seed
    rng = np.random.default_rng(0)
    reference_input = (np.arange(np.prod(INPUT_HW) * 3, dtype="float32").reshape(1, *INPUT_HW, 3) % 256)

    def body(n_out: int, activation: str, channels: int = 3):
        inp = tf.keras.Input((*INPUT_HW, channels))
        x = tf.keras.layers.Rescaling(1 / 127.5, offset=-1)(inp)
        x = tf.keras.layers.Conv2D(4, 3, strides=2, activation="relu")(x)
        x = tf.keras.layers.Flatten()(x)
        return tf.keras.Model(inp, tf.keras.layers.Dense(n_out, activation=activation)(x))

    def save(model, name: str, card: dict, int8: bool = False) -> None:
        conv = tf.lite.TFLiteConverter.from_keras_model(model)
        if int8:
            conv.optimizations = [tf.lite.Optimize.DEFAULT]
            # Calibrate on the kind of input the tests feed (the reference pattern) as well as on
            # noise, so the reference output is not clipped by a range calibrated on noise alone.
            conv.representative_dataset = lambda: (
                [reference_input if i % 4 == 0 else rng.integers(0, 256, (1, *INPUT_HW, 3)).astype("float32")]
                for i in range(32))
            conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
            conv.inference_input_type = tf.int8
            conv.inference_output_type = tf.int8
        data = conv.convert()
        (out / name).write_bytes(data)
        card["tflite"]["sha256"] = hashlib.sha256(data).hexdigest()
        (out / name.replace(".tflite", ".json")).write_text(json.dumps(card, indent=1))
        # A reference output for one fixed input, to compare the agent's runtime against Keras.
        channels = model.input_shape[-1]
        x = np.arange(np.prod(INPUT_HW) * channels, dtype="float32").reshape(1, *INPUT_HW, channels) % 256
        ref = {"input": "arange % 256", "keras": model(x).numpy().reshape(-1).tolist()}
        (out / name.replace(".tflite", ".ref.json")).write_text(json.dumps(ref))

    reg = body(1, "tanh")
    save(reg, "regression_float.tflite", card_for("regression_steering", "regression_float.tflite"))
    save(reg, "regression_int8.tflite", card_for("regression_steering", "regression_int8.tflite", "int8"),
         int8=True)
    save(body(len(ACTIONS), "softmax"), "discrete.tflite",
         card_for("discrete_actions", "discrete.tflite", action_space=ACTIONS))
    save(body(2, "tanh"), "continuous.tflite",
         card_for("continuous_actions", "continuous.tflite",
                  action_space={"steering_angle": {"low": -30, "high": 30}, "speed": {"low": 0.5, "high": 2.5}}))
    deepracer = card_for("discrete_actions", "deepracer_discrete.tflite", action_space=ACTIONS, color_space="gray")
    deepracer["input"] = {"camera": "deepracer_front", "width": 160, "height": 120, "channels": 1}
    deepracer["preprocessing"].update(crop_top=20, crop_bottom=10)
    deepracer["tflite"]["input_shape"] = [1, *INPUT_HW, 1]
    save(body(len(ACTIONS), "softmax", channels=1), "deepracer_discrete.tflite", deepracer)


if __name__ == "__main__":
    target = Path(sys.argv[1])
    target.mkdir(parents=True, exist_ok=True)
    build(target)
    (target / "DONE").write_text("ok")
