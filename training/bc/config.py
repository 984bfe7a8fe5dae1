"""Training configuration for behavioural cloning: one flat, validated, JSON-friendly dataclass.

Flat on purpose: a grid search is "any field may be a list", and a flat record makes that
expansion, the web form and the model card's `training.config` the same simple mapping.
"""

from __future__ import annotations

import dataclasses
import difflib
import itertools
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ARCHITECTURES = ("pilotnet", "inception_transfer")
COLOR_SPACES = ("yuv", "rgb", "gray")
SMOOTHING_METHODS = ("none", "exponential", "gaussian")
LOSSES = ("mae", "mse")
OPTIMIZERS = ("adam", "sgd", "rmsprop")
ACTIVATIONS = ("elu", "relu", "tanh")
QUANTIZATIONS = ("float32", "int8")

#: Smallest input side PilotNet's five valid convolutions leave a pixel of.
PILOTNET_MIN_SIDE = 61
#: Smallest input side Keras' InceptionV3 accepts.
INCEPTION_MIN_SIDE = 75
#: Camera frame size of the Udacity simulator (height, width).
SOURCE_HEIGHT, SOURCE_WIDTH = 160, 320


class ConfigError(ValueError):
    """A training configuration that cannot be used; the message names the field, and `field`
    holds its name when one field is to blame (None for a whole-file problem)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


#: Inclusive upper bounds of the numeric fields (the lower bounds are checked in `validate`).
#: Generous for real work, but they keep one request from asking for a run that never ends or
#: a model that does not fit in a worker's memory.
MAX_VALUES: dict[str, int | float] = {
    "head_conv_filters": 1024,
    "head_dense_units": 4096,
    "inception_cut": 310,                    # InceptionV3 without its top has 311 layers
    "crop_top": SOURCE_HEIGHT - 1,
    "crop_bottom": SOURCE_HEIGHT - 1,
    "resize_height": 2 * SOURCE_HEIGHT,
    "resize_width": 2 * SOURCE_WIDTH,
    "shift_px": SOURCE_WIDTH // 2 - 1,
    "batch_size": 1024,
    "epochs": 1000,
    "patience": 1000,
    "max_steps_per_epoch": 100_000,
    "val_block_frames": 100_000,
    "val_gap_frames": 10_000,
    "seed": 2**32 - 1,
    "representative_samples": 1000,
    "saliency_samples": 64,
    "saliency_gif_frames": 240,
}


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides how a behavioural-cloning model is trained and exported."""

    # Model
    architecture: str = "pilotnet"
    activation: str = "elu"
    inception_cut: str | int = "mixed0"     # layer name, or index into InceptionV3.layers
    inception_weights: str | None = None
    head_conv_filters: int = 64
    head_dense_units: int = 32
    use_bottleneck_cache: bool = True
    # Preprocessing (written to the model card; drive_agent.preprocessing applies it)
    crop_top: int = 60
    crop_bottom: int = 25
    resize: tuple[int, int] = (66, 200)
    color_space: str = "yuv"
    # Labels
    smoothing: str = "none"
    smoothing_alpha: float = 0.3
    smoothing_sigma: float = 3.0
    # Training frames with steering exactly 0 that are kept (1: all; training.bc.thinning)
    straight_keep_fraction: float = 1.0
    # Augmentation
    side_cameras: bool = False
    side_correction: float = 0.2
    mirror: bool = True
    brightness: float = 0.2
    shadow_probability: float = 0.3
    shift_px: int = 0                       # largest horizontal shift, camera pixels
    shift_angle_per_px: float = 0.002
    # Optimisation
    loss: str = "mae"
    optimizer: str = "adam"
    learning_rate: float = 1e-3
    batch_size: int = 64
    epochs: int = 10
    patience: int = 3                       # epochs without a better val_loss; 0 = never stop
    l2: float = 0.0
    max_steps_per_epoch: int | None = None  # cap on batches per epoch (None: the whole set)
    # Validation split
    val_fraction: float = 0.2
    val_block_frames: int = 50
    val_gap_frames: int = 5
    seed: int = 0
    # Export
    quantization: str = "float32"
    representative_samples: int = 100
    # Explanations
    saliency_samples: int = 6
    saliency_gif_frames: int = 24

    def __post_init__(self) -> None:
        if isinstance(self.resize, list):
            object.__setattr__(self, "resize", tuple(self.resize))
        validate(self)

    # --- shapes -------------------------------------------------------------------------------
    @property
    def channels(self) -> int:
        return 1 if self.color_space == "gray" else 3

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """Shape of one preprocessed frame, (height, width, channels)."""
        return (self.resize[0], self.resize[1], self.channels)

    def preprocessing_card(self) -> dict[str, Any]:
        """The model card's `preprocessing` section."""
        return {
            "crop_top": self.crop_top,
            "crop_bottom": self.crop_bottom,
            "resize": list(self.resize),
            "color_space": self.color_space,
            "scale": "none",
        }

    # --- serialisation ------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["resize"] = list(self.resize)
        return data

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, sort_keys=True)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrainConfig:
        _reject_unknown_keys(data)
        return cls(**dict(data))

    @classmethod
    def from_json(cls, text: str) -> TrainConfig:
        return cls.from_dict(_parse_json_object(text))

    @classmethod
    def load(cls, path: str | Path) -> TrainConfig:
        return cls.from_json(Path(path).read_text())

    def replace(self, **changes: Any) -> TrainConfig:
        return dataclasses.replace(self, **changes)


