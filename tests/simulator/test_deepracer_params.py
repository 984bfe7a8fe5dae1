"""Reward params (every console key, DeepRacer conventions) and model_metadata.json parsing."""

import json
import math

import pytest

from simulator.car import Command
from simulator.deepracer import (
    DEFAULT_ACTION_SPACE,
    MetadataError,
    RewardError,
    call_reward,
    parse_model_metadata,
)
from simulator.episode import Session
from simulator.track import load_track

PARAM_KEYS = {
    "all_wheels_on_track", "x", "y", "heading", "speed", "steering_angle", "distance_from_center",
    "is_left_of_center", "is_offtrack", "is_crashed", "is_reversed", "progress", "steps",
    "track_length", "track_width", "waypoints", "closest_waypoints", "closest_objects",
    "objects_distance", "objects_heading", "objects_left_of_center", "objects_location",
    "objects_speed", "projection_distance", "sim_time",
}


def test_params_keys_and_conventions(shared_data):
    track = load_track(shared_data / "deepracer" / "tracks" / "reinvent_base.npy")
    session = Session(track, reward_fn=lambda p: 1.0)
    session.step(Command(10.0, 1.0))
    result = session.step(Command(-15.0, 1.2))
    p = result.params
    assert set(p) >= PARAM_KEYS
    assert p["speed"] == 1.2 and p["steering_angle"] == -15.0  # commanded, degrees
    state = result.state
    assert p["x"] == pytest.approx(state.x + 0.14 * math.cos(state.yaw))
    assert p["y"] == pytest.approx(state.y + 0.14 * math.sin(state.yaw))
    assert -180.0 <= p["heading"] <= 180.0 and p["heading"] == pytest.approx(math.degrees(state.yaw))
    behind, ahead = p["closest_waypoints"]
    assert ahead == behind + 1 and isinstance(behind, int)
    assert len(p["waypoints"]) == track.n_waypoints + 1 and p["waypoints"][0] == p["waypoints"][-1]
    assert p["track_width"] == pytest.approx(0.76, abs=0.01)
    assert p["track_length"] == pytest.approx(17.709, abs=1e-3)
    assert p["steps"] == 2 and p["sim_time"] == pytest.approx(1 / 15)
    assert p["projection_distance"] == pytest.approx(p["progress"] / 100 * track.length, abs=1e-9)
    assert p["closest_objects"] == [0, 0] and p["objects_location"] == []
    assert p["is_offtrack"] is False and p["is_crashed"] is False and p["all_wheels_on_track"] is True


def test_track_width_varies_where_the_track_does(shared_data):
    track = load_track(shared_data / "deepracer" / "tracks" / "Bowtie_track.npy")
    session = Session(track, reward_fn=lambda p: 1.0)
    widths = set()
    for k in range(0, 1000, 50):
        session.reset(start_distance=k / 1000 * track.length)
        session.step(Command(0.0, 1.0))
        widths.add(round(session.step(Command(0.0, 1.0)).params["track_width"], 2))
    assert max(widths) - min(widths) > 0.3


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), 2e5, "high", None])
def test_reward_must_be_finite_and_bounded(bad):
    with pytest.raises(RewardError):
        call_reward(lambda p: bad, {})
    assert call_reward(lambda p: 1e5, {}) == 1e5


def test_drfc_metadata_parses(shared_data):
    meta = parse_model_metadata(shared_data / "deepracer" / "logs" / "drfc_model_metadata.json")
    assert meta.action_space.kind == "discrete" and meta.action_space.n == 14
    assert meta.action_space.actions[13].steering_angle == 30.0
    command = meta.action_space.command(3)
    assert command == Command(steering_deg=-20.0, speed=2.0)
    again = parse_model_metadata(json.dumps(meta.to_json()))
    assert again.action_space == meta.action_space


def test_default_and_continuous_spaces():
    default = parse_model_metadata({})
    assert default.action_space == DEFAULT_ACTION_SPACE
    assert sorted({a.steering_angle for a in DEFAULT_ACTION_SPACE.actions}) == [-30, -15, 0, 15, 30]
    assert sorted({a.speed for a in DEFAULT_ACTION_SPACE.actions}) == [0.4, 0.8]
    cont = parse_model_metadata(
        {"action_space": {"speed": {"low": 1, "high": 2}, "steering_angle": {"low": -30, "high": 30}},
         "action_space_type": "continuous", "training_algorithm": "sac"}
    )
    assert cont.action_space.kind == "continuous"
    assert cont.action_space.command((45.0, 3.0)) == Command(30.0, 2.0)  # clipped to the ranges


@pytest.mark.parametrize(
    "data,message",
    [
        ({"action_space": [{"steering_angle": 40, "speed": 1}]}, "steering_angle 40"),
        ({"action_space": [{"steering_angle": 0, "speed": 5}]}, "speed 5"),
        ({"action_space": [{"steering_angle": 0}]}, "needs 'steering_angle' and 'speed'"),
        ({"action_space": []}, "non-empty"),
        ({"action_space": [{"steering_angle": 0, "speed": 1, "index": 3}]}, "index 3"),
        ({"action_space_type": "continuous", "action_space": {"speed": {"low": 2, "high": 1},
          "steering_angle": {"low": -30, "high": 30}}}, "low 2 is above high 1"),
        ({"action_space_type": "hybrid"}, "discrete' or 'continuous"),
        ({"sensor": ["RADAR"]}, "sensor"),
        ({"training_algorithm": "dqn"}, "training_algorithm"),
        ("{not json", "not valid JSON"),
    ],
)
def test_metadata_errors_are_clear(data, message):
    with pytest.raises(MetadataError, match=message):
        parse_model_metadata(data)
