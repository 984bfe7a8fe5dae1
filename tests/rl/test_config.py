"""training.rl.config: DeepRacer's names, defaults and ranges, bounds that name the field, clone plans."""

from __future__ import annotations

import json

import pytest

from drive_agent.model_card import parse_model_card
from simulator.deepracer import parse_model_metadata
from training.rl.config import RANGES, ConfigError, RLConfig, TrackChoice, available_tracks, clone_plan

CONTINUOUS = {"speed": {"low": 1.0, "high": 3.0}, "steering_angle": {"low": -30.0, "high": 30.0}}


def test_defaults_use_deepracer_names_and_values():
    cfg = RLConfig()
    hyper = cfg.to_hyperparameters_json()
    # deepracer-for-cloud's hyperparameters.json keys, exactly
    assert set(hyper) == {"batch_size", "beta_entropy", "discount_factor", "e_greedy_value", "epsilon_steps",
                          "exploration_type", "loss_type", "lr", "num_episodes_between_training", "num_epochs",
                          "stack_size", "term_cond_avg_score", "term_cond_max_episodes"}
    assert (hyper["batch_size"], hyper["lr"], hyper["beta_entropy"], hyper["discount_factor"]) == (64, 3e-4, 0.01, 0.99)
    assert hyper["loss_type"] == "huber" and hyper["num_episodes_between_training"] == 20
    assert 3 <= hyper["num_epochs"] <= 10
    assert cfg.tracks == (TrackChoice("reinvent_base"),)
    assert cfg.input_shape == (60, 80, 1) and cfg.num_envs == 8 and cfg.eval_trials == 3
    metadata = cfg.model_metadata()
    assert metadata.action_space.n == 10  # the console's default space
    assert parse_model_metadata(metadata.to_json()) == metadata


def test_round_trip_through_json():
    cfg = RLConfig(tracks=[{"name": "reinvent_base", "reverse": True}, "pitlane_loop"],
                   action_space=CONTINUOUS, action_space_type="continuous", stack_size=2, max_seconds=30.0,
                   target_completion_pct=100.0, domain_randomization=True)
    again = RLConfig.from_json(json.dumps(cfg.to_dict()))
    assert again == cfg
    assert again.tracks[0] == TrackChoice("reinvent_base", True) and again.tracks[0].key == "reinvent_base:reverse"
    assert again.budget_s == 30.0 and RLConfig(max_minutes=15).budget_s == 900.0


@pytest.mark.parametrize(("field", "value"), [
    ("lr", 0.01), ("lr", 0.0), ("batch_size", 100), ("num_epochs", 11), ("num_epochs", 2),
    ("beta_entropy", 1.5), ("discount_factor", -0.1), ("num_episodes_between_training", 1000),
    ("stack_size", 5), ("downscale", 4), ("max_minutes", 5), ("max_minutes", 2000), ("max_seconds", 0.0),
    ("num_envs", 64), ("eval_trials", 11), ("target_completion_pct", 150.0), ("seed", -1),
    ("loss_type", "mae"), ("network", "resnet"), ("exploration_type", "boltzmann"),
    ("domain_randomization", "yes"), ("num_envs", 2.5), ("lr", float("nan")), ("batch_size", True),
    ("lr_schedule", "cosine"), ("kl_target", 0.0), ("kl_target", 2.0),
])
def test_bad_values_name_their_field(field, value):
    with pytest.raises(ConfigError) as caught:
        RLConfig.from_dict({field: value})
    assert caught.value.field == field
    assert field in str(caught.value)


def test_every_numeric_field_has_an_upper_bound():
    numeric = [f for f, v in RLConfig().to_dict().items()
               if isinstance(v, (int, float)) and not isinstance(v, bool)]
    assert set(numeric) - set(RANGES) == {"batch_size"}  # batch_size is a choice of five sizes


def test_tracks_and_action_space_are_checked():
    with pytest.raises(ConfigError, match="unknown track 'reinvent'") as caught:
        RLConfig.from_dict({"tracks": [{"name": "reinvent"}]})
    assert caught.value.field == "tracks"
    with pytest.raises(ConfigError, match="road, not a DeepRacer track"):
        RLConfig.from_dict({"tracks": ["pitlane_loop_road"]})
    with pytest.raises(ConfigError, match="tracks must list at least one"):
        RLConfig.from_dict({"tracks": []})
    with pytest.raises(ConfigError, match="steering_angle 45 outside") as caught:
        RLConfig.from_dict({"action_space": [{"steering_angle": 45, "speed": 1}, {"steering_angle": 0, "speed": 1}]})
    assert caught.value.field == "action_space"
    with pytest.raises(ConfigError, match="at least 2 actions"):
        RLConfig.from_dict({"action_space": [{"steering_angle": 0, "speed": 1}]})
    with pytest.raises(ConfigError, match="did you mean 'beta_entropy'"):
        RLConfig.from_dict({"beta_entropie": 0.1})
    assert "reinvent_base" in available_tracks() and "pitlane_loop" in available_tracks()
    assert not any(name.endswith("_road") for name in available_tracks())


def test_preprocessing_is_a_valid_model_card_section():
    for downscale, shape in ((2, (60, 80, 1)), (1, (120, 160, 1))):
        cfg = RLConfig(downscale=downscale)
        card = parse_model_card({
            "kind": "discrete_actions", "input": {"camera": "deepracer_front", "width": 160, "height": 120,
                                                  "channels": 1},
            "preprocessing": cfg.preprocessing_card(), "action_space": cfg.action_space,
            "tflite": {"input_shape": [1, *cfg.input_shape]}})
        assert card.model_input_shape == shape == cfg.input_shape


def test_clone_plan_reinitialises_the_policy_head_only_when_the_space_changes_shape():
    base = RLConfig()
    same = clone_plan(base, base.replace(lr=1e-4))
    assert not same.reinit_policy_head and same.keep_trunk and same.keep_value_head
    faster = [{"steering_angle": a["steering_angle"], "speed": a["speed"] * 2} for a in base.action_space]
    new_values = clone_plan(base, base.replace(action_space=faster))
    assert not new_values.reinit_policy_head and "values change" in new_values.explanation
    fewer = clone_plan(base, base.replace(action_space=base.action_space[:6]))
    assert fewer.reinit_policy_head and fewer.keep_trunk and fewer.keep_value_head
    assert "from 10 to 6 actions" in fewer.explanation
    continuous = clone_plan(base, base.replace(action_space=CONTINUOUS, action_space_type="continuous"))
    assert continuous.reinit_policy_head and "discrete to continuous" in continuous.explanation
    with pytest.raises(ConfigError, match="keeps the network"):
        clone_plan(base, base.replace(downscale=1))
