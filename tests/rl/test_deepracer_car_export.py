"""The DeepRacer car export: the archive the console uploads (model_metadata.json + agent/model.pb),
loaded back with TensorFlow by the node names the car's model optimizer and inference use, acts as
our TFLite model does on the same camera frames."""

import io
import json
import tarfile
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from drive_agent.loop import DriveLoop
from drive_agent.model_card import load_model_card
from drive_agent.preprocessing import resize
from drive_agent.runtime import TFLiteModel
from tests.rl.test_export import REWARD, config, drive_frames, policy_for
from training.rl.deepracer_car_export import (
    MODEL_PB,
    OUTPUT_NAME,
    CarExportError,
    car_archive,
    car_archive_from_run,
    input_name,
    pillow_bilinear_weights,
)
from training.rl.export import export_model

CAR_INPUT = "main_level/agent/main/online/network_0/FRONT_FACING_CAMERA/FRONT_FACING_CAMERA"


def read_archive(path: Path) -> tuple[dict, bytes]:
    with tarfile.open(path, "r:gz") as tar:
        names = tar.getnames()
        assert sorted(names) == ["agent/model.pb", "model_metadata.json"]
        pbs = [n for n in names if n.endswith(".pb")]
        assert pbs == [MODEL_PB]                              # the car's loader wants exactly one
        metadata = json.load(tar.extractfile("model_metadata.json"))
        return metadata, tar.extractfile(MODEL_PB).read()


def car_session(pb: bytes, metadata: dict):
    """Load model.pb as the car's optimizer reads it: the input named after the metadata's sensor
    with shape [1, 120, 160, 1], and the policy output."""
    graph_def = tf.compat.v1.GraphDef()
    graph_def.ParseFromString(pb)
    graph = tf.Graph()
    with graph.as_default():
        tf.graph_util.import_graph_def(graph_def, name="")
    name = input_name(metadata)
    assert name == CAR_INPUT
    inp = graph.get_tensor_by_name(name + ":0")
    assert inp.shape.as_list() == [1, 120, 160, 1] and inp.dtype == tf.float32
    assert graph.get_operation_by_name(name).type == "Placeholder"
    assert not [op for op in graph.get_operations() if op.type in ("VarHandleOp", "VariableV2", "ReadVariableOp")]
    out = graph.get_tensor_by_name(OUTPUT_NAME + ":0")
    session = tf.compat.v1.Session(graph=graph)
    return lambda frame: session.run(out, {inp: frame.reshape(1, 120, 160, 1).astype(np.float32)})[0]


@pytest.mark.parametrize("space", ["discrete", "continuous"])
@pytest.mark.parametrize("downscale", [2, 1])
def test_car_graph_acts_as_the_tflite_model(tmp_path: Path, space: str, downscale: int) -> None:
    changes = {"downscale": downscale}
    if space == "continuous":
        changes.update(action_space_type="continuous",
                       action_space={"steering_angle": {"low": -30, "high": 30}, "speed": {"low": 0.5, "high": 2}})
    cfg = config(**changes)
    policy = policy_for(cfg, seed=3)
    export = export_model(policy, cfg, tmp_path / "run", reward_source=REWARD)
    card = load_model_card(export / "model_card.json")
    tflite = TFLiteModel(export / "model.tflite", card)
    loop = DriveLoop(tflite)
    archive = car_archive(policy, cfg, tmp_path, name="pitlane-model")
    assert archive.name == "pitlane-model.tar.gz"
    metadata, pb = read_archive(archive)
    assert metadata == json.loads((export / "model_metadata.json").read_text())
    run_car = car_session(pb, metadata)
    frames = drive_frames(24)
    outputs = []
    for frame in frames:
        ours = tflite.run(loop_input(loop, frame))
        car = run_car(frame)
        assert car.shape == ours.shape
        outputs.append(car)
        np.testing.assert_allclose(car, ours, atol=2e-4)
        if space == "discrete":
            assert int(np.argmax(car)) == int(np.argmax(ours))
        else:
            assert loop.model.predict(loop_input(loop, frame)).steering_deg == pytest.approx(
                -30 + (np.clip(car[0], -1, 1) + 1) * 30, abs=0.02)
    assert np.ptp(np.stack(outputs), axis=0).max() > 1e-3     # the frames give different outputs


def loop_input(loop: DriveLoop, frame: np.ndarray) -> np.ndarray:
    from drive_agent.preprocessing import preprocess

    return preprocess(frame, loop.card)


