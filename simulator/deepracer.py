"""DeepRacer compatibility: the reward function's `params` and model_metadata.json action spaces.

Reward functions written for the AWS console must run here unchanged, so `build_params` fills
every key of the console's `params` with the same conventions (see shared/REFERENCE.md section 2):
x, y a point 0.14 m ahead of the car origin, commanded speed and steering, degrees, heading in
-180..180, closest_waypoints [behind, ahead] into the closed waypoint list, object keys present
with empty defaults.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simulator.car import Command

MIN_SPEED = 0.1
MAX_SPEED = 4.0
MAX_STEERING_DEG = 30.0
REWARD_LIMIT = 1e5

RewardFunction = Callable[[dict[str, Any]], float]


class MetadataError(ValueError):
    """model_metadata.json is malformed or outside DeepRacer's limits."""


class RewardError(ValueError):
    """A reward function returned something DeepRacer would reject."""


def build_params(
    *,
    x: float,
    y: float,
    heading_deg: float,
    speed: float,
    steering_angle: float,
    all_wheels_on_track: bool,
    is_offtrack: bool,
    is_reversed: bool,
    distance_from_center: float,
    is_left_of_center: bool,
    progress: float,
    steps: int,
    track_length: float,
    track_width: float,
    waypoints: list[tuple[float, float]],
    closest_waypoints: tuple[int, int],
    projection_distance: float,
    sim_time: float,
    is_crashed: bool = False,
) -> dict[str, Any]:
    """The reward function's `params` dict, every console key present.

    `waypoints` is passed through, not copied (it is the track's closed list, built once).
    """
    return {
        "all_wheels_on_track": all_wheels_on_track,
        "x": x,
        "y": y,
        "heading": heading_deg,
        "speed": speed,
        "steering_angle": steering_angle,
        "distance_from_center": distance_from_center,
        "is_left_of_center": is_left_of_center,
        "is_offtrack": is_offtrack,
        "is_crashed": is_crashed,
        "is_reversed": is_reversed,
        "progress": progress,
        "steps": steps,
        "track_length": track_length,
        "track_width": track_width,
        "waypoints": waypoints,
        "closest_waypoints": [closest_waypoints[0], closest_waypoints[1]],
        "closest_objects": [0, 0],
        "objects_distance": [],
        "objects_distance_from_center": [],
        "objects_heading": [],
        "objects_left_of_center": [],
        "objects_location": [],
        "objects_speed": [],
        "object_in_camera": False,
        "projection_distance": projection_distance,
        "sim_time": sim_time,
    }


def call_reward(reward_fn: RewardFunction, params: dict[str, Any]) -> float:
    """Run a reward function and enforce DeepRacer's contract: a finite float within +-1e5."""
    value = reward_fn(params)
    try:
        reward = float(value)
    except (TypeError, ValueError):
        raise RewardError(f"reward function returned {value!r}, not a number") from None
    if not math.isfinite(reward) or abs(reward) > REWARD_LIMIT:
        raise RewardError(f"reward {reward!r} is not a finite float within +-{REWARD_LIMIT:g}")
    return reward


# --------------------------------------------------------------------------- action spaces
@dataclass(frozen=True)
class DiscreteAction:
    steering_angle: float
    speed: float


@dataclass(frozen=True)
class ActionSpace:
    """A DeepRacer action space: a list of discrete actions, or continuous ranges."""

    kind: str  # "discrete" or "continuous"
    actions: tuple[DiscreteAction, ...] = ()
    steering_range: tuple[float, float] = (-MAX_STEERING_DEG, MAX_STEERING_DEG)
    speed_range: tuple[float, float] = (MIN_SPEED, MAX_SPEED)

    @property
    def n(self) -> int:
        return len(self.actions)

    def command(self, action: Any) -> Command:
        """A car command from an action: an index (discrete) or (steering_deg, speed); NumPy
        scalars and arrays are welcome."""
        if self.kind == "discrete":
            index = int(action)
            if not 0 <= index < len(self.actions):
                raise IndexError(f"action {index} outside 0..{len(self.actions) - 1}")
            chosen = self.actions[index]
            return Command(steering_deg=chosen.steering_angle, speed=chosen.speed)
        steering, speed = float(action[0]), float(action[1])
        steering = min(max(steering, self.steering_range[0]), self.steering_range[1])
        speed = min(max(speed, self.speed_range[0]), self.speed_range[1])
        return Command(steering_deg=steering, speed=speed)

    def to_json(self) -> list[dict[str, float]] | dict[str, dict[str, float]]:
        """The `action_space` value as model_metadata.json writes it."""
        if self.kind == "discrete":
            return [
                {"steering_angle": a.steering_angle, "speed": a.speed, "index": i}
                for i, a in enumerate(self.actions)
            ]
        return {
            "steering_angle": {"low": self.steering_range[0], "high": self.steering_range[1]},
            "speed": {"low": self.speed_range[0], "high": self.speed_range[1]},
        }


#: The console's default discrete space: steering +-30/+-15/0 x speed 0.4/0.8.
DEFAULT_ACTION_SPACE = ActionSpace(
    kind="discrete",
    actions=tuple(
        DiscreteAction(float(steer), speed) for steer in (-30, -15, 0, 15, 30) for speed in (0.4, 0.8)
    ),
)


