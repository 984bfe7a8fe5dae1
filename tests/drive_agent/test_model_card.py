"""Model card loading and validation: good cards round-trip, bad ones fail with a clear message."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from drive_agent.model_card import ModelCardError, load_model_card, parse_model_card
from tests.support.tiny_models import ACTIONS, card_for


def test_regression_card_round_trips() -> None:
    data = card_for("regression_steering", "m.tflite")
    card = parse_model_card(data)
    assert card.kind == "regression_steering"
    assert card.preprocessing.resize == (8, 16)
    assert card.model_input_shape == (8, 16, 3)
    assert card.action_space is None
    assert parse_model_card(card.to_dict()) == card


def test_discrete_card_has_action_table() -> None:
    card = parse_model_card(card_for("discrete_actions", "m.tflite", action_space=ACTIONS))
    assert len(card.action_space.actions) == 5
    assert card.action_space.max_steering_deg == 30
    assert card.action_space.max_speed == 2.0


def test_load_reports_path_and_problem(tmp_path: Path) -> None:
    bad = card_for("regression_steering", "m.tflite")
    bad["preprocessing"]["color_space"] = "hsv"
    path = tmp_path / "model_card.json"
    path.write_text(json.dumps(bad))
    with pytest.raises(ModelCardError, match=r"model_card.json: preprocessing.color_space is 'hsv'"):
        load_model_card(path)


@pytest.mark.parametrize("mutate, message", [
    (lambda c: c.pop("kind"), "missing key 'kind'"),
    (lambda c: c.update(schema="other/2"), "unsupported schema"),
    (lambda c: c.pop("input"), "missing or invalid section 'input'"),
    (lambda c: c["preprocessing"].update(crop_top=100, crop_bottom=60), "crops 100\\+60 rows"),
    (lambda c: c["preprocessing"].update(resize=[66]), "resize must be"),
    (lambda c: c["tflite"].update(input_shape=[1, 66, 200, 3]), "does not match preprocessing output"),
    (lambda c: c.update(kind="discrete_actions"), "needs action_space"),
    (lambda c: c.update(kind="continuous_actions", action_space={"speed": {"low": 1, "high": 2}}),
     "action_space.steering_angle needs numeric low and high"),
])
def test_invalid_cards_are_rejected(mutate, message: str) -> None:
    data = card_for("regression_steering", "m.tflite")
    mutate(data)
    with pytest.raises(ModelCardError, match=message):
        parse_model_card(data)


def test_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(ModelCardError, match="cannot read model card"):
        load_model_card(tmp_path / "missing.json")
    (tmp_path / "x.json").write_text("{not json")
    with pytest.raises(ModelCardError, match="not valid JSON"):
        load_model_card(tmp_path / "x.json")
