"""The model card: the JSON contract between training (which writes it) and driving (which obeys it).

Everything the agent needs to feed a model correctly lives here: the camera it expects, the
preprocessing, the output kind and, for action-space models, the action table. Validation happens
once at load time so that a bad card fails with a clear message before the car moves.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

SCHEMA = "pitlane.model_card/1"
KINDS = ("regression_steering", "discrete_actions", "continuous_actions")
COLOR_SPACES = ("rgb", "yuv", "gray")
SCALES = ("none", "unit", "symmetric")
QUANTIZATIONS = ("float32", "int8")
MAX_STACK = 8
INPUT_DTYPES = ("float32", "uint8", "int8")


class ModelCardError(ValueError):
    """The card is missing a key or holds a value the agent cannot honour."""


@dataclass(frozen=True)
class InputSpec:
    """The camera frame the model was trained on, before preprocessing."""

    camera: str = "udacity_center"
    width: int = 320
    height: int = 160
    channels: int = 3


@dataclass(frozen=True)
class PreprocessingSpec:
    """Crop (rows), resize to (height, width), colour space and value scale of the model input;
    `stack` > 1: the model sees the last `stack` preprocessed frames along the channel axis, the
    newest last (a new run starts with its first frame repeated), as RL models train."""

    crop_top: int = 0
    crop_bottom: int = 0
    resize: tuple[int, int] | None = None
    color_space: str = "rgb"
    scale: str = "none"
    stack: int = 1

    @property
    def out_channels(self) -> int:
        """Channels of one preprocessed frame (the model input has `out_channels * stack`)."""
        return 1 if self.color_space == "gray" else 3


@dataclass(frozen=True)
class Action:
    """One row of a discrete action space, in DeepRacer units (degrees, m/s)."""

    steering_angle: float
    speed: float


@dataclass(frozen=True)
class ContinuousRange:
    low: float
    high: float


@dataclass(frozen=True)
class ActionSpace:
    """Discrete actions (a table) or continuous ranges; steering in degrees, speed in m/s."""

    actions: tuple[Action, ...] = ()
    steering_range: ContinuousRange | None = None
    speed_range: ContinuousRange | None = None

    @property
    def is_discrete(self) -> bool:
        return bool(self.actions)

    @property
    def max_steering_deg(self) -> float:
        if self.actions:
            return max(abs(a.steering_angle) for a in self.actions) or 1.0
        assert self.steering_range is not None
        return max(abs(self.steering_range.low), abs(self.steering_range.high)) or 1.0

    @property
    def max_speed(self) -> float:
        if self.actions:
            return max(a.speed for a in self.actions) or 1.0
        assert self.speed_range is not None
        return self.speed_range.high or 1.0


@dataclass(frozen=True)
class TFLiteSpec:
    file: str = "model.tflite"
    sha256: str = ""
    quantization: str = "float32"
    input_dtype: str = "float32"
    input_shape: tuple[int, ...] = ()


@dataclass(frozen=True)
class ModelCard:
    kind: str
    input: InputSpec
    preprocessing: PreprocessingSpec
    tflite: TFLiteSpec
    output: dict[str, Any] = field(default_factory=dict)
    action_space: ActionSpace | None = None
    training: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    schema: str = SCHEMA

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelCard:
        return parse_model_card(data)

    def to_dict(self) -> dict[str, Any]:
        """The card as JSON-ready dict; unknown keys of the source document are kept."""
        out = dict(self.raw)
        preprocessing = {**asdict(self.preprocessing),
                         "resize": list(self.preprocessing.resize) if self.preprocessing.resize else None}
        if self.preprocessing.stack == 1:
            del preprocessing["stack"]  # cards without frame stacking read as they always did
        out.update(
            schema=self.schema,
            kind=self.kind,
            input=asdict(self.input),
            preprocessing=preprocessing,
            output=self.output,
            action_space=_action_space_to_json(self.action_space),
            tflite={**asdict(self.tflite), "input_shape": list(self.tflite.input_shape)},
            training=self.training,
            metrics=self.metrics,
        )
        return out

    @property
    def model_input_shape(self) -> tuple[int, int, int]:
        """(height, width, channels) of the model input: one preprocessed frame, or `stack` of them."""
        p = self.preprocessing
        h, w = p.resize if p.resize else (self.input.height - p.crop_top - p.crop_bottom, self.input.width)
        return (h, w, p.out_channels * p.stack)


def load_model_card(path: str | Path) -> ModelCard:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ModelCardError(f"cannot read model card {path}: {exc.strerror or exc}") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ModelCardError(f"model card {path} is not valid JSON: {exc}") from exc
    try:
        return parse_model_card(data)
    except ModelCardError as exc:
        raise ModelCardError(f"{path}: {exc}") from exc


def parse_model_card(data: Any) -> ModelCard:
    if not isinstance(data, dict):
        raise ModelCardError("model card must be a JSON object")
    schema = data.get("schema", SCHEMA)
    if schema != SCHEMA:
        raise ModelCardError(f"unsupported schema {schema!r} (expected {SCHEMA!r})")
    kind = _choice(data, "kind", KINDS)
    inp = _section(data, "input")
    input_spec = InputSpec(
        camera=str(inp.get("camera", "udacity_center")),
        width=_positive_int(inp, "width", "input"),
        height=_positive_int(inp, "height", "input"),
        channels=_channels(inp),
    )
    pre = _section(data, "preprocessing")
    crop_top = _non_negative_int(pre, "crop_top", 0)
    crop_bottom = _non_negative_int(pre, "crop_bottom", 0)
    if crop_top + crop_bottom >= input_spec.height:
        raise ModelCardError(
            f"preprocessing crops {crop_top}+{crop_bottom} rows from a {input_spec.height}-row frame")
    prep = PreprocessingSpec(
        crop_top=crop_top,
        crop_bottom=crop_bottom,
        resize=_resize(pre.get("resize")),
        color_space=_choice(pre, "color_space", COLOR_SPACES, "rgb", "preprocessing"),
        scale=_choice(pre, "scale", SCALES, "none", "preprocessing"),
        stack=_stack(pre.get("stack", 1)),
    )
    tfl = _section(data, "tflite")
    shape = tfl.get("input_shape") or []
    if not isinstance(shape, list) or not all(isinstance(v, int) for v in shape):
        raise ModelCardError("tflite.input_shape must be a list of integers")
    tflite = TFLiteSpec(
        file=str(tfl.get("file", "model.tflite")),
        sha256=str(tfl.get("sha256", "") or "").lower(),
        quantization=_choice(tfl, "quantization", QUANTIZATIONS, "float32", "tflite"),
        input_dtype=_choice(tfl, "input_dtype", INPUT_DTYPES, "float32", "tflite"),
        input_shape=tuple(shape),
    )
    action_space = _action_space(data.get("action_space"), kind)
    card = ModelCard(
        kind=kind, input=input_spec, preprocessing=prep, tflite=tflite,
        output=dict(data.get("output") or {}), action_space=action_space,
        training=dict(data.get("training") or {}), metrics=dict(data.get("metrics") or {}),
        raw=dict(data), schema=schema,
    )
    if tflite.input_shape and tuple(tflite.input_shape[1:]) != card.model_input_shape:
        raise ModelCardError(
            f"tflite.input_shape {list(tflite.input_shape)} does not match preprocessing output "
            f"{list(card.model_input_shape)}")
    return card


def _section(data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key)
    if not isinstance(value, dict):
        raise ModelCardError(f"missing or invalid section {key!r} (expected an object)")
    return value


def _choice(data: dict[str, Any], key: str, allowed: tuple[str, ...], default: str | None = None,
            where: str = "") -> str:
    name = f"{where}.{key}" if where else key
    value = data.get(key, default)
    if value is None:
        raise ModelCardError(f"missing key {name!r} (one of {', '.join(allowed)})")
    if value not in allowed:
        raise ModelCardError(f"{name} is {value!r}; expected one of {', '.join(allowed)}")
    return str(value)


def _positive_int(data: dict[str, Any], key: str, where: str) -> int:
    value = data.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ModelCardError(f"{where}.{key} must be a positive integer, got {value!r}")
    return value


def _non_negative_int(data: dict[str, Any], key: str, default: int) -> int:
    value = data.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ModelCardError(f"preprocessing.{key} must be a non-negative integer, got {value!r}")
    return value


def _channels(inp: dict[str, Any]) -> int:
    value = inp.get("channels", 3)
    if value not in (1, 3):
        raise ModelCardError(f"input.channels must be 1 or 3, got {value!r}")
    return int(value)


def _stack(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_STACK:
        raise ModelCardError(f"preprocessing.stack must be an integer 1..{MAX_STACK}, got {value!r}")
    return value


def _resize(value: Any) -> tuple[int, int] | None:
    if value is None:
        return None
    if (not isinstance(value, (list, tuple)) or len(value) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value)):
        raise ModelCardError(f"preprocessing.resize must be [height, width] positive integers, got {value!r}")
    return (int(value[0]), int(value[1]))


def _action_space(value: Any, kind: str) -> ActionSpace | None:
    if kind == "regression_steering":
        return None
    if kind == "discrete_actions":
        if not isinstance(value, list) or not value:
            raise ModelCardError("discrete_actions needs action_space: a non-empty list of "
                                 "{steering_angle, speed}")
        actions = []
        for i, row in enumerate(value):
            try:
                actions.append(Action(float(row["steering_angle"]), float(row["speed"])))
            except (KeyError, TypeError, ValueError) as exc:
                raise ModelCardError(f"action_space[{i}] needs numeric steering_angle and speed") from exc
        return ActionSpace(actions=tuple(actions))
    if not isinstance(value, dict):
        raise ModelCardError("continuous_actions needs action_space: {steering_angle: {low, high}, "
                             "speed: {low, high}}")
    ranges = []
    for key in ("steering_angle", "speed"):
        rng: Any = value.get(key)
        try:
            low, high = float(rng["low"]), float(rng["high"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelCardError(f"action_space.{key} needs numeric low and high") from exc
        if low >= high:
            raise ModelCardError(f"action_space.{key}: low {low} must be below high {high}")
        ranges.append(ContinuousRange(low, high))
    return ActionSpace(steering_range=ranges[0], speed_range=ranges[1])


def _action_space_to_json(space: ActionSpace | None) -> Any:
    if space is None:
        return None
    if space.is_discrete:
        return [{"steering_angle": a.steering_angle, "speed": a.speed} for a in space.actions]
    assert space.steering_range and space.speed_range
    return {"steering_angle": asdict(space.steering_range), "speed": asdict(space.speed_range)}