@dataclass(frozen=True)
class ModelMetadata:
    action_space: ActionSpace
    sensor: tuple[str, ...] = ("FRONT_FACING_CAMERA",)
    neural_network: str = "DEEP_CONVOLUTIONAL_NETWORK_SHALLOW"
    training_algorithm: str = "clipped_ppo"
    version: str = "5"

    def to_json(self) -> dict[str, Any]:
        return {
            "action_space": self.action_space.to_json(),
            "sensor": list(self.sensor),
            "neural_network": self.neural_network,
            "training_algorithm": self.training_algorithm,
            "action_space_type": self.action_space.kind,
            "version": self.version,
        }


_SENSORS = {"FRONT_FACING_CAMERA", "STEREO_CAMERAS", "LIDAR", "SECTOR_LIDAR", "DISCRETIZED_SECTOR_LIDAR"}
_ALGORITHMS = {"clipped_ppo", "sac"}


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise MetadataError(f"{where}: expected a number, got {value!r}")
    return float(value)


def _check_speed(speed: float, where: str) -> None:
    if not MIN_SPEED <= speed <= MAX_SPEED:
        raise MetadataError(f"{where}: speed {speed:g} m/s outside {MIN_SPEED}-{MAX_SPEED} m/s")


def _check_steering(angle: float, where: str) -> None:
    if abs(angle) > MAX_STEERING_DEG:
        raise MetadataError(f"{where}: steering_angle {angle:g} outside +-{MAX_STEERING_DEG:g} degrees")


def _parse_discrete(space: Any) -> ActionSpace:
    if not isinstance(space, list) or not space:
        raise MetadataError("action_space: a discrete space must be a non-empty list of actions")
    actions = []
    for i, item in enumerate(space):
        where = f"action_space[{i}]"
        if not isinstance(item, Mapping) or "steering_angle" not in item or "speed" not in item:
            raise MetadataError(f"{where}: needs 'steering_angle' and 'speed'")
        if "index" in item and item["index"] != i:
            raise MetadataError(f"{where}: index {item['index']!r} does not match its position {i}")
        steer = _number(item["steering_angle"], f"{where}.steering_angle")
        speed = _number(item["speed"], f"{where}.speed")
        _check_steering(steer, where)
        _check_speed(speed, where)
        actions.append(DiscreteAction(steer, speed))
    return ActionSpace(kind="discrete", actions=tuple(actions))


def _parse_range(space: Mapping, key: str) -> tuple[float, float]:
    rng = space.get(key)
    if not isinstance(rng, Mapping) or "low" not in rng or "high" not in rng:
        raise MetadataError(f"action_space.{key}: a continuous space needs {{'low': .., 'high': ..}}")
    low = _number(rng["low"], f"action_space.{key}.low")
    high = _number(rng["high"], f"action_space.{key}.high")
    if low > high:
        raise MetadataError(f"action_space.{key}: low {low:g} is above high {high:g}")
    return low, high


def _parse_continuous(space: Any) -> ActionSpace:
    if not isinstance(space, Mapping):
        raise MetadataError("action_space: a continuous space must be an object with speed and steering_angle")
    steering = _parse_range(space, "steering_angle")
    speed = _parse_range(space, "speed")
    for angle in steering:
        _check_steering(angle, "action_space.steering_angle")
    for value in speed:
        _check_speed(value, "action_space.speed")
    return ActionSpace(kind="continuous", steering_range=steering, speed_range=speed)


def parse_model_metadata(source: Mapping[str, Any] | str | os.PathLike) -> ModelMetadata:
    """Parse and validate model_metadata.json (a dict, a JSON string or a file path).

    A missing `action_space` gives the console's default space; a missing `action_space_type`
    is inferred from the shape of `action_space` (a list is discrete, an object continuous).
    """
    if isinstance(source, Mapping):
        data = dict(source)
    else:
        text = os.fspath(source)
        path = Path(text)
        try:
            raw = path.read_text() if not text.lstrip().startswith("{") and path.is_file() else text
            data = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise MetadataError(f"model_metadata.json is not valid JSON: {exc}") from None
        if not isinstance(data, dict):
            raise MetadataError("model_metadata.json must hold a JSON object")
    space = data.get("action_space")
    kind = data.get("action_space_type")
    if kind is None:
        kind = "continuous" if isinstance(space, Mapping) else "discrete"
    if kind not in ("discrete", "continuous"):
        raise MetadataError(f"action_space_type must be 'discrete' or 'continuous', got {kind!r}")
    if space is None:
        if kind == "continuous":
            raise MetadataError("action_space: a continuous model needs speed and steering ranges")
        action_space = DEFAULT_ACTION_SPACE
    else:
        action_space = _parse_discrete(space) if kind == "discrete" else _parse_continuous(space)
    sensors = data.get("sensor", ["FRONT_FACING_CAMERA"])
    if not isinstance(sensors, list) or not sensors or not all(s in _SENSORS for s in sensors):
        raise MetadataError(f"sensor: expected a list from {sorted(_SENSORS)}, got {sensors!r}")
    algorithm = str(data.get("training_algorithm", "sac" if kind == "continuous" else "clipped_ppo"))
    if algorithm not in _ALGORITHMS:
        raise MetadataError(f"training_algorithm must be one of {sorted(_ALGORITHMS)}, got {algorithm!r}")
    return ModelMetadata(
        action_space=action_space,
        sensor=tuple(sensors),
        neural_network=str(data.get("neural_network", "DEEP_CONVOLUTIONAL_NETWORK_SHALLOW")),
        training_algorithm=algorithm,
        version=str(data.get("version", "5")),
    )
