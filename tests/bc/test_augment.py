"""Augmentation semantics: mirroring, side cameras, shifts, brightness and shadows."""

import numpy as np
import pytest
import tensorflow as tf

from training.bc import augment
from training.bc.config import TrainConfig
from training.bc.dataset_index import camera_samples, index_datasets


def _frame(seed=0):
    return np.random.default_rng(seed).integers(0, 256, size=(75, 320, 3), dtype=np.uint8)


def _params(**changes):
    """One sample's parameters (given as scalars) for a batch of one."""
    def tensor(v):
        floaty = isinstance(v, float) or (isinstance(v, list) and isinstance(v[0], float))
        return tf.constant([v], dtype=tf.float32 if floaty else None)
    return augment.identity_params(1)._replace(**{k: tensor(v) for k, v in changes.items()})


def _move(frame, angle, **changes):
    out, new_angle = augment.move(tf.constant(frame[None]), tf.constant([[angle]]),
                                  _params(**changes), 0.002)
    return out.numpy()[0], float(new_angle.numpy()[0, 0])


def _light(frame, **changes):
    return augment.light(tf.constant(frame[None]), _params(**changes)).numpy()[0]


def test_identity_leaves_frame_and_angle():
    frame = _frame()
    out, angle = _move(frame, 0.3)
    assert np.array_equal(out, frame) and angle == pytest.approx(0.3)
    assert np.array_equal(_light(frame), frame.astype(np.float32))


def test_mirror_flips_the_frame_and_negates_steering():
    frame = _frame()
    out, angle = _move(frame, 0.3, mirror=True)
    assert np.array_equal(out, frame[:, ::-1])
    assert angle == pytest.approx(-0.3)


def test_shift_moves_the_picture_and_steers_0_002_per_pixel():
    frame = _frame()
    out, angle = _move(frame, 0.1, shift=20.0)
    assert np.array_equal(out[:, 20:], frame[:, :-20])
    assert np.array_equal(out[:, :20], np.repeat(frame[:, :1], 20, axis=1))
    assert angle == pytest.approx(0.1 + 20 * 0.002)
    _, angle_left = _move(frame, 0.1, shift=-20.0)
    assert angle_left == pytest.approx(0.1 - 20 * 0.002)


def test_mirror_then_shift_compose():
    frame = _frame()
    out, angle = _move(frame, 0.3, mirror=True, shift=10.0)
    assert np.array_equal(out[:, 10:], frame[:, ::-1][:, :-10])
    assert angle == pytest.approx(-0.3 + 10 * 0.002)


def test_brightness_scales_pixels_and_clips():
    assert np.all(_light(np.full((66, 200, 3), 100, np.uint8), brightness=0.5) == 50)
    assert np.all(_light(np.full((66, 200, 3), 200, np.uint8), brightness=1.5) == 255)


def test_shadow_darkens_one_side_of_an_edge_only():
    frame = np.full((66, 200, 3), 200, np.uint8)
    out = _light(frame, shadow=True, shadow_x=[0.5, 0.5], shadow_left=True, shadow_gain=0.5)
    assert np.all(out[:, :95] == 100) and np.all(out[:, 105:] == 200)


def test_random_draws_respect_the_config():
    cfg = TrainConfig(mirror=False, shift_px=0, brightness=0.0, shadow_probability=0.0)
    p = augment.draw_params(cfg, tf.constant([3, 1], tf.int64), 50)
    assert not np.any(p.mirror) and np.all(p.shift.numpy() == 0.0)
    assert np.all(p.brightness.numpy() == 1.0) and not np.any(p.shadow)
    cfg = TrainConfig(mirror=True, shift_px=30)
    p = augment.draw_params(cfg, tf.constant([3, 2], tf.int64), 200)
    assert 60 < int(np.sum(p.mirror)) < 140
    assert np.all(np.abs(p.shift.numpy()) <= 30) and np.any(np.abs(p.shift.numpy()) > 20)


def test_side_cameras_add_and_subtract_the_correction(real_sample):
    cfg = TrainConfig(side_cameras=True, side_correction=0.2)
    ix = index_datasets([real_sample], cfg)
    frames = np.arange(10)
    paths, angles, owners = camera_samples(ix, frames, True, 0.2)
    assert len(paths) == 30 and list(owners) == list(frames) * 3
    by_path = dict(zip(paths, angles, strict=True))
    for i in frames:
        assert by_path[ix.center[i]] == pytest.approx(ix.steering[i])
        assert by_path[ix.left[i]] == pytest.approx(ix.steering[i] + 0.2)
        assert by_path[ix.right[i]] == pytest.approx(ix.steering[i] - 0.2)
    only_center, _, _ = camera_samples(ix, frames, False, 0.2)
    assert list(only_center) == list(ix.center[frames])
