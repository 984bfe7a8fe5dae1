"""Augmentation semantics: mirroring, side cameras, shifts, brightness and shadows."""

import numpy as np
import pytest
import tensorflow as tf

from workers.bc import augment
from workers.bc.config import TrainConfig
from workers.bc.dataset_index import camera_samples, index_datasets


PER_PX = 0.002 * 320 / 200  # steering per model pixel of a 200-px-wide input


def _frame(seed=0):
    return np.random.default_rng(seed).integers(0, 256, size=(66, 200, 3), dtype=np.uint8)


def _apply(frame, angle, **changes):
    """Apply one sample's parameters (given as scalars) to a batch of one."""
    params = augment.identity_params(1)._replace(
        **{k: tf.constant([v], dtype=tf.float32 if isinstance(v, float) or (
            isinstance(v, list) and isinstance(v[0], float)) else None)
           for k, v in changes.items()})
    out, new_angle = augment.apply(tf.constant(frame[None]), tf.constant([[angle]]), params,
                                   PER_PX)
    return out.numpy()[0], float(new_angle.numpy()[0, 0])


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
    assert np.array_equal(out[:, :20], np.repeat(frame[:, :1], 20, axis=1))
    assert angle == pytest.approx(0.1 + 20 * 0.0032)  # 20 model px = 32 camera px
    _, angle_left = _apply(frame, 0.1, shift=-20.0)
    assert angle_left == pytest.approx(0.1 - 20 * 0.0032)


def test_mirror_then_shift_compose():
    frame = _frame()
    out, angle = _apply(frame, 0.3, mirror=True, shift=10.0)
    assert np.array_equal(out[:, 10:], frame[:, ::-1][:, :-10])
    assert angle == pytest.approx(-0.3 + 10 * 0.0032)


def test_shift_range_is_given_in_camera_pixels():
    assert augment.angle_per_model_px(TrainConfig()) == pytest.approx(0.0032)
    cfg = TrainConfig(shift_px=32)
    shifts = [float(augment.draw_params(cfg, tf.constant([s, 9], tf.int64), 4).shift[0])
              for s in range(30)]
    assert max(abs(v) for v in shifts) <= 20.0


def test_brightness_scales_pixels_and_keeps_steering():
    frame = np.full((66, 200, 3), 100, np.uint8)
    out, angle = _apply(frame, -0.2, brightness=0.5)
    assert np.all(out == 50) and angle == pytest.approx(-0.2)


def test_shadow_darkens_one_side_of_an_edge_only():
    frame = np.full((66, 200, 3), 200, np.uint8)
    out, _ = _apply(frame, 0.0, shadow=True, shadow_x=[0.5, 0.5], shadow_left=True,
                    shadow_gain=0.5)
    assert np.all(out[:, :95] == 100) and np.all(out[:, 105:] == 200)


def test_random_draws_respect_the_config():
    cfg = TrainConfig(mirror=False, shift_px=0, brightness=0.0, shadow_probability=0.0)
    p = augment.draw_params(cfg, tf.constant([3, 1], tf.int64), 50)
    assert not np.any(p.mirror) and np.all(p.shift.numpy() == 0.0)
    assert np.all(p.brightness.numpy() == 1.0) and not np.any(p.shadow)
    cfg = TrainConfig(mirror=True, shift_px=30)
    p = augment.draw_params(cfg, tf.constant([3, 2], tf.int64), 200)
    assert 60 < int(np.sum(p.mirror)) < 140
    assert np.all(np.abs(p.shift.numpy()) <= 19)


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
