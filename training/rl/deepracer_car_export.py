"""Export a Pitlane RL policy for the AWS DeepRacer car's own inference (the console's model upload).

What the car does with an uploaded `NAME.tar.gz` (aws-deepracer-systems-pkg, model-optimizer-pkg,
inference-pkg, navigation-pkg):

- the model loader unpacks it and takes the one `*.pb` file anywhere inside, plus
  `model_metadata.json` at the top, into /opt/aws/deepracer/artifacts/NAME/ (`model.pb`);
- the model optimizer runs OpenVINO's `mo_tf.py` on that frozen TensorFlow graph with, per sensor
  of model_metadata.json, the input `main_level/agent/main/online/network_0/<SENSOR>/<SENSOR>`
  (`FRONT_FACING_CAMERA` for our models; `observation` when the metadata names no sensor) of
  shape [1, 120, 160, 1] (clipped PPO's head is "main");
- the inference node resizes the camera image to 160x120, converts it to grey (OpenCV BGR2GRAY)
  and feeds the values 0..255 as float32, unnormalised; it reads the network's first output;
- the navigation node takes the argmax of that output for a discrete action space (the rows of
  model_metadata.json's action_space), or reads (steering, speed) in -1..1 and maps them linearly
  onto the continuous ranges.

So the exported graph is: the grey 160x120 frame (0..255) -> our training preprocessing, in the
graph (Pillow's bilinear downscale reproduced exactly, with the same rounding to whole grey
levels after each pass, then 0..1) -> the policy -> `.../network_1/ppo_head_0/policy`, the
probabilities or the tanh (steering, speed) pair, the same output as our TFLite model. A frame
stack cannot run on the car (the node feeds one frame): such a model is refused.

The archive: `model_metadata.json` and `agent/model.pb` (the AWS console's layout for the car).
"""

from __future__ import annotations

import io
import json
import tarfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from training.rl.config import RLConfig
from training.rl.export import ExportError

CAMERA_HEIGHT, CAMERA_WIDTH = 120, 160
INPUT_FORMAT = "main_level/agent/main/online/network_0/{sensor}/{sensor}"
OUTPUT_NAME = "main_level/agent/main/online/network_1/ppo_head_0/policy"
DEFAULT_SENSOR = "observation"
CAMERA_SENSORS = ("FRONT_FACING_CAMERA", "observation", "LEFT_CAMERA")
MODEL_PB = "agent/model.pb"


class CarExportError(ExportError):
    """The model cannot run on the DeepRacer's own inference (the message says why)."""


def input_name(model_metadata: dict[str, Any]) -> str:
    """The input node the car's model optimizer asks for, from model_metadata.json's sensor."""
    sensors = model_metadata.get("sensor") or [DEFAULT_SENSOR]
    cameras = [s for s in sensors if s in CAMERA_SENSORS]
    if len(sensors) != 1 or not cameras:
        raise CarExportError(f"the car export supports one front camera sensor, the model has {sensors}")
    return INPUT_FORMAT.format(sensor=cameras[0])


def pillow_bilinear_weights(in_size: int, out_size: int) -> np.ndarray:
    """(out_size, in_size) weights of Pillow's BILINEAR resize along one axis (its triangle filter
    widened by the scale when shrinking, normalised per output pixel), as
    `drive_agent.preprocessing.resize` applies it."""
    scale = in_size / out_size
    filterscale = max(scale, 1.0)
    support = filterscale
    weights = np.zeros((out_size, in_size), dtype=np.float64)
    for i in range(out_size):
        centre = (i + 0.5) * scale
        lo = max(int(centre - support + 0.5), 0)
        hi = min(int(centre + support + 0.5), in_size)
        taps = np.maximum(0.0, 1.0 - np.abs((np.arange(lo, hi) - centre + 0.5) / filterscale))
        weights[i, lo:hi] = taps / taps.sum()
    return weights


def _check(config: RLConfig) -> dict[str, Any]:
    pre = config.preprocessing_card()
    if config.stack_size != 1:
        raise CarExportError(f"the car feeds its network one frame; this model stacks {config.stack_size} "
                             "frames (train with stack_size 1 to race it on the car)")
    if pre["crop_top"] or pre["crop_bottom"] or pre["color_space"] != "gray" or pre["scale"] != "unit":
        raise CarExportError(f"the car export expects grey frames scaled 0..1 without cropping, not {pre}")
    return pre


