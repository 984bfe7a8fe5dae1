"""Thinning straight-driving frames (training.bc.thinning): a seeded, deterministic share of the
frames with steering exactly 0 is kept in the training frames of the split; validation keeps all."""

from __future__ import annotations

import numpy as np
import pytest

from training.bc.config import ConfigError, TrainConfig, expand_grid
from training.bc.dataset_index import index_dataset, split_index
from training.bc.plots import thinning_histogram
from training.bc.thinning import is_straight, thin_straight, thinning_summary


def _steering(n: int = 1000, straight: float = 0.65, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    values = rng.uniform(-0.5, 0.5, n)
    values[rng.random(n) < straight] = 0.0
    return values


def test_keeps_the_asked_share_of_straight_frames_and_every_other_frame():
    steering = _steering()
    frames = np.arange(steering.size)
    kept = thin_straight(frames, steering, 0.3, seed=7)
    straight = int(is_straight(steering).sum())
    assert int(is_straight(steering[kept]).sum()) == round(0.3 * straight)
    assert set(np.flatnonzero(steering != 0)) <= set(kept.tolist())  # every turning frame stays
    assert np.all(np.diff(kept) > 0)  # in the frames' order, no repeats


def test_the_same_seed_keeps_the_same_frames_and_another_seed_others():
    steering = _steering()
    frames = np.arange(steering.size)
    first = thin_straight(frames, steering, 0.4, seed=3)
    assert np.array_equal(first, thin_straight(frames, steering, 0.4, seed=3))
    assert not np.array_equal(first, thin_straight(frames, steering, 0.4, seed=4))


def test_fraction_one_keeps_all_and_zero_keeps_no_straight_frame():
    steering = _steering()
    frames = np.arange(0, steering.size, 2)
    assert np.array_equal(thin_straight(frames, steering, 1.0, seed=0), frames)
    none = thin_straight(frames, steering, 0.0, seed=0)
    assert not is_straight(steering[none]).any()
    assert none.size == int((steering[frames] != 0).sum())
    with pytest.raises(ValueError, match="0 or more"):
        thin_straight(frames, steering, float("nan"), seed=0)


def test_only_a_value_of_exactly_zero_counts_as_straight():
    steering = np.array([0.0, 7.843922e-05, -0.0, 0.01, 0.0])
    assert is_straight(steering).tolist() == [True, False, True, False, True]
    assert thin_straight(np.arange(5), steering, 0.0, seed=0).tolist() == [1, 3]


def test_summary_counts_before_and_after():
    steering = np.array([0.0] * 65 + [0.2] * 35)
    s = thinning_summary(steering, 0.2, seed=0)
    assert (s["frames_before"], s["straight_before"], s["straight_after"], s["frames_after"]) == (100, 65, 13, 48)
    assert s["straight_share_before"] == 0.65 and s["straight_share_after"] == round(13 / 48, 3)


def test_histogram_overlays_before_and_after_on_the_same_bins():
    steering = np.array([0.0] * 65 + [0.2] * 35)
    fig = thinning_histogram(steering, 0.2)
    before, after = fig["data"]
    assert before["type"] == after["type"] == "histogram" and before["xbins"] == after["xbins"]
    assert len(before["x"]) == 100 and len(after["x"]) == 48 and fig["layout"]["barmode"] == "overlay"


def test_config_field_is_validated_and_may_make_a_grid():
    assert TrainConfig().straight_keep_fraction == 1.0
    assert TrainConfig(straight_keep_fraction=0.25).to_dict()["straight_keep_fraction"] == 0.25
    for bad in (-0.1, 1.5):
        with pytest.raises(ConfigError, match="straight_keep_fraction") as info:
            TrainConfig(straight_keep_fraction=bad)
        assert info.value.field == "straight_keep_fraction"
    grid = expand_grid({"straight_keep_fraction": [1.0, 0.3]})
    assert [c.straight_keep_fraction for c in grid] == [1.0, 0.3]


def test_split_thins_training_frames_only(real_sample):
    index = index_dataset(real_sample)
    zero = index.steering_raw == 0
    assert zero.mean() > 0.3  # the real keyboard log is mostly straight driving
    cfg = TrainConfig(val_block_frames=10, val_gap_frames=1, seed=5)
    train_all, val_all = split_index(index, cfg)
    train, val = split_index(index, cfg.replace(straight_keep_fraction=0.25))
    assert np.array_equal(val, val_all)  # validation is never thinned
    assert set(train.tolist()) <= set(train_all.tolist())
    assert int(zero[train].sum()) == round(0.25 * int(zero[train_all].sum()))
    assert np.array_equal(train[~zero[train]], train_all[~zero[train_all]])
    again, _ = split_index(index, cfg.replace(straight_keep_fraction=0.25))
    assert np.array_equal(train, again)


def test_the_training_form_offers_the_fraction():
    pytest.importorskip("django")
    from webapp.garage.forms import GROUPS, HELP

    labels = dict(GROUPS)["Labels"]
    assert "straight_keep_fraction" in labels and "exactly 0" in HELP["straight_keep_fraction"]


def test_training_samples_are_listed_from_the_thinned_frames(real_sample):
    from training.bc.data import prepare

    cfg = TrainConfig(val_block_frames=10, val_gap_frames=1, seed=5)
    whole = prepare([real_sample], cfg)
    thinned = prepare([real_sample], cfg.replace(straight_keep_fraction=0.2))
    zero = whole.index.steering_raw == 0
    assert np.array_equal(thinned.val_frames, whole.val_frames)
    assert thinned.train_paths.size == thinned.train_frames.size < whole.train_paths.size
    assert int(zero[thinned.train_frames].sum()) == round(0.2 * int(zero[whole.train_frames].sum()))
