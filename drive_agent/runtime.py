"""TFLite inference for a model card: input quantisation, output decoding, nothing else.

Uses `ai_edge_litert` (the standalone TFLite runtime) so that driving never imports TensorFlow:
a direct interpreter call costs about a millisecond where Keras `predict` costs tens (seed 000).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from drive_agent.model_card import ModelCard


class ModelRuntimeError(RuntimeError):
    """The TFLite model cannot be loaded or does not fit its card."""


@dataclass(frozen=True)
class Prediction:
    """What the model decided for one frame.

    `steering` is normalised -1..1 in the model's own convention (regression: the Udacity
    steering value; actions: degrees / the action space's largest |steering|); `steering_deg` is
    set for action models. `speed` is the action's speed (m/s) or None for steering-only models.
    """

    steering: float
    speed: float | None = None
    steering_deg: float | None = None
    action_index: int | None = None


class TFLiteModel:
    """One loaded interpreter bound to its card; `predict` takes a preprocessed frame."""

    def __init__(self, model: str | Path | bytes, card: ModelCard, num_threads: int = 1) -> None:
        from ai_edge_litert.interpreter import Interpreter

        self.card = card
        try:
            if isinstance(model, (bytes, bytearray)):
                self._interpreter = Interpreter(model_content=bytes(model), num_threads=num_threads)
            else:
                self._interpreter = Interpreter(model_path=str(model), num_threads=num_threads)
            self._interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise ModelRuntimeError(f"cannot load TFLite model: {exc}") from exc
        inp = self._interpreter.get_input_details()[0]
        self._input_index = inp["index"]
        self._input_dtype = np.dtype(inp["dtype"])
        self._input_quant = _quant_params(inp)
        expected = (1, *card.model_input_shape)
        if tuple(inp["shape"]) != expected:
            raise ModelRuntimeError(
                f"model input shape {[int(v) for v in inp['shape']]} does not match the card's preprocessing "
                f"output {list(expected)}")
        self._output = self._pick_output(self._interpreter.get_output_details())
        self._output_index = self._output["index"]
        self._output_quant = _quant_params(self._output)
        self._batch = np.empty(expected, dtype=self._input_dtype)

    def run(self, x: np.ndarray) -> np.ndarray:
        """Preprocessed frame (h, w, c) -> the model's output vector, dequantised to float32."""
        scale, zero = self._input_quant
        if scale:
            info = np.iinfo(self._input_dtype)
            q = np.rint(np.asarray(x, dtype=np.float32) / scale + zero)
            np.clip(q, info.min, info.max, out=q)
            self._batch[0] = q
        else:
            self._batch[0] = x
        self._interpreter.set_tensor(self._input_index, self._batch)
        self._interpreter.invoke()
        out = self._interpreter.get_tensor(self._output_index).reshape(-1)
        scale, zero = self._output_quant
        if scale:
            return (out.astype(np.float32) - zero) * scale
        return out.astype(np.float32, copy=False)

    def predict(self, x: np.ndarray) -> Prediction:
        return decode_output(self.run(x), self.card)

    def _pick_output(self, outputs: list[dict]) -> dict:
        space = self.card.action_space
        wanted = len(space.actions) if space and space.is_discrete else (2 if space else 1)
        for out in outputs:
            if int(np.prod(out["shape"])) == wanted:
                return out
        sizes = [int(np.prod(o["shape"])) for o in outputs]
        raise ModelRuntimeError(
            f"{self.card.kind} model needs an output of {wanted} values; the model has outputs of {sizes}")


def decode_output(out: np.ndarray, card: ModelCard) -> Prediction:
    """Output vector -> Prediction following the card's kind and action space."""
    space = card.action_space
    if card.kind == "regression_steering" or space is None:
        return Prediction(steering=float(np.clip(out[0], -1.0, 1.0)))
    if space.is_discrete:
        index = int(np.argmax(out))
        action = space.actions[index]
        return Prediction(steering=action.steering_angle / space.max_steering_deg, speed=action.speed,
                          steering_deg=action.steering_angle, action_index=index)
    assert space.steering_range and space.speed_range
    steer_deg = _from_unit(out[0], space.steering_range.low, space.steering_range.high)
    speed = _from_unit(out[1], space.speed_range.low, space.speed_range.high)
    return Prediction(steering=steer_deg / space.max_steering_deg, speed=speed, steering_deg=steer_deg)


def _from_unit(value: float, low: float, high: float) -> float:
    """Map a -1..1 network output linearly onto [low, high], clipped."""
    v = float(np.clip(value, -1.0, 1.0))
    return low + (v + 1.0) * 0.5 * (high - low)


def _quant_params(detail: dict) -> tuple[float, int]:
    scale, zero = detail.get("quantization", (0.0, 0))
    return float(scale), int(zero)