def car_graph_def(policy: Any, config: RLConfig) -> Any:
    """The frozen TensorFlow GraphDef the car loads: input `input_name(...)` float32
    [1, 120, 160, 1] grey 0..255, output `OUTPUT_NAME` (what `policy` outputs)."""
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    pre = _check(config)
    metadata = config.model_metadata().to_json()
    in_name = input_name(metadata)
    h, w = pre["resize"] or (CAMERA_HEIGHT, CAMERA_WIDTH)
    rows = tf.constant(pillow_bilinear_weights(CAMERA_HEIGHT, h), tf.float32)        # (h, 120)
    cols = tf.constant(pillow_bilinear_weights(CAMERA_WIDTH, w).T, tf.float32)       # (160, w)

    def whole_grey(x: Any) -> Any:  # Pillow rounds each pass to uint8 (half up)
        return tf.clip_by_value(tf.floor(x + 0.5), 0.0, 255.0)

    @tf.function(input_signature=[tf.TensorSpec([1, CAMERA_HEIGHT, CAMERA_WIDTH, 1], tf.float32)])
    def car(frame: Any) -> Any:
        x = whole_grey(frame)
        if (h, w) != (CAMERA_HEIGHT, CAMERA_WIDTH):
            x = tf.reshape(x, [CAMERA_HEIGHT, CAMERA_WIDTH])
            x = whole_grey(tf.matmul(x, cols))        # horizontal pass first, as Pillow
            x = whole_grey(tf.matmul(rows, x))
            x = tf.reshape(x, [1, h, w, 1])
        return policy(x * (1.0 / 255.0), training=False)

    frozen = convert_variables_to_constants_v2(car.get_concrete_function())
    inner = frozen.graph.as_graph_def()
    inner_in = frozen.inputs[0].name
    inner_out = frozen.outputs[0].name
    graph = tf.Graph()
    with graph.as_default():
        frame = tf.compat.v1.placeholder(tf.float32, [1, CAMERA_HEIGHT, CAMERA_WIDTH, 1], name=in_name)
        (out,) = tf.graph_util.import_graph_def(inner, input_map={inner_in: frame}, return_elements=[inner_out],
                                                name="pitlane")
        tf.identity(out, name=OUTPUT_NAME)
    graph_def = graph.as_graph_def()
    for node in graph_def.node:  # frozen: control edges (to NoOps of variable reads) order nothing now
        kept = [i for i in node.input if not i.startswith("^")]
        del node.input[:]
        node.input.extend(kept)
    graph_def = tf.compat.v1.graph_util.extract_sub_graph(graph_def, [OUTPUT_NAME])
    names = {node.name for node in graph_def.node}
    if in_name not in names or OUTPUT_NAME not in names:
        raise CarExportError("the frozen graph lost its input or output node")
    return graph_def


def car_archive(policy: Any, config: RLConfig, dest: str | Path, name: str = "model") -> Path:
    """Write `NAME.tar.gz` (model_metadata.json, agent/model.pb) for the car's console upload.
    `dest` is the archive path or a folder for `<name>.tar.gz`. Returns the archive's path."""
    graph_def = car_graph_def(policy, config)
    target = Path(dest)
    if target.is_dir():
        target = target / f"{name}.tar.gz"
    if not target.name.endswith(".tar.gz"):
        raise CarExportError(f"the car takes NAME.tar.gz archives, not {target.name}")
    metadata = json.dumps(config.model_metadata().to_json(), indent=1).encode()
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    with tarfile.open(tmp, "w:gz") as tar:
        for inside, data in (("model_metadata.json", metadata), (MODEL_PB, graph_def.SerializeToString())):
            info = tarfile.TarInfo(inside)
            info.size, info.mtime, info.mode = len(data), int(time.time()), 0o644
            tar.addfile(info, io.BytesIO(data))
    tmp.replace(target)
    return target


def car_archive_from_run(run_dir: str | Path, dest: str | Path, name: str = "model",
                         iteration: int | None = None) -> Path:
    """The car archive of a training run's best (else last) checkpoint, or of `iteration`."""
    from training.rl.networks import build_actor_critic, policy_for_export
    from training.rl.train import STATE_FILE, RunState, checkpoint_dir

    run = Path(run_dir)
    try:
        config = RLConfig.from_dict(json.loads((run / "training_config.json").read_text()))
    except OSError as exc:
        raise CarExportError(f"{run} is not a training run (no training_config.json)") from exc
    _check(config)
    if iteration is None:
        state_file = run / "checkpoints" / STATE_FILE
        if not state_file.is_file():
            raise CarExportError(f"{run} has no finished iteration to export")
        state = RunState.load(state_file)
        iteration = state.best_iteration if state.best_iteration is not None else state.last_iteration
    weights = checkpoint_dir(run, iteration) / "model.weights.h5"
    if not weights.is_file():
        raise CarExportError(f"no checkpoint for iteration {iteration} in {run}")
    model = build_actor_critic(config)
    model.load_weights(weights)
    return car_archive(policy_for_export(model, config), config, dest, name)
