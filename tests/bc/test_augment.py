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


@pytest.mark.parametrize("max_shift", [None, 25, 7])
def test_move_is_the_column_table_under_xla_too(max_shift):
    """`move_frames` (padded windows) shows, for every column, the column `move_columns` names,
    eagerly and compiled, for any mix of mirrors and shifts up to max_shift."""
    rng = np.random.default_rng(2)
    frames = rng.integers(0, 256, (12, 66, 200, 3), dtype=np.uint8)
    limit = 199 if max_shift is None else max_shift
    shifts = [0.0, 1.0, -1.0, float(limit), -float(limit)] + list(rng.integers(-limit, limit + 1, 7).astype(float))
    params = augment.identity_params(12)._replace(mirror=tf.constant(rng.random(12) < 0.5),
                                                  shift=tf.constant(shifts, tf.float32))
    table = augment.move_columns(params, 200).numpy()
    expected = np.stack([f[:, cols] for f, cols in zip(frames, table, strict=True)])
    assert np.array_equal(augment.move_frames(tf.constant(frames), params, max_shift).numpy(), expected)
    compiled = tf.function(lambda x: augment.move_frames(x, params, max_shift), jit_compile=True)
    assert np.array_equal(compiled(tf.constant(frames)).numpy(), expected)


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
    cfg = TrainConfig(mirror=True, shift_px=40, brightness=0.3, shadow_probability=0.5)
    p = augment.draw_params(cfg, tf.constant([3, 2], tf.int64), 400)
    assert 140 < int(np.sum(p.mirror)) < 260 and 140 < int(np.sum(p.shadow)) < 260
    # 40 camera pixels of a 320-px frame are 25 pixels of the 200-px model input.
    shift = p.shift.numpy()
    assert np.all(shift == np.round(shift)) and np.abs(shift).max() == 25
    assert np.all(np.abs(p.brightness.numpy() - 1.0) <= 0.3 + 1e-6)
    gains = p.shadow_gain.numpy()
    assert np.all((gains >= 0.5) & (gains <= 0.8))
    # The parameters are drawn independently of each other.
    assert abs(np.corrcoef(shift, p.brightness.numpy())[0, 1]) < 0.2


def test_shift_in_model_pixels_steers_as_the_same_camera_shift():
    """A model-pixel shift changes steering by shift_angle_per_px per camera pixel it spans."""
    cfg = TrainConfig(shift_px=40, shift_angle_per_px=0.002, resize=(66, 200))
    assert augment.shift_limit(cfg) == 25
    assert augment.angle_per_model_px(cfg) == pytest.approx(0.002 * 320 / 200)
    frame = _frame()[:66, :200]
    out, angle = augment.move(tf.constant(frame[None]), tf.constant([[0.1]]), _params(shift=25.0),
                              augment.angle_per_model_px(cfg))
    assert np.array_equal(out.numpy()[0][:, 25:], frame[:, :-25])
    assert float(angle.numpy()[0, 0]) == pytest.approx(0.1 + 40 * 0.002)
    assert augment.shift_limit(cfg.replace(resize=(66, 320))) == 40


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