FIELD_NAMES = tuple(f.name for f in dataclasses.fields(TrainConfig))


def _parse_json_object(text: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"configuration is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError("configuration must be a JSON object")
    return data


def _reject_unknown_keys(data: Mapping[str, Any]) -> None:
    for key in data:
        if key not in FIELD_NAMES:
            close = difflib.get_close_matches(str(key), FIELD_NAMES, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(f"unknown configuration key {key!r}{hint}", str(key))


def _check_type(name: str, value: Any, kinds: tuple[type, ...], allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) and bool not in kinds:
        raise ConfigError(f"{name} must be {' or '.join(k.__name__ for k in kinds)}, got a bool", name)
    if not isinstance(value, kinds):
        wanted = " or ".join(k.__name__ for k in kinds)
        raise ConfigError(f"{name} must be {wanted}, got {value!r}", name)


def _check_choice(name: str, value: Any, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)}; got {value!r}", name)


def _check_range(name: str, value: float, low: float, high: float, low_open: bool = False) -> None:
    too_low = value <= low if low_open else value < low
    if too_low or value > high:
        bracket = "(" if low_open else "["
        raise ConfigError(f"{name} must be in {bracket}{low}, {high}]; got {value!r}", name)


def _check_upper_bounds(cfg: TrainConfig) -> None:
    """Every numeric field has a ceiling (`MAX_VALUES`); the message names the field and it."""
    values: dict[str, Any] = {name: getattr(cfg, name) for name in MAX_VALUES if hasattr(cfg, name)}
    values["resize_height"], values["resize_width"] = cfg.resize
    if not isinstance(cfg.inception_cut, int):
        del values["inception_cut"]
    for name, high in MAX_VALUES.items():
        value = values.get(name)
        if value is not None and value > high:
            field = "resize" if name.startswith("resize_") else name
            what = f"resize {name.split('_')[1]}" if field == "resize" else name
            raise ConfigError(f"{what} must be at most {high:,}; got {value!r}", field)


def validate(cfg: TrainConfig) -> None:
    """Raise ConfigError naming the first field that is wrong, and why."""
    for name, choices in (
        ("architecture", ARCHITECTURES),
        ("activation", ACTIVATIONS),
        ("color_space", COLOR_SPACES),
        ("smoothing", SMOOTHING_METHODS),
        ("loss", LOSSES),
        ("optimizer", OPTIMIZERS),
        ("quantization", QUANTIZATIONS),
    ):
        _check_choice(name, getattr(cfg, name), choices)
    for name in ("side_cameras", "mirror", "use_bottleneck_cache"):
        _check_type(name, getattr(cfg, name), (bool,))
    int_fields = ("crop_top", "crop_bottom", "shift_px", "batch_size", "epochs", "patience",
                  "val_block_frames", "val_gap_frames", "seed", "representative_samples",
                  "head_conv_filters", "head_dense_units", "saliency_samples",
                  "saliency_gif_frames")
    for name in int_fields:
        _check_type(name, getattr(cfg, name), (int,))
        if getattr(cfg, name) < 0:
            raise ConfigError(f"{name} must not be negative; got {getattr(cfg, name)!r}", name)
    float_fields = ("smoothing_alpha", "smoothing_sigma", "side_correction", "brightness",
                    "shadow_probability", "shift_angle_per_px", "learning_rate", "l2",
                    "val_fraction", "straight_keep_fraction")
    for name in float_fields:
        _check_type(name, getattr(cfg, name), (int, float))
        # NaN passes every range check (each comparison is False) and then breaks the model's JSON
        # column: the training form answered a typed "nan" with a server error.
        if not math.isfinite(getattr(cfg, name)):
            raise ConfigError(f"{name} must be a finite number; got {getattr(cfg, name)!r}", name)
    _check_type("max_steps_per_epoch", cfg.max_steps_per_epoch, (int,), allow_none=True)
    _check_type("inception_cut", cfg.inception_cut, (str, int))
    _check_type("inception_weights", cfg.inception_weights, (str,), allow_none=True)

    if cfg.crop_top + cfg.crop_bottom >= SOURCE_HEIGHT:
        raise ConfigError(f"crop_top + crop_bottom must leave rows of the {SOURCE_HEIGHT}-row "
                          f"frame; got {cfg.crop_top} + {cfg.crop_bottom}", "crop_bottom")
    if (not isinstance(cfg.resize, tuple) or len(cfg.resize) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0
                       for v in cfg.resize)):
        raise ConfigError("resize must be [height, width] of positive integers; "
                          f"got {cfg.resize!r}", "resize")
    for name in ("batch_size", "epochs", "head_conv_filters", "head_dense_units"):
        if getattr(cfg, name) < 1:
            raise ConfigError(f"{name} must be at least 1; got {getattr(cfg, name)!r}", name)
    if cfg.max_steps_per_epoch is not None and cfg.max_steps_per_epoch < 1:
        raise ConfigError(f"max_steps_per_epoch must be at least 1; got {cfg.max_steps_per_epoch}",
                          "max_steps_per_epoch")
    if cfg.val_block_frames < 1:
        raise ConfigError("val_block_frames must be at least 1", "val_block_frames")
    _check_range("val_fraction", cfg.val_fraction, 0.0, 0.5, low_open=True)
    _check_range("learning_rate", cfg.learning_rate, 0.0, 1.0, low_open=True)
    _check_range("smoothing_alpha", cfg.smoothing_alpha, 0.0, 1.0, low_open=True)
    _check_range("smoothing_sigma", cfg.smoothing_sigma, 0.0, 100.0, low_open=True)
    _check_range("straight_keep_fraction", cfg.straight_keep_fraction, 0.0, 1.0)
    _check_range("side_correction", cfg.side_correction, 0.0, 1.0)
    _check_range("brightness", cfg.brightness, 0.0, 0.9)
    _check_range("shadow_probability", cfg.shadow_probability, 0.0, 1.0)
    _check_range("shift_angle_per_px", cfg.shift_angle_per_px, 0.0, 0.05)
    _check_range("l2", cfg.l2, 0.0, 1.0)
    if cfg.shift_px >= SOURCE_WIDTH // 2:
        raise ConfigError(f"shift_px must be below {SOURCE_WIDTH // 2}; got {cfg.shift_px}", "shift_px")
    _check_upper_bounds(cfg)

    if cfg.architecture == "pilotnet" and min(cfg.resize) < PILOTNET_MIN_SIDE:
        raise ConfigError(f"pilotnet needs resize sides of at least {PILOTNET_MIN_SIDE} px "
                          f"(its five valid convolutions); got {list(cfg.resize)}", "resize")
    if cfg.architecture == "inception_transfer":
        if min(cfg.resize) < INCEPTION_MIN_SIDE:
            raise ConfigError(f"inception_transfer needs resize sides of at least "
                              f"{INCEPTION_MIN_SIDE} px; got {list(cfg.resize)} "
                              f"(try resize [80, 200])", "resize")
        if cfg.color_space != "rgb":
            raise ConfigError("inception_transfer was trained on RGB images: set color_space 'rgb'",
                              "color_space")
        if isinstance(cfg.inception_cut, int) and cfg.inception_cut < 1:
            raise ConfigError("inception_cut as a layer index must be at least 1", "inception_cut")


