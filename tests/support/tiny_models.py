"""The tiny TFLite models (and their model cards) that tests run, all built by this one builder.

It runs in a subprocess (`python -m tests.support.tiny_models OUT_DIR`) so that no test process
imports TensorFlow; `cached_tiny_models(cache_dir)` (the `tiny_models` fixture) builds them once per
version of this file. In OUT_DIR:

Udacity models with random weights (a 320x160 frame, cropped 60/25 and resized to 8x16), each as
NAME.tflite, its card NAME.json and NAME.ref.json (Keras's output for one fixed input):
  regression_float.tflite   float32, one tanh output: steering
  regression_int8.tflite    full-integer int8 input/output, same weights
  discrete.tflite           5-way softmax over the card's action table
  continuous.tflite         two tanh outputs (steering, speed) in -1..1
  deepracer_discrete.tflite a 160x120 grayscale DeepRacer camera, 5-way softmax

A model that drives, laid out as training exports one (steering/model.tflite, model_card.json),
for evaluation, API and browser tests that need laps in a few hundred simulator steps: one Dense
layer with hand-set weights on a small grayscale DeepRacer frame steers away from the brighter half
of the image (the verge) towards the dark tarmac, so it drives the built-in DeepRacer tracks
without training.

An RL model that drives, exported as RL training exports one (`training.rl.export.export_model`) into
rl_discrete/ (model.tflite, model_card.json, model_metadata.json, hyperparameters.json): a
`discrete_actions` card for the DeepRacer camera (the trainer's 80x60 grey observation) with a
five-row action table (steering angle x speed), whose one Dense layer picks the action whose
steering best fits the brightness difference of the two halves of a band of rows ahead of the car,
so it completes laps of the DeepRacer-scale tracks (with the odd reset) at the actions' speeds.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.support.paths import ROOT

INPUT_HW = (8, 16)
ACTIONS = [{"steering_angle": a, "speed": s} for a, s in
           [(-30, 0.5), (-15, 1.0), (0, 2.0), (15, 1.0), (30, 0.5)]]

STEERING_DIR = "steering"
STEERING_INPUT_HW = (12, 16)
# Rows 30-60 of 120: the track a metre or so ahead, so the model steers early enough for the
# DeepRacer car's fitted response (1/15 s lag, 0.53 s steering time constant).
STEERING_CROP_TOP, STEERING_CROP_BOTTOM = 30, 60
STEERING_GAIN = 10.0  # tanh(GAIN x brightness difference of the two halves, 0..1 scale)
MODEL_FILE = "model.tflite"
CARD_FILE = "model_card.json"


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


def steering_card(sha256: str = "") -> dict:
    """The model card (docs/architecture.md) of the driving model, for the DeepRacer camera."""
    return {
        "schema": "pitlane.model_card/1",
        "kind": "regression_steering",
        "input": {"camera": "deepracer_front", "width": 160, "height": 120, "channels": 1},
        "preprocessing": {"crop_top": STEERING_CROP_TOP, "crop_bottom": STEERING_CROP_BOTTOM,
                          "resize": list(STEERING_INPUT_HW), "color_space": "gray", "scale": "none"},
        "output": {"name": "steering", "units": "normalised -1..1 (x 25 degrees)"},
        "action_space": None,
        "tflite": {"file": MODEL_FILE, "sha256": sha256, "quantization": "float32",
                   "input_dtype": "float32", "input_shape": [1, *STEERING_INPUT_HW, 1]},
        "training": {"datasets": [], "config": {"builder": "tests.support.tiny_models"}, "frames": 0},
        "metrics": {"val_loss": 0.0, "val_mae": 0.0},
    }


def build_steering_model(out_dir: str | Path) -> tuple[Path, Path]:
    """Write the driving model's `model.tflite` and `model_card.json` into `out_dir`."""
    import numpy as np
    import tensorflow as tf

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    h, w = STEERING_INPUT_HW
    inp = tf.keras.Input((h, w, 1))
    x = tf.keras.layers.Rescaling(1 / 255.0)(inp)
    x = tf.keras.layers.Flatten()(x)
    dense = tf.keras.layers.Dense(1, activation="tanh")
    model = tf.keras.Model(inp, dense(x))
    # + steers right (Udacity convention): a brighter left half means the verge is on the left.
    sign = np.where(np.arange(w) < w // 2, 1.0, -1.0)
    weights = np.tile(sign, (h, 1)).reshape(h * w, 1) * STEERING_GAIN / (h * w / 2)
    dense.set_weights([weights.astype("float32"), np.zeros(1, dtype="float32")])
    data = tf.lite.TFLiteConverter.from_keras_model(model).convert()
    model_path = out / MODEL_FILE
    model_path.write_bytes(data)
    card_path = out / CARD_FILE
    card_path.write_text(json.dumps(steering_card(hashlib.sha256(data).hexdigest()), indent=1))
    return model_path, card_path


RL_DIR = "rl_discrete"
#: The RL model's action table (degrees, + = left; m/s) and, per action, the brightness difference
#: (left half minus right half of a band of rows ahead of the car, 0..1) it answers best.
RL_ACTIONS = [{"steering_angle": a, "speed": s} for a, s in
              [(30, 0.6), (15, 0.9), (0, 1.2), (-15, 0.9), (-30, 0.6)]]
RL_CENTRES = (-0.06, -0.024, 0.0, 0.024, 0.06)
RL_ROWS = (15, 30)  # of the 60 rows of the 80x60 observation: the track a metre or two ahead
RL_SHARPNESS = 500.0


def build_rl_model(out_dir: str | Path) -> tuple[Path, Path]:
    """Export the RL driving model as RL training does (`training.rl.export.export_model`: TFLite,
    `discrete_actions` card with the trainer's observation, DeepRacer's files) and put its
    `model.tflite` and `model_card.json` into `out_dir`."""
    import numpy as np
    import tensorflow as tf

    from training.rl.config import RLConfig
    from training.rl.export import export_model

    out = Path(out_dir)
    config = RLConfig.from_dict({**RLConfig().to_dict(), "action_space": RL_ACTIONS})
    h, w, _ = config.input_shape
    inp = tf.keras.Input(config.input_shape)
    dense = tf.keras.layers.Dense(len(RL_ACTIONS), activation="softmax")
    policy = tf.keras.Model(inp, dense(tf.keras.layers.Flatten()(inp)))
    # d = mean(left half) - mean(right half) of the rows ahead; logit_i = k (2 c_i d - c_i^2): the
    # action whose centre is nearest to d wins.
    band = np.zeros((h, w))
    band[RL_ROWS[0]:RL_ROWS[1], :] = 1.0
    sign = np.where(np.arange(w) < w // 2, 1.0, -1.0)[None, :] * band
    d = sign.reshape(h * w, 1) / (band.sum() / 2)
    centres = np.array(RL_CENTRES)
    dense.set_weights([(d * 2 * centres[None, :] * RL_SHARPNESS).astype("float32"),
                       (-(centres ** 2) * RL_SHARPNESS).astype("float32")])
    with tempfile.TemporaryDirectory() as run:
        export = export_model(policy, config, run, reward_source="def reward_function(params):\n    return 1.0\n")
        out.mkdir(parents=True, exist_ok=True)
        for name in (MODEL_FILE, CARD_FILE, "model_metadata.json", "hyperparameters.json"):
            shutil.copy(export / name, out / name)
    return out / MODEL_FILE, out / CARD_FILE


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
    build_steering_model(out / STEERING_DIR)
    build_rl_model(out / RL_DIR)


def cached_tiny_models(cache_dir: str | Path) -> Path:
    """The folder of all the tiny models, built once per version of this file in a TensorFlow
    subprocess (the calling process stays free of TensorFlow)."""
    key = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:16]
    folder = Path(cache_dir) / f"tiny_models_{key}"
    if (folder / "DONE").exists():
        return folder
    # Built beside the cache entry and renamed into place: pytest runs that share the cache never
    # see a half-written folder.
    scratch = Path(tempfile.mkdtemp(prefix=f"{folder.name}.", dir=cache_dir))
    done = subprocess.run([sys.executable, "-m", "tests.support.tiny_models", str(scratch)],
                          cwd=ROOT, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True)
    if done.returncode != 0:
        shutil.rmtree(scratch, ignore_errors=True)
        raise RuntimeError(f"building the tiny models failed:\n{done.stderr[-3000:]}")
    if folder.exists() and not (folder / "DONE").exists():
        shutil.rmtree(folder, ignore_errors=True)  # left half-built by an interrupted run
    try:
        scratch.rename(folder)
    except OSError:  # another run got there first
        shutil.rmtree(scratch, ignore_errors=True)
    return folder


def steering_model_files(folder: Path) -> tuple[Path, Path]:
    """(model.tflite, model_card.json) of the driving model in a `cached_tiny_models` folder."""
    return folder / STEERING_DIR / MODEL_FILE, folder / STEERING_DIR / CARD_FILE


def rl_model_files(folder: Path) -> tuple[Path, Path]:
    """(model.tflite, model_card.json) of the RL driving model in a `cached_tiny_models` folder."""
    return folder / RL_DIR / MODEL_FILE, folder / RL_DIR / CARD_FILE


if __name__ == "__main__":
    target = Path(sys.argv[1])
    target.mkdir(parents=True, exist_ok=True)
    build(target)
    (target / "DONE").write_text("ok")
