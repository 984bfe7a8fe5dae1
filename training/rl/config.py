"""Reinforcement-learning training configuration: one validated, JSON-friendly dataclass.

Field names follow DeepRacer where DeepRacer has one (hyperparameters.json: `batch_size`,
`num_epochs`, `lr`, `beta_entropy`, `discount_factor`, `loss_type`,
`num_episodes_between_training`, `e_greedy_value`, `epsilon_steps`, `exploration_type`,
`stack_size`, `term_cond_max_episodes`, `term_cond_avg_score`; model_metadata.json:
`action_space`, `action_space_type`), with DeepRacer's defaults and the console's ranges
(shared/REFERENCE.md section 2), except `num_epochs`: 3, the low end of the console's 3-10, where
the console defaults to 10; ten passes over every sample make the updates cost several times the
simulation on two cores, three keep the run at about the simulator's pace. Everything else
(tracks, sensor downscale, network, stop conditions, evaluation trials, domain randomisation,
seed, parallel cars) is ours. Every numeric
field has an upper bound so that one request cannot ask for a run that never ends.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from simulator.deepracer import DEFAULT_ACTION_SPACE, MetadataError, ModelMetadata, parse_model_metadata

NETWORKS = ("small", "deepracer_shallow")
LOSS_TYPES = ("huber", "mean squared error")
#: How the learning rate moves during a run: "constant" (DeepRacer's), "linear" (from `lr` down
#: to a tenth of it at the time limit) or "kl" (adapted after every update so that the policy's
#: KL divergence per update stays near `kl_target`, within `lr` / 100 .. `lr`).
LR_SCHEDULES = ("constant", "linear", "kl")
EXPLORATION_TYPES = ("categorical", "e-greedy")
BATCH_SIZES = (32, 64, 128, 256, 512)
#: DeepRacer's front camera (height, width), grayscale.
CAMERA_HEIGHT, CAMERA_WIDTH = 120, 160
#: DeepRacer names of the network choices (model_metadata.json's `neural_network`).
NETWORK_METADATA_NAMES = {"small": "DEEP_CONVOLUTIONAL_NETWORK_SHALLOW",
                          "deepracer_shallow": "DEEP_CONVOLUTIONAL_NETWORK_SHALLOW"}


def _steer_grid(steering: tuple[float, ...], speeds: tuple[float, ...]) -> list[dict[str, float]]:
    return [{"steering_angle": float(s), "speed": float(v)} for s in steering for v in speeds]


#: Action spaces a team starts from: key -> (label, action_space_type, model_metadata.json's
#: action_space). "fast15" is the one bench/rl_training.py's 30-minute figure trains.
ACTION_SPACE_PRESETS: dict[str, tuple[str, str, Any]] = {
    "console": ("Console default: ±30/±15/0° x 0.4/0.8 m/s", "discrete",
                [{"steering_angle": a.steering_angle, "speed": a.speed} for a in DEFAULT_ACTION_SPACE.actions]),
    "fast15": ("Fast: ±30/±15/0° x 1.5/2.5/3.5 m/s (15 actions)", "discrete",
               _steer_grid((-30, -15, 0, 15, 30), (1.5, 2.5, 3.5))),
    "sprint15": ("Sprint: ±30/±15/0° x 2/3/4 m/s (15 actions)", "discrete",
                 _steer_grid((-30, -15, 0, 15, 30), (2.0, 3.0, 4.0))),
    "fast21": ("Faster: 7 angles x 1.8/2.8/4.0 m/s (21 actions)", "discrete",
               _steer_grid((-30, -20, -10, 0, 10, 20, 30), (1.8, 2.8, 4.0))),
    "continuous": ("Continuous: ±30°, 0.5-3.5 m/s", "continuous",
                   {"steering_angle": {"low": -30.0, "high": 30.0}, "speed": {"low": 0.5, "high": 3.5}}),
}


class ConfigError(ValueError):
    """An RL training configuration that cannot be used; the message names the field, and
    `field` holds its name (None for a whole-document problem)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


#: Inclusive (low, high) of the numeric fields.
RANGES: dict[str, tuple[float, float]] = {
    "downscale": (1, 2),
    "stack_size": (1, 4),
    "num_epochs": (3, 10),
    "lr": (1e-8, 1e-3),
    "beta_entropy": (0.0, 1.0),
    "discount_factor": (0.0, 1.0),
    "num_episodes_between_training": (5, 100),
    "e_greedy_value": (0.0, 1.0),
    "epsilon_steps": (0, 1_000_000),
    "term_cond_max_episodes": (1, 1_000_000),
    "term_cond_avg_score": (0.0, 1e8),
    "clip_epsilon": (0.01, 1.0),
    "kl_target": (1e-4, 1.0),
    "gae_lambda": (0.0, 1.0),
    "max_minutes": (10, 1440),
    "max_seconds": (1.0, 86_400.0),
    "target_completion_pct": (1.0, 100.0),
    "eval_trials": (0, 10),
    "seed": (0, 2**31 - 1),
    "num_envs": (1, 32),
    "max_episode_steps": (10, 100_000),
    "chunk_steps": (8, 1024),
}


