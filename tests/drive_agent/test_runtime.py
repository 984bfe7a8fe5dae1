"""TFLite runtime: float32 and int8 models agree with Keras, outputs decode per the card's kind."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from drive_agent.model_card import parse_model_card
from drive_agent.runtime import ModelRuntimeError, TFLiteModel, decode_output
from tests.drive_agent.helpers import load_tiny
from tests.support.tiny_models import ACTIONS, INPUT_HW, card_for

REF_INPUT = (np.arange(np.prod(INPUT_HW) * 3, dtype=np.float32).reshape(*INPUT_HW, 3) % 256)


def keras_reference(folder: Path, name: str) -> np.ndarray:
    return np.array(json.loads((folder / f"{name}.ref.json").read_text())["keras"], np.float32)


def test_float_model_matches_keras(tiny_models: Path) -> None:
    model, _ = load_tiny(tiny_models, "regression_float")
    np.testing.assert_allclose(model.run(REF_INPUT), keras_reference(tiny_models, "regression_float"), atol=1e-5)
    assert -1.0 <= model.predict(REF_INPUT).steering <= 1.0


def test_int8_model_quantises_input_and_dequantises_output(tiny_models: Path) -> None:
    model, _ = load_tiny(tiny_models, "regression_int8")
    assert model._input_dtype == np.int8 and model._input_quant[0] > 0
    out = model.run(REF_INPUT)
    assert out.dtype == np.float32
    # int8 quantisation of a tanh output: within a few quantisation steps of the float model.
    np.testing.assert_allclose(out, keras_reference(tiny_models, "regression_int8"), atol=0.05)


def test_discrete_model_picks_argmax_action(tiny_models: Path) -> None:
    model, card = load_tiny(tiny_models, "discrete")
    probs = model.run(REF_INPUT)
    pred = model.predict(REF_INPUT)
    assert pred.action_index == int(np.argmax(probs))
    action = ACTIONS[pred.action_index]
    assert pred.steering_deg == action["steering_angle"] and pred.speed == action["speed"]
    assert pred.steering == pytest.approx(action["steering_angle"] / 30)


def test_continuous_outputs_map_onto_ranges() -> None:
    card = parse_model_card(card_for("continuous_actions", "c.tflite", action_space={
        "steering_angle": {"low": -30, "high": 30}, "speed": {"low": 0.5, "high": 2.5}}))
    pred = decode_output(np.array([0.5, -1.0], np.float32), card)
    assert pred.steering_deg == pytest.approx(15.0) and pred.steering == pytest.approx(0.5)
    assert pred.speed == pytest.approx(0.5)
    assert decode_output(np.array([3.0, 1.0], np.float32), card).steering_deg == pytest.approx(30.0)


def test_continuous_model_runs(tiny_models: Path) -> None:
    model, _ = load_tiny(tiny_models, "continuous")
    pred = model.predict(REF_INPUT)
    assert 0.5 <= pred.speed <= 2.5 and -1 <= pred.steering <= 1


def test_regression_output_is_clipped() -> None:
    card = parse_model_card(card_for("regression_steering", "r.tflite"))
    assert decode_output(np.array([1.7]), card).steering == 1.0


def test_model_bytes_and_threads(tiny_models: Path) -> None:
    _, card = load_tiny(tiny_models, "regression_float")
    model = TFLiteModel((tiny_models / "regression_float.tflite").read_bytes(), card, num_threads=2)
    np.testing.assert_allclose(model.run(REF_INPUT), keras_reference(tiny_models, "regression_float"), atol=1e-5)


def test_card_shape_mismatch_is_a_clear_error(tiny_models: Path) -> None:
    _, card = load_tiny(tiny_models, "regression_float")
    wrong = replace(card, preprocessing=replace(card.preprocessing, resize=(66, 200)))
    with pytest.raises(ModelRuntimeError, match=r"input shape \[1, 8, 16, 3\] does not match .* \[1, 66, 200, 3\]"):
        TFLiteModel(tiny_models / "regression_float.tflite", wrong)


def test_output_size_mismatch_and_garbage_model(tiny_models: Path, tmp_path: Path) -> None:
    discrete_card = parse_model_card(card_for("discrete_actions", "d.tflite", action_space=ACTIONS[:3]))
    with pytest.raises(ModelRuntimeError, match="needs an output of 3 values"):
        TFLiteModel(tiny_models / "regression_float.tflite", discrete_card)
    (tmp_path / "bad.tflite").write_bytes(b"not a model")
    with pytest.raises(ModelRuntimeError, match="cannot load TFLite model"):
        TFLiteModel(tmp_path / "bad.tflite", discrete_card)