# --- grid search ------------------------------------------------------------------------------

_SEQUENCE_FIELDS = {"resize"}


def _grid_values(name: str, value: Any) -> list[Any]:
    """The values a grid field takes: a list expands, anything else is one value.

    `resize` is itself a list, so only a list of lists expands it.
    """
    if name in _SEQUENCE_FIELDS:
        if isinstance(value, (list, tuple)) and value and all(
                isinstance(v, (list, tuple)) for v in value):
            return [tuple(v) for v in value]
        return [value]
    if isinstance(value, (list, tuple)):
        if not value:
            raise ConfigError(f"grid field {name!r} is an empty list", name)
        return list(value)
    return [value]


def expand_grid(config_with_lists: Mapping[str, Any] | TrainConfig) -> list[TrainConfig]:
    """Expand every list-valued field into one TrainConfig per combination (grid search).

    Order is deterministic: keys in the order given, the last list-valued key varying fastest.
    Every combination is validated; an invalid one raises ConfigError naming the combination.
    """
    if isinstance(config_with_lists, TrainConfig):
        return [config_with_lists]
    _reject_unknown_keys(config_with_lists)
    names = list(config_with_lists)
    axes = [_grid_values(n, config_with_lists[n]) for n in names]
    configs = []
    for combo in itertools.product(*axes):
        values = dict(zip(names, combo, strict=True))
        try:
            configs.append(TrainConfig(**values))
        except ConfigError as exc:
            varying = {n: v for n, v, axis in zip(names, combo, axes, strict=True) if len(axis) > 1}
            if not varying:  # a single run, not a grid: its own message, without "grid combination {}"
                raise
            raise ConfigError(f"grid combination {varying} is invalid: {exc}", exc.field) from exc
    return configs


def load_grid(path: str | Path) -> list[TrainConfig]:
    return expand_grid(_parse_json_object(Path(path).read_text()))


__all__ = ["TrainConfig", "ConfigError", "expand_grid", "load_grid", "validate"]
