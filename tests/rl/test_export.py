"""RL export: the drive agent loads the exported model and acts as the Keras policy does on the same
camera frames (frame stacking included); DeepRacer's files beside it; the console/DRfC archive read
back by deepracer-utils."""

import hashlib
import json
import zipfile

import keras
import numpy as np
import pytest
from deepracer.logs import DeepRacerLog, SimulationLogsIO

from drive_agent.loop import DriveLoop
from drive_agent.model_card import ModelCardError, PreprocessingSpec, load_model_card, parse_model_card
from drive_agent.preprocessing import FrameStack, preprocess
from drive_agent.runtime import TFLiteModel
from simulator.camera import DeepRacerCamera
from simulator.deepracer import parse_model_metadata
from simulator.track import load_track
from tests.rl import synthetic_runs as runs
from training.rl.config import RLConfig
from training.rl.export import ExportError, console_archive, export_model
from training.rl.logs import TrainingLog

REWARD = "def reward_function(params):\n    return float(params['speed'])\n"


def config(**changes) -> RLConfig:
    base = {"tracks": [{"name": "pitlane_loop", "reverse": False}], "downscale": 2, "stack_size": 1}
    base.update(changes)
    return RLConfig.from_dict(base)


def policy_for(cfg: RLConfig, seed: int = 0) -> keras.Model:
    """A small random CNN with the trainer's export signature: frames 0..1 -> probabilities or
    a tanh (steering, speed) pair."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input(cfg.input_shape, batch_size=1)
    x = keras.layers.Conv2D(8, 5, strides=4, activation="relu")(inputs)
    x = keras.layers.Conv2D(8, 3, strides=2, activation="relu")(x)
    x = keras.layers.Flatten()(x)
    if cfg.action_space_type == "discrete":
        n = len(cfg.model_metadata().action_space.actions)
        out = keras.layers.Dense(n, activation="softmax", kernel_initializer=keras.initializers.RandomNormal(0, 0.3))(x)
    else:
        out = keras.layers.Dense(2, activation="tanh", kernel_initializer=keras.initializers.RandomNormal(0, 0.3))(x)
    return keras.Model(inputs, out)


def drive_frames(n: int = 24) -> list[np.ndarray]:
    """Consecutive DeepRacer camera frames of a car going round pitlane_loop, a little off line."""
    track = load_track("pitlane_loop")
    camera = DeepRacerCamera(track)
    frames = []
    for i in range(n):
        x, y, heading = track.pose_at(0.12 * i, 0.1 * np.sin(i / 3))
        frames.append(camera.render(x, y, heading + 0.2 * np.cos(i / 4)))
    return frames


def keras_inputs(frames, cfg: RLConfig) -> list[np.ndarray]:
    """What the trainer feeds the network: grey frames downscaled by the drive agent's resize as
    uint8, / 255, the newest last in a stack that starts with the first frame repeated."""
    h, w = cfg.frame_shape
    spec = PreprocessingSpec(resize=(h, w) if cfg.downscale > 1 else None, color_space="gray")
    history: list[np.ndarray] = []
    out = []
    for frame in frames:
        small = preprocess(frame, spec, dtype=np.uint8)[:, :, 0].astype(np.float32) / 255.0
        history = [small] * cfg.stack_size if not history else history[1:] + [small]
        out.append(np.stack(history, axis=-1)[None])
    return out


@pytest.fixture(scope="module")
def frames():
    return drive_frames()


@pytest.mark.parametrize("stack", [1, 3])
def test_discrete_export_drives_like_keras(tmp_path, frames, stack):
    cfg = config(stack_size=stack)
    policy = policy_for(cfg, seed=stack)
    out = export_model(policy, cfg, tmp_path, reward_source=REWARD)
    card = load_model_card(out / "model_card.json")
    assert card.kind == "discrete_actions"
    assert (card.input.camera, card.input.width, card.input.height, card.input.channels) == \
        ("deepracer_front", 160, 120, 1)
    p = card.preprocessing
    assert (p.resize, p.color_space, p.scale, p.stack) == ((60, 80), "gray", "unit", stack)
    assert card.model_input_shape == (60, 80, stack)
    assert [(a.steering_angle, a.speed) for a in card.action_space.actions] == \
        [(a.steering_angle, a.speed) for a in cfg.model_metadata().action_space.actions]

    loop = DriveLoop(TFLiteModel(out / "model.tflite", card))
    expected = [policy(x, training=False).numpy()[0] for x in keras_inputs(frames, cfg)]
    chosen = []
    for frame, probs in zip(frames, expected, strict=True):
        command = loop.step(frame, None)
        np.testing.assert_allclose(loop.model.run(_last_input(loop, frame, card)), probs, atol=2e-5)
        chosen.append(command.prediction.action_index)
    assert chosen == [int(np.argmax(p)) for p in expected]
    assert len(set(chosen)) > 1  # the frames really differ for the policy


def _last_input(loop: DriveLoop, frame, card) -> np.ndarray:
    """The input the loop just gave the model: rebuilt from its frame history."""
    if loop._frames is None:
        return preprocess(frame, card)
    return loop._frames._stack.copy()


def test_stacked_history_restarts_after_reset(tmp_path, frames):
    cfg = config(stack_size=2)
    out = export_model(policy_for(cfg), cfg, tmp_path, reward_source=REWARD)
    card = load_model_card(out / "model_card.json")
    loop = DriveLoop(TFLiteModel(out / "model.tflite", card))
    for frame in frames[:5]:
        loop.step(frame, None)
    loop.reset()
    loop.step(frames[10], None)
    stacked = loop._frames._stack
    single = preprocess(frames[10], card)
    np.testing.assert_array_equal(stacked[:, :, 0], single[:, :, 0])
    np.testing.assert_array_equal(stacked[:, :, 1], single[:, :, 0])
    loop.step(frames[11], None)
    np.testing.assert_array_equal(loop._frames._stack[:, :, 0], single[:, :, 0])
    np.testing.assert_array_equal(loop._frames._stack[:, :, 1], preprocess(frames[11], card)[:, :, 0])


def test_continuous_export_gives_steering_and_speed(tmp_path, frames):
    cfg = config(action_space_type="continuous",
                 action_space={"steering_angle": {"low": -30, "high": 30}, "speed": {"low": 0.5, "high": 3.0}})
    policy = policy_for(cfg)
    out = export_model(policy, cfg, tmp_path, reward_source=REWARD)
    card = load_model_card(out / "model_card.json")
    assert card.kind == "continuous_actions"
    assert (card.action_space.speed_range.low, card.action_space.speed_range.high) == (0.5, 3.0)
    loop = DriveLoop(TFLiteModel(out / "model.tflite", card))
    for frame, x in zip(frames, keras_inputs(frames, cfg), strict=True):
        steer, speed = policy(x, training=False).numpy()[0]
        prediction = loop.step(frame, None).prediction
        assert prediction.steering_deg == pytest.approx(-30 + (steer + 1) * 30, abs=1e-3)
        assert prediction.speed == pytest.approx(0.5 + (speed + 1) / 2 * 2.5, abs=1e-3)


def test_deepracer_files_beside_the_model(tmp_path):
    cfg = config()
    run = tmp_path / "run"
    runs.write_run_files(run)
    out = export_model(policy_for(cfg), cfg.to_dict(), run, best_iteration=None)
    assert sorted(p.name for p in out.iterdir()) == ["hyperparameters.json", "model.tflite", "model_card.json",
                                                     "model_metadata.json", "reward_function.py"]
    assert (out / "reward_function.py").read_text() == (run / "reward_function.py").read_text()
    meta = parse_model_metadata(json.loads((out / "model_metadata.json").read_text()))
    assert meta.action_space == cfg.model_metadata().action_space
    assert json.loads((out / "hyperparameters.json").read_text()) == cfg.to_hyperparameters_json()
    card = json.loads((out / "model_card.json").read_text())
    assert card["tflite"]["sha256"] == hashlib.sha256((out / "model.tflite").read_bytes()).hexdigest()
    assert card["training"]["config"] == cfg.to_dict()
    assert card["training"]["tracks"] == ["pitlane_loop"]


def test_int8_export_agrees_with_float(tmp_path, frames):
    cfg = config()
    policy = policy_for(cfg, seed=5)
    float_dir = export_model(policy, cfg, tmp_path, reward_source=REWARD, export_dir=tmp_path / "f")
    int8_dir = export_model(policy, cfg, tmp_path, reward_source=REWARD, quantize=True, export_dir=tmp_path / "q")
    card = load_model_card(int8_dir / "model_card.json")
    assert card.tflite.quantization == "int8"
    assert (int8_dir / "model.tflite").stat().st_size < (float_dir / "model.tflite").stat().st_size
    f_loop = DriveLoop(TFLiteModel(float_dir / "model.tflite", load_model_card(float_dir / "model_card.json")))
    q_loop = DriveLoop(TFLiteModel(int8_dir / "model.tflite", card))
    agree = [f_loop.step(fr, None).prediction.action_index == q_loop.step(fr, None).prediction.action_index
             for fr in frames]
    assert sum(agree) >= 0.75 * len(agree)


def test_bad_policies_are_refused(tmp_path):
    cfg = config()
    with pytest.raises(ExportError, match="does not match the config's observation"):
        export_model(policy_for(config(stack_size=2)), cfg, tmp_path, reward_source=REWARD)
    wrong = config(action_space=[{"steering_angle": 0, "speed": 1.0}, {"steering_angle": 10, "speed": 1.0}])
    with pytest.raises(ExportError, match="needs 2"):
        export_model(policy_for(cfg), wrong, tmp_path, reward_source=REWARD)
    with pytest.raises(ExportError, match="reward_function.py is missing"):
        export_model(policy_for(cfg), cfg, tmp_path / "empty")


def test_card_stack_is_checked():
    card = json.loads(json.dumps(_card()))
    assert "stack" not in parse_model_card(card).to_dict()["preprocessing"]  # old cards unchanged
    for bad in (0, 9, "2", True):
        card["preprocessing"]["stack"] = bad
        with pytest.raises(ModelCardError, match="preprocessing.stack"):
            parse_model_card(card)
    card["preprocessing"]["stack"] = 4
    card["tflite"]["input_shape"] = [1, 60, 80, 4]
    parsed = parse_model_card(card)
    assert parsed.model_input_shape == (60, 80, 4) and parsed.to_dict()["preprocessing"]["stack"] == 4
    with pytest.raises(ValueError, match="at least one"):
        FrameStack(0)


def _card():
    return {"schema": "pitlane.model_card/1", "kind": "discrete_actions",
            "input": {"camera": "deepracer_front", "width": 160, "height": 120, "channels": 1},
            "preprocessing": {"resize": [60, 80], "color_space": "gray", "scale": "unit"},
            "action_space": [{"steering_angle": 0, "speed": 1}], "tflite": {"input_shape": [1, 60, 80, 1]}}


def test_console_archive_reads_in_deepracer_utils(tmp_path):
    track = load_track("pitlane_loop")
    episodes = runs.iterations(track, n_iterations=2, per_iteration=5)
    cfg = config(action_space=[{"steering_angle": a.steering_angle, "speed": a.speed}
                               for a in runs.ACTIONS.actions], num_episodes_between_training=5)
    run = tmp_path / "my-model"
    run.mkdir()
    (run / "training_config.json").write_text(cfg.to_json())
    (run / "model_metadata.json").write_text(json.dumps(cfg.model_metadata().to_json()))
    (run / "hyperparameters.json").write_text(json.dumps(cfg.to_hyperparameters_json()))
    (run / "reward_function.py").write_text(REWARD)
    log = TrainingLog(run)
    evaluation = runs.evaluation(track)
    for k, batch in enumerate(episodes):
        log.write_iteration(k, batch, track)
        log.write_evaluation(k, evaluation, track)
    out = export_model(policy_for(cfg), cfg, run)
    card = json.loads((out / "model_card.json").read_text())
    assert card["metrics"]["iterations"] == 2 and card["metrics"]["episodes"] == 10
    assert card["metrics"]["eval_completion_pct"] == pytest.approx(
        np.mean([int(t.completion_pct) for t in evaluation.trials]))

    archive = console_archive(run, tmp_path)
    assert archive == tmp_path / "my-model.zip"
    with zipfile.ZipFile(archive) as z:
        names = set(z.namelist())
        z.extractall(tmp_path / "unzipped")
    for expected in ("model/model_metadata.json", "model/model.tflite", "model/model_card.json",
                     "ip/hyperparameters.json", "reward_function.py", "training_params.yaml",
                     "metrics/TrainingMetrics.json", "training-simtrace/0-iteration.csv",
                     "training-simtrace/1-iteration.csv", "evaluation-simtrace/1-iteration.csv",
                     "logs/training/my-model-robomaker.log"):
        assert f"my-model/{expected}" in names, expected
    folder = tmp_path / "unzipped" / "my-model"
    drl = DeepRacerLog(str(folder))
    drl.load_training_trace()  # with model_metadata.json and hyperparameters.json
    assert drl.hyperparameters()["num_episodes_between_training"] == 5
    assert len(drl.action_space()) == runs.ACTIONS.n
    df = drl.dataframe()
    assert sorted(df["unique_episode"].unique()) == list(range(10))
    assert df["reward"].sum() == pytest.approx(sum(s.reward for b in episodes for ep in b for s in ep), rel=1e-6)
    raw = SimulationLogsIO.convert_to_pandas(
        SimulationLogsIO.load_data(str(folder / "logs" / "training" / "my-model-robomaker.log")), 5)
    assert len(raw) == len(df)
    assert 'WORLD_NAME: "pitlane_loop"' in (folder / "training_params.yaml").read_text()

    with pytest.raises(ExportError, match="no training logs"):
        console_archive(tmp_path / "unzipped", tmp_path / "x.zip")


@pytest.mark.parametrize("downscale", [1, 2])
def test_trainer_observation_is_the_cards_preprocessing(tmp_path, frames, downscale):
    """What the trainer feeds the network (its frame encoder, / 255) is what the drive agent
    computes from the exported card, to float rounding."""
    from training.rl.rollout import FrameEncoder

    cfg = config(downscale=downscale)
    out = export_model(policy_for(cfg), cfg, tmp_path, reward_source=REWARD)
    card = load_model_card(out / "model_card.json")
    encode = FrameEncoder(cfg)
    for frame in frames[:6]:
        trained_on = encode(frame).astype(np.float32) / 255.0
        np.testing.assert_allclose(preprocess(frame, card)[:, :, 0], trained_on, atol=1e-6)