@dataclass(frozen=True)
class TrackChoice:
    """One training track: a built-in track name, driven clockwise when `reverse`."""

    name: str
    reverse: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "reverse": self.reverse}

    @property
    def key(self) -> str:
        """The name a track goes by in the reward sandbox's waypoints and in logs."""
        return f"{self.name}:reverse" if self.reverse else self.name


def _default_tracks() -> tuple[TrackChoice, ...]:
    return (TrackChoice("reinvent_base"),)


def _default_action_space() -> list[dict[str, float]]:
    return [{"steering_angle": a.steering_angle, "speed": a.speed} for a in DEFAULT_ACTION_SPACE.actions]


@dataclass(frozen=True)
class RLConfig:
    """Everything that decides how a DeepRacer-style model is trained (see the module docstring)."""

    # Environment
    tracks: tuple[TrackChoice, ...] = field(default_factory=_default_tracks)
    action_space: Any = field(default_factory=_default_action_space)  # model_metadata.json's value
    action_space_type: str = "discrete"
    # Sensor: DeepRacer's 160x120 grey front camera, divided by `downscale` (2: 80x60)
    downscale: int = 2
    network: str = "small"
    # Hyperparameters (DeepRacer's names and defaults)
    batch_size: int = 64
    num_epochs: int = 3  # DeepRacer's range is 3-10 (console default 10, DRfC 5); 3 keeps PPO at the simulator's pace
    lr: float = 3e-4
    beta_entropy: float = 0.01
    discount_factor: float = 0.99
    loss_type: str = "huber"
    num_episodes_between_training: int = 20
    e_greedy_value: float = 0.05
    epsilon_steps: int = 10_000
    exploration_type: str = "categorical"
    stack_size: int = 1
    term_cond_max_episodes: int = 100_000
    term_cond_avg_score: float = 100_000.0
    # Clipped PPO constants DeepRacer fixes (not in its hyperparameters.json)
    clip_epsilon: float = 0.2
    gae_lambda: float = 0.95
    # Ours: the learning-rate schedule (LR_SCHEDULES) and the KL per update the "kl" one aims at
    lr_schedule: str = "constant"
    kl_target: float = 0.01
    # Stop conditions
    max_minutes: int = 60
    max_seconds: float | None = None  # tests and benchmarks: a seconds budget instead of minutes
    target_completion_pct: float | None = None  # stop when evaluation completion reaches it
    # Evaluation between iterations, randomisation, reproducibility, parallelism
    eval_trials: int = 3
    domain_randomization: bool = False
    seed: int = 0
    num_envs: int = 8
    max_episode_steps: int | None = None  # None: the environment's own cap (20 laps' time at top speed)
    chunk_steps: int = 64  # steps per car between reward batches

    def __post_init__(self) -> None:
        tracks = self.tracks
        if isinstance(tracks, (list, tuple)):
            object.__setattr__(self, "tracks", tuple(_track_choice(t, i) for i, t in enumerate(tracks)))
        self.check()

    # --- derived ------------------------------------------------------------------------------
    @property
    def budget_s(self) -> float:
        """The training time limit in seconds (`max_seconds` when set, else `max_minutes`)."""
        return float(self.max_seconds) if self.max_seconds is not None else 60.0 * self.max_minutes

    @property
    def frame_shape(self) -> tuple[int, int]:
        """(height, width) of one preprocessed camera frame."""
        return CAMERA_HEIGHT // self.downscale, CAMERA_WIDTH // self.downscale

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """The network input: (height, width, stack_size), grey 0..1."""
        h, w = self.frame_shape
        return h, w, self.stack_size

    def model_metadata(self) -> ModelMetadata:
        """model_metadata.json as `simulator.deepracer.ModelMetadata`."""
        data = {"action_space": self.action_space, "action_space_type": self.action_space_type,
                "neural_network": NETWORK_METADATA_NAMES.get(self.network, self.network),
                "training_algorithm": "clipped_ppo", "sensor": ["FRONT_FACING_CAMERA"]}
        try:
            return parse_model_metadata(data)
        except MetadataError as exc:
            raise ConfigError(str(exc), "action_space") from None

    def preprocessing_card(self) -> dict[str, Any]:
        """The model card's `preprocessing`: what `drive_agent.preprocessing` does to a frame."""
        h, w = self.frame_shape
        return {"crop_top": 0, "crop_bottom": 0, "resize": None if self.downscale == 1 else [h, w],
                "color_space": "gray", "scale": "unit"}

    def to_hyperparameters_json(self) -> dict[str, Any]:
        """DeepRacer's hyperparameters.json."""
        return {
            "batch_size": self.batch_size,
            "beta_entropy": self.beta_entropy,
            "discount_factor": self.discount_factor,
            "e_greedy_value": self.e_greedy_value,
            "epsilon_steps": self.epsilon_steps,
            "exploration_type": self.exploration_type,
            "loss_type": self.loss_type,
            "lr": self.lr,
            "num_episodes_between_training": self.num_episodes_between_training,
            "num_epochs": self.num_epochs,
            "stack_size": self.stack_size,
            "term_cond_avg_score": self.term_cond_avg_score,
            "term_cond_max_episodes": self.term_cond_max_episodes,
        }

    # --- serialisation ------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["tracks"] = [t.to_dict() for t in self.tracks]
        return data

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, sort_keys=True)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RLConfig:
        if not isinstance(data, Mapping):
            raise ConfigError("configuration must be a JSON object")
        for key in data:
            if key not in FIELD_NAMES:
                close = difflib.get_close_matches(str(key), FIELD_NAMES, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise ConfigError(f"unknown configuration key {key!r}{hint}", str(key))
        try:
            return cls(**dict(data))
        except TypeError as exc:  # pragma: no cover - unknown keys are caught above
            raise ConfigError(str(exc)) from None

    @classmethod
    def from_json(cls, text: str) -> RLConfig:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"configuration is not valid JSON: {exc}") from None
        if not isinstance(data, dict):
            raise ConfigError("configuration must be a JSON object")
        return cls.from_dict(data)

    @classmethod
    def load(cls, path: str | Path) -> RLConfig:
        return cls.from_json(Path(path).read_text())

    def replace(self, **changes: Any) -> RLConfig:
        return dataclasses.replace(self, **changes)

    # --- validation ---------------------------------------------------------------------------
    def check(self) -> None:
        """Raise ConfigError naming the first field that is wrong, and why."""
        _check_tracks(self.tracks)
        for name, choices in (("network", NETWORKS), ("loss_type", LOSS_TYPES),
                              ("exploration_type", EXPLORATION_TYPES),
                              ("action_space_type", ("discrete", "continuous")),
                              ("lr_schedule", LR_SCHEDULES)):
            if getattr(self, name) not in choices:
                raise ConfigError(f"{name} must be one of {', '.join(repr(c) for c in choices)}; "
                                  f"got {getattr(self, name)!r}", name)
        for name in ("domain_randomization",):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"{name} must be true or false; got {getattr(self, name)!r}", name)
        ints = ("downscale", "stack_size", "batch_size", "num_epochs", "num_episodes_between_training",
                "epsilon_steps", "term_cond_max_episodes", "max_minutes", "eval_trials", "seed",
                "num_envs", "max_episode_steps", "chunk_steps")
        for name in ints:
            value = getattr(self, name)
            if value is None and name == "max_episode_steps":
                continue
            if isinstance(value, bool) or not isinstance(value, int):
                raise ConfigError(f"{name} must be a whole number; got {value!r}", name)
        floats = ("lr", "beta_entropy", "discount_factor", "e_greedy_value", "term_cond_avg_score",
                  "clip_epsilon", "gae_lambda", "kl_target", "max_seconds", "target_completion_pct")
        for name in floats:
            value = getattr(self, name)
            if value is None and name in ("max_seconds", "target_completion_pct"):
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ConfigError(f"{name} must be a number; got {value!r}", name)
        for name, (low, high) in RANGES.items():
            value = getattr(self, name)
            if value is not None and not low <= value <= high:
                raise ConfigError(f"{name} must be in [{low:g}, {high:g}]; got {value!r}", name)
        if self.batch_size not in BATCH_SIZES:
            raise ConfigError(f"batch_size must be one of {', '.join(map(str, BATCH_SIZES))}; "
                              f"got {self.batch_size!r}", "batch_size")
        metadata = self.model_metadata()
        if metadata.action_space.kind != self.action_space_type:  # pragma: no cover - parse checks it
            raise ConfigError("action_space does not match action_space_type", "action_space")
        if metadata.action_space.kind == "discrete" and metadata.action_space.n < 2:
            raise ConfigError("a discrete action space needs at least 2 actions", "action_space")
        if metadata.action_space.kind == "discrete" and metadata.action_space.n > 100:
            raise ConfigError("a discrete action space holds at most 100 actions", "action_space")


