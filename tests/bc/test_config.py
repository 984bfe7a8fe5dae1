"""TrainConfig validation, JSON round trip and grid expansion."""

import json

import pytest

from training.bc.config import ConfigError, TrainConfig, expand_grid


def test_defaults_are_pilotnet_at_66x200_yuv():
    cfg = TrainConfig()
    assert cfg.architecture == "pilotnet"
    assert cfg.input_shape == (66, 200, 3)
    assert cfg.preprocessing_card() == {"crop_top": 60, "crop_bottom": 25, "resize": [66, 200],
                                        "color_space": "yuv", "scale": "none"}


def test_json_round_trip_keeps_every_field():
    cfg = TrainConfig(architecture="inception_transfer", inception_cut=44, color_space="rgb",
                      resize=(80, 200), smoothing="gaussian", side_cameras=True, l2=1e-4,
                      optimizer="rmsprop", quantization="int8")
    again = TrainConfig.from_json(cfg.to_json())
    assert again == cfg
    assert json.loads(cfg.to_json())["resize"] == [80, 200]


@pytest.mark.parametrize("changes, words", [
    ({"loss": "huber"}, "loss must be one of mae, mse"),
    ({"optimizer": "adamw"}, "optimizer must be one of"),
    ({"batch_size": 0}, "batch_size must be at least 1"),
    ({"batch_size": 3.5}, "batch_size must be int"),
    ({"mirror": "yes"}, "mirror must be bool"),
    ({"val_fraction": 0.0}, "val_fraction must be in (0.0, 0.5]"),
    ({"learning_rate": -1.0}, "learning_rate"),
    ({"crop_top": 100, "crop_bottom": 60}, "crop_top + crop_bottom"),
    ({"resize": [66]}, "resize must be [height, width]"),
    ({"resize": [40, 100]}, "pilotnet needs resize sides of at least 61"),
    ({"architecture": "inception_transfer", "color_space": "rgb"}, "at least 75"),
    ({"architecture": "inception_transfer", "resize": [80, 200]}, "color_space 'rgb'"),
    ({"smoothing": "median"}, "smoothing must be one of none, exponential, gaussian"),
])
def test_invalid_values_name_the_field(changes, words):
    with pytest.raises(ConfigError) as err:
        TrainConfig.from_dict(changes)
    assert words in str(err.value)


def test_unknown_key_suggests_the_right_one():
    with pytest.raises(ConfigError, match="did you mean 'learning_rate'"):
        TrainConfig.from_dict({"learning_rat": 0.01})


def test_bad_json_is_a_config_error():
    with pytest.raises(ConfigError, match="not valid JSON"):
        TrainConfig.from_json("{epochs: 3")


def test_grid_expands_lists_into_every_combination_in_order():
    configs = expand_grid({"loss": ["mae", "mse"], "learning_rate": [1e-3, 1e-4, 1e-5],
                           "epochs": 3})
    assert len(configs) == 6
    assert [(c.loss, c.learning_rate) for c in configs[:3]] == [
        ("mae", 1e-3), ("mae", 1e-4), ("mae", 1e-5)]
    assert all(c.epochs == 3 for c in configs)


def test_grid_resize_expands_only_a_list_of_lists():
    assert len(expand_grid({"resize": [66, 200]})) == 1
    sizes = [c.resize for c in expand_grid({"resize": [[66, 200], [70, 220]]})]
    assert sizes == [(66, 200), (70, 220)]


def test_grid_reports_the_invalid_combination():
    with pytest.raises(ConfigError, match="grid combination .*architecture"):
        expand_grid({"architecture": ["pilotnet", "inception_transfer"]})


def test_grid_rejects_empty_lists():
    with pytest.raises(ConfigError, match="empty list"):
        expand_grid({"l2": []})


@pytest.mark.parametrize("name", ["learning_rate", "l2", "straight_keep_fraction", "brightness", "val_fraction"])
@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_floats_are_refused_naming_the_field(name, value):
    """NaN slipped through every range check (all comparisons False): a "nan" learning rate typed in
    the training form reached the database and answered HTTP 500 (found trying the form)."""
    with pytest.raises(ConfigError, match=f"{name} must be") as err:
        TrainConfig.from_dict({name: value})
    assert err.value.field == name
