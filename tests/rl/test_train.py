"""training.rl.train end to end, on tiny budgets: the out_dir layout, progress events, stop with a
checkpoint, resume continuing the iteration numbers, clones with another action space, and a
reward function that raises. Reward functions run in the real sandbox (training.rl.sandbox)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from simulator.stopping import Stopped
from training.rl.config import RLConfig
from training.rl.sandbox import RewardFunctionError, isolation_backend

CENTRE_LINE = '''def reward_function(params):
    width = params["track_width"]
    distance = params["distance_from_center"]
    if distance <= 0.1 * width:
        return 1.0
    if distance <= 0.25 * width:
        return 0.5
    return 1e-3
'''
RAISES = '''import math


def reward_function(params):
    if params["steps"] > 3:
        return math.sqrt(-params["track_width"])
    return 1.0
'''


@pytest.fixture(autouse=True)
def _sandbox(monkeypatch):
    if isolation_backend() is None:  # still a separate process with rlimits and seccomp
        monkeypatch.setenv("PITLANE_UNSAFE_REWARD_SANDBOX", "1")


def tiny(**changes) -> RLConfig:
    """A few seconds of training: 2 cars, short chunks, 5 episodes an iteration, 1 evaluation trial."""
    base = {"num_envs": 2, "chunk_steps": 16, "num_episodes_between_training": 5, "eval_trials": 1,
            "batch_size": 32, "max_seconds": 600.0, "seed": 3}
    return RLConfig.from_dict({**base, **changes})


class StopAfter:
    """should_stop that answers True once `n` iteration events have arrived."""

    def __init__(self, n: int) -> None:
        self.n, self.events = n, []

    def on_progress(self, event):
        self.events.append(event)

    def __call__(self) -> bool:
        return sum(e["phase"] == "iteration" for e in self.events) >= self.n


@pytest.fixture(scope="module")
def stopped_run(tmp_path_factory):
    """A run stopped once its first iteration was reported, then resumed and stopped the same way
    (with the linear learning-rate schedule, whose rate the checkpoint carries across the resume).

    The update of an iteration runs while the next one's steps are collected, so a stop finishes
    the iteration whose update is in flight: each stop keeps two iterations."""
    if isolation_backend() is None:
        pytest.skip("set PITLANE_UNSAFE_REWARD_SANDBOX=1 for this module's shared run")
    from training.rl.train import train

    out = tmp_path_factory.mktemp("rl") / "run"
    first = StopAfter(1)
    with pytest.raises(Stopped, match="last checkpoint is iteration 1"):
        train(tiny(lr_schedule="linear"), CENTRE_LINE, out, on_progress=first.on_progress, should_stop=first,
              export=False)
    state_after_stop = json.loads((out / "checkpoints" / "state.json").read_text())
    second = StopAfter(1)
    with pytest.raises(Stopped, match="last checkpoint is iteration 3"):
        train(tiny(lr_schedule="linear"), CENTRE_LINE, out, on_progress=second.on_progress, should_stop=second,
              export=False)
    return out, first.events, second.events, state_after_stop


def test_out_dir_layout(stopped_run):
    out, _, _, _ = stopped_run
    for name in ("training_config.json", "model_metadata.json", "hyperparameters.json", "reward_function.py",
                 "progress.jsonl", "checkpoints/state.json", "checkpoints/iter-0000/model.weights.h5",
                 "checkpoints/iter-0001/model.weights.h5", "training-simtrace/0-iteration.csv",
                 "training-simtrace/1-iteration.csv", "metrics/TrainingMetrics.json",
                 "evaluation-simtrace/0-iteration.csv"):
        assert (out / name).is_file(), name
    assert (out / "reward_function.py").read_text() == CENTRE_LINE
    assert RLConfig.load(out / "training_config.json") == tiny(lr_schedule="linear")
    assert json.loads((out / "hyperparameters.json").read_text()) == tiny().to_hyperparameters_json()
    assert json.loads((out / "model_metadata.json").read_text())["action_space_type"] == "discrete"
    metrics = json.loads((out / "metrics" / "TrainingMetrics.json").read_text())["metrics"]
    # Every episode finished in an iteration is logged in it: at least 5 per iteration (the cars
    # finish episodes together, so sometimes more), exactly the rows the progress events reported.
    events = [json.loads(line) for line in (out / "progress.jsonl").read_text().splitlines()]
    reported = sum(len(e.get("episode_rows") or []) for e in events if e.get("phase") == "iteration")
    logged = sum(m["phase"] == "training" for m in metrics)
    assert logged == reported and logged >= 10


def test_progress_events(stopped_run):
    out, first, _, _ = stopped_run
    event = first[0]
    assert event["phase"] == "iteration" and event["iteration"] == 0
    for key in ("episodes", "steps", "elapsed_s", "eta_s", "percent", "reward_mean", "reward_min", "reward_max",
                "episode_rows", "eval_completion_pct", "eval_lap_times", "best_iteration", "steps_per_s",
                "episodes_per_hour", "entropy", "kl", "policy_loss", "value_loss", "lr"):
        assert key in event, key
    json.dumps(event)  # the web stores it as JSON
    phases = event["phase_s"]  # where the iteration's wall time went (bench/rl_training.py sums them)
    assert set(phases) == {"rollout", "update", "logs", "evaluation", "checkpoint"}
    # "update" is the wait for the update after the next rollout; update_s its own duration
    assert all(v >= 0 for v in phases.values()) and phases["rollout"] > 0 and event["update_s"] > 0
    assert phases["evaluation"] > 0  # the first iteration is always evaluated
    rows = event["episode_rows"]
    assert len(rows) >= 5 and {"episode", "reward", "progress", "steps", "status"} <= set(rows[0])
    assert event["reward_min"] <= event["reward_mean"] <= event["reward_max"]
    assert sum(r["reward"] for r in rows) / len(rows) == pytest.approx(event["reward_mean"])
    assert all(r["reward"] > 0 for r in rows)  # the sandbox's rewards reached the episodes
    assert 0 <= event["eval_completion_pct"] <= 100 and event["best_iteration"] == 0
    assert 0 < event["eta_s"] < 600 and event["steps"] >= 5 * 2
    lines = [json.loads(line) for line in (out / "progress.jsonl").read_text().splitlines()]
    assert [e["iteration"] for e in lines] == [0, 1, 2, 3]


def test_stop_keeps_a_checkpoint_and_resume_continues(stopped_run):
    out, first, second, state_after_stop = stopped_run
    assert state_after_stop["last_iteration"] == 1
    assert [e["iteration"] for e in first] == [0, 1]  # the stop finished the update in flight
    assert second[0]["iteration"] == 2  # numbering continues
    assert second[0]["episodes"] > first[0]["episodes"]
    assert second[0]["steps"] > first[0]["steps"]
    assert second[0]["elapsed_s"] > first[0]["elapsed_s"]
    state = json.loads((out / "checkpoints" / "state.json").read_text())
    assert state["last_iteration"] == 3 and state["rng"]
    # The linear schedule lowers the rate after every update, across the resume too.
    # (Events round the rate to 3 significant digits; a rate not carried would be 3e-4 again.)
    rates = [e["lr"] for e in first + second]
    assert rates[0] == pytest.approx(3e-4) and 0.9 * 3e-4 < rates[-1] < rates[0]
    assert all(b <= a for a, b in zip(rates, rates[1:], strict=False))


def test_resume_refuses_another_configuration(stopped_run):
    from training.rl.config import ConfigError
    from training.rl.train import train

    out, _, _, _ = stopped_run
    with pytest.raises(ConfigError, match="another lr") as caught:
        train(tiny(lr=1e-4), CENTRE_LINE, out, export=False)
    assert caught.value.field == "lr"


def test_clone_with_another_action_space_keeps_trunk_and_value_head(stopped_run, tmp_path):
    import keras

    from training.rl.networks import build_actor_critic
    from training.rl.train import train

    source, _, _, _ = stopped_run
    fewer = tiny().action_space[:6]
    stop = StopAfter(1)
    with pytest.raises(Stopped):
        train(tiny(action_space=fewer, seed=9), CENTRE_LINE, tmp_path / "clone", init_from=source,
              on_progress=stop.on_progress, should_stop=stop, export=False)
    state = json.loads((tmp_path / "clone" / "checkpoints" / "state.json").read_text())
    assert "from 10 to 6 actions" in state["clone_explanation"]
    old = build_actor_critic(tiny())
    old.load_weights(source / "checkpoints" / "iter-0001" / "model.weights.h5")
    fresh = build_actor_critic(tiny(action_space=fewer), seed=9)  # what the clone's head started from
    keras.utils.set_random_seed(9)
    cloned = build_actor_critic(tiny(action_space=fewer))
    cloned.load_weights(tmp_path / "clone" / "checkpoints" / "iter-0000" / "model.weights.h5")
    # one iteration of training moved every layer a little: compare distances, not equality
    def distance(a, b, layer):
        return float(np.abs(a.get_layer(layer).get_weights()[0] - b.get_layer(layer).get_weights()[0]).mean())
    for layer in ("trunk_conv1", "trunk_dense", "value_head"):
        assert distance(cloned, old, layer) < 0.2 * distance(fresh, old, layer), layer
    assert cloned.get_layer("policy_head").get_weights()[0].shape == (256, 6)


def test_a_raising_reward_function_fails_with_its_line_and_params(tmp_path):
    from training.rl.train import train

    with pytest.raises(RewardFunctionError) as caught:
        train(tiny(), RAISES, tmp_path / "bad", export=False)
    error = caught.value
    assert error.line == 6 and "math domain error" in str(error)
    assert error.params is not None and error.params["steps"] > 3 and "track_width" in error.params


def test_a_finished_run_exports_a_model_the_drive_agent_loads(tmp_path):
    from drive_agent.model_card import load_model_card
    from drive_agent.runtime import TFLiteModel
    from training.rl.train import train

    result = train(tiny(max_seconds=1.0, eval_trials=0), CENTRE_LINE, tmp_path / "run")
    # a process whose TensorFlow has traced an update before fits more than one iteration in 1 s
    assert result.stop_reason == "time_limit" and result.iterations >= 1
    assert result.export_dir == tmp_path / "run" / "export"
    card = load_model_card(result.export_dir / "model_card.json")
    assert card.kind == "discrete_actions" and card.model_input_shape == (60, 80, 1)
    model = TFLiteModel(result.export_dir / "model.tflite", card)
    prediction = model.predict(np.full((60, 80, 1), 0.5, np.float32))
    assert prediction.action_index is not None and 0 <= prediction.action_index < 10
    done = json.loads((tmp_path / "run" / "progress.jsonl").read_text().splitlines()[-1])
    assert done["phase"] == "done" and done["export_dir"] == str(result.export_dir)
