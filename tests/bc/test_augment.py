"""Augmentation semantics: mirroring, side cameras, shifts, brightness and shadows."""

import numpy as np
import pytest
import tensorflow as tf

from workers.bc import augment
from workers.bc.config import TrainConfig
from workers.bc.dataset_index import camera_samples, index_datasets


def _frame(seed=0):
    return np.random.default_rng(seed).integers(0, 256, size=(75, 320, 3), dtype=np.uint8)


def _apply(frame, angle, **changes):
    params = augment.identity_params()._replace(
        **{k: tf.constant(v, dtype=tf.float32 if isinstance(v, float) else None)
           for k, v in changes.items()})
    out, new_angle = augment.apply(tf.constant(frame), tf.constant(angle), params, 0.002)
    return out.numpy(), float(new_angle)


def test_identity_leaves_frame_and_angle():
    frame = _frame()
    out, angle = _apply(frame, 0.3)
    assert np.array_equal(out, frame) and angle == pytest.approx(0.3)


def test_mirror_flips_the_frame_and_negates_steering():
    frame = _frame()
    out, angle = _apply(frame, 0.3, mirror=True)
    assert np.array_equal(out, frame[:, ::-1])
    assert angle == pytest.approx(-0.3)


def test_shift_moves_the_picture_and_steers_0_002_per_pixel():
    frame = _frame()
    out, angle = _apply(frame, 0.1, shift=20.0)
    assert np.array_equal(out[:, 20:], frame[:, :-20])
    assert angle == pytest.approx(0.1 + 20 * 0.002)
    _, angle_left = _apply(frame, 0.1, shift=-20.0)
    assert angle_left == pytest.approx(0.1 - 20 * 0.002)


def test_brightness_scales_pixels_and_keeps_steering():
    frame = np.full((75, 320, 3), 100, np.uint8)
    out, angle = _apply(frame, -0.2, brightness=0.5)
    assert np.all(out == 50) and angle == pytest.approx(-0.2)


def test_shadow_darkens_one_side_of_an_edge_only():
    frame = np.full((75, 320, 3), 200, np.uint8)
    out, _ = _apply(frame, 0.0, shadow=True, shadow_x=[0.5, 0.5], shadow_left=True,
                    shadow_gain=0.5)
    assert np.all(out[:, :150] == 100) and np.all(out[:, 170:] == 200)


def test_random_draws_respect_the_config():
    cfg = TrainConfig(mirror=False, shift_px=0, brightness=0.0, shadow_probability=0.0)
    for s in range(20):
        p = augment.draw_params(cfg, tf.constant([s, 1], tf.int64))
        assert not bool(p.mirror) and float(p.shift) == 0.0
        assert float(p.brightness) == 1.0 and not bool(p.shadow)
    cfg = TrainConfig(mirror=True, shift_px=30)
    draws = [augment.draw_params(cfg, tf.constant([s, 2], tf.int64)) for s in range(40)]
    assert 5 < sum(bool(p.mirror) for p in draws) < 35
    assert all(abs(float(p.shift)) <= 30 for p in draws)


def test_side_cameras_add_and_subtract_the_correction(real_sample):
    cfg = TrainConfig(side_cameras=True, side_correction=0.2)
    ix = index_datasets([real_sample], cfg)
    frames = np.arange(10)
    paths, angles, owners = camera_samples(ix, frames, True, 0.2)
    assert len(paths) == 30
    for i in frames:
        by_path = dict(zip(paths, angles))
        assert by_path[ix.center[i]] == pytest.approx(ix.steering[i])
        assert by_path[ix.left[i]] == pytest.approx(ix.steering[i] + 0.2)
        assert by_path[ix.right[i]] == pytest.approx(ix.steering[i] - 0.2)
    only_center, _, _ = camera_samples(ix, frames, False, 0.2)
    assert list(only_center) == list(ix.center[frames])