def test_in_graph_downscale_is_pillows_exactly() -> None:
    rng = np.random.default_rng(0)
    weights_rows, weights_cols = pillow_bilinear_weights(120, 60), pillow_bilinear_weights(160, 80)
    for _ in range(5):
        frame = rng.integers(0, 256, (120, 160, 1), dtype=np.uint8)
        x = np.clip(np.floor(frame[:, :, 0].astype(np.float64) @ weights_cols.T + 0.5), 0, 255)
        x = np.clip(np.floor(weights_rows @ x + 0.5), 0, 255)
        np.testing.assert_array_equal(x.astype(np.uint8), resize(frame, (60, 80))[:, :, 0])


def test_stacked_frames_and_other_sensors_are_refused(tmp_path: Path) -> None:
    cfg = config(stack_size=2)
    with pytest.raises(CarExportError, match="stacks 2 frames"):
        car_archive(policy_for(cfg), cfg, tmp_path)
    assert input_name({}) == "main_level/agent/main/online/network_0/observation/observation"
    with pytest.raises(CarExportError, match="one front camera"):
        input_name({"sensor": ["STEREO_CAMERAS", "LIDAR"]})
    cfg = config()
    with pytest.raises(CarExportError, match="NAME.tar.gz"):
        car_archive(policy_for(cfg), cfg, tmp_path / "model.zip")


def test_archive_from_a_training_run(tmp_path: Path) -> None:
    """A real (tiny) training run's best checkpoint, exported for the car, acts as the run's
    exported TFLite model."""
    from training.rl.train import train

    cfg = config(num_envs=2, chunk_steps=16, num_episodes_between_training=5, term_cond_max_episodes=5,
                 eval_trials=0, batch_size=32, num_epochs=3, seed=3)
    result = train(cfg, REWARD, tmp_path / "run")
    assert result.iterations == 1 and result.export_dir is not None
    archive = car_archive_from_run(result.out_dir, tmp_path, name="run")
    metadata, pb = read_archive(archive)
    run_car = car_session(pb, metadata)
    card = load_model_card(result.export_dir / "model_card.json")
    tflite = TFLiteModel(result.export_dir / "model.tflite", card)
    for frame in drive_frames(6):
        x = loop_input(DriveLoop(tflite), frame)
        np.testing.assert_allclose(run_car(frame), tflite.run(x), atol=2e-4)
    with pytest.raises(CarExportError, match="not a training run"):
        car_archive_from_run(tmp_path / "nowhere", tmp_path)


def test_graph_has_no_ops_beyond_the_optimizers_basics(tmp_path: Path) -> None:
    """OpenVINO's TensorFlow front end converts these (the car runs an old model optimizer)."""
    cfg = config()
    _, pb = read_archive(car_archive(policy_for(cfg), cfg, tmp_path))
    graph_def = tf.compat.v1.GraphDef()
    graph_def.ParseFromString(pb)
    ops = {node.op for node in graph_def.node}
    assert ops <= {"Placeholder", "Const", "Identity", "Floor", "AddV2", "Add", "Maximum", "Minimum",
                   "Reshape", "MatMul", "Mul", "Conv2D", "BiasAdd", "Relu", "Softmax", "Tanh", "Pack",
                   "StridedSlice", "Shape", "ClipByValue", "Squeeze"}, ops
    assert io.BytesIO(pb).getbuffer().nbytes > 1000


def test_openvino_converts_and_runs_the_car_graph(tmp_path: Path) -> None:
    """What the car does with model.pb: OpenVINO's converter, by the input name and shape the
    car's model optimizer passes, then inference agreeing with our TFLite model. Runs where
    `openvino` is installed (not a project dependency; checked with openvino 2026.4)."""
    ov = pytest.importorskip("openvino")
    cfg = config()
    policy = policy_for(cfg, seed=3)
    export = export_model(policy, cfg, tmp_path / "run", reward_source=REWARD)
    card = load_model_card(export / "model_card.json")
    tflite = TFLiteModel(export / "model.tflite", card)
    metadata, pb = read_archive(car_archive(policy, cfg, tmp_path))
    (tmp_path / "model.pb").write_bytes(pb)
    model = ov.convert_model(str(tmp_path / "model.pb"), input=[(input_name(metadata) + ":0", [1, 120, 160, 1])])
    compiled = ov.Core().compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    for frame in drive_frames(8):
        car = compiled([frame.reshape(1, 120, 160, 1).astype(np.float32)])[0][0]
        ours = tflite.run(loop_input(DriveLoop(tflite), frame))
        np.testing.assert_allclose(car, ours, atol=2e-4)
        assert int(np.argmax(car)) == int(np.argmax(ours))