def available_tracks() -> list[str]:
    """Names of the DeepRacer-scale tracks a configuration may use (built-in designs first, then
    the DeepRacer `.npy` tracks found by `simulator.track.load_track`)."""
    from simulator.track import _search_dirs, list_tracks, load_track

    names = [n for n in list_tracks() if load_track(n).scale == "deepracer"]
    for folder in _search_dirs(None):
        names += sorted(p.stem for p in folder.glob("*.npy") if p.stem not in names)
    return names


@dataclass(frozen=True)
class ClonePlan:
    """What cloning a model into a new configuration keeps: `reinit_policy_head` is True when the
    action space changed shape (another number of discrete actions, or discrete <-> continuous);
    the convolutional trunk and the value head are always kept. `explanation` is one sentence
    for people."""

    reinit_policy_head: bool
    keep_trunk: bool
    keep_value_head: bool
    explanation: str


def _space_shape(config: RLConfig) -> tuple[str, int]:
    space = config.model_metadata().action_space
    return space.kind, space.n if space.kind == "discrete" else 2


def clone_plan(old: RLConfig, new: RLConfig) -> ClonePlan:
    """Decide what a clone from a model trained with `old` keeps when it trains with `new`."""
    if old.input_shape != new.input_shape or old.network != new.network:
        raise ConfigError(
            f"a clone keeps the network and its input: the model was trained with network "
            f"{old.network!r} on {list(old.input_shape)} inputs (downscale {old.downscale}, "
            f"stack_size {old.stack_size}); this configuration asks for {new.network!r} on "
            f"{list(new.input_shape)}", "network" if old.network != new.network else "downscale")
    (old_kind, old_n), (new_kind, new_n) = _space_shape(old), _space_shape(new)
    old_space, new_space = old.model_metadata().action_space, new.model_metadata().action_space
    if old_kind != new_kind:
        text = (f"The action space changes from {old_kind} to {new_kind}: the camera layers and "
                f"the value estimate are kept, the policy head (which picks actions) starts again "
                f"from scratch, so the car drives randomly at first and relearns quickly.")
        return ClonePlan(True, True, True, text)
    if old_n != new_n:
        text = (f"The action space changes from {old_n} to {new_n} actions: the camera layers and "
                f"the value estimate are kept, the policy head starts again from scratch (its "
                f"outputs no longer match the actions), so expect some iterations of relearning.")
        return ClonePlan(True, True, True, text)
    if old_space != new_space:
        text = (f"The {new_kind} action space keeps its shape ({new_n} outputs) but its values change: "
                f"all weights are kept, so each output now means the new steering angle and speed; "
                f"the policy adapts over the next iterations.")
        return ClonePlan(False, True, True, text)
    return ClonePlan(False, True, True, "Same action space: every weight is kept and training "
                                         "continues from the cloned model.")


FIELD_NAMES = tuple(f.name for f in dataclasses.fields(RLConfig))


def _track_choice(value: Any, index: int) -> TrackChoice:
    if isinstance(value, TrackChoice):
        return value
    if isinstance(value, str):
        return TrackChoice(value)
    if isinstance(value, Mapping):
        unknown = set(value) - {"name", "reverse"}
        if unknown:
            raise ConfigError(f"tracks[{index}]: unknown key {sorted(unknown)[0]!r} "
                              "(a track is {'name': ..., 'reverse': true|false})", "tracks")
        name, reverse = value.get("name"), value.get("reverse", False)
        if not isinstance(name, str) or not isinstance(reverse, bool):
            raise ConfigError(f"tracks[{index}]: needs a 'name' string and a 'reverse' bool", "tracks")
        return TrackChoice(name, reverse)
    raise ConfigError(f"tracks[{index}]: expected {{'name': ..., 'reverse': ...}}, got {value!r}", "tracks")


def _check_tracks(tracks: Any) -> None:
    from simulator.track import load_track

    if not isinstance(tracks, tuple) or not tracks:
        raise ConfigError("tracks must list at least one track", "tracks")
    if len(tracks) > 16:
        raise ConfigError(f"tracks holds at most 16 entries; got {len(tracks)}", "tracks")
    for i, track in enumerate(tracks):
        try:
            loaded = load_track(track.name)
        except (FileNotFoundError, ValueError) as exc:
            raise ConfigError(f"tracks[{i}]: {exc}", "tracks") from None
        if loaded.scale != "deepracer":
            raise ConfigError(f"tracks[{i}]: {track.name!r} is a {loaded.scale}-scale road, not a "
                              "DeepRacer track", "tracks")


__all__ = ["RLConfig", "TrackChoice", "ConfigError", "ClonePlan", "clone_plan", "available_tracks",
           "NETWORKS", "LOSS_TYPES", "LR_SCHEDULES", "RANGES"]
