"""Augmentations of raw camera frames (before preprocessing), as TensorFlow ops.

They run on the cropped camera frame in source pixels, so `shift_px` and the steering change of
`shift_angle_per_px` per pixel mean what the literature means (about 0.002 per pixel of a 320-px
frame). Random draws and their application are separate: `draw_params` picks, `apply` is
deterministic, so tests can check each effect exactly.
"""

from __future__ import annotations

from typing import NamedTuple

import tensorflow as tf

from workers.bc.config import TrainConfig


class AugmentParams(NamedTuple):
    mirror: tf.Tensor        # bool
    shift: tf.Tensor         # float32 pixels, + moves the picture right
    brightness: tf.Tensor    # float32 multiplier
    shadow: tf.Tensor        # bool
    shadow_x: tf.Tensor      # float32 (2,), top and bottom x of the shadow edge in 0..1
    shadow_left: tf.Tensor   # bool: shadow on the left of the edge
    shadow_gain: tf.Tensor   # float32 darkening multiplier


def identity_params() -> AugmentParams:
    """Parameters that leave a frame and its angle untouched."""
    return AugmentParams(tf.constant(False), tf.constant(0.0), tf.constant(1.0),
                         tf.constant(False), tf.constant([0.5, 0.5]), tf.constant(True),
                         tf.constant(1.0))


def draw_params(cfg: TrainConfig, seed: tf.Tensor) -> AugmentParams:
    """Random augmentation parameters from a stateless (2,) int seed."""
    seeds = tf.random.experimental.stateless_split(seed, num=7)
    u = lambda i, shape=(): tf.random.stateless_uniform(shape, seeds[i])  # noqa: E731
    return AugmentParams(
        mirror=tf.logical_and(cfg.mirror, u(0) < 0.5),
        shift=tf.round((u(1) * 2.0 - 1.0) * float(cfg.shift_px)),
        brightness=1.0 + (u(2) * 2.0 - 1.0) * float(cfg.brightness),
        shadow=u(3) < float(cfg.shadow_probability),
        shadow_x=u(4, (2,)),
        shadow_left=u(5) < 0.5,
        shadow_gain=0.5 + 0.3 * u(6),
    )


def apply(frame: tf.Tensor, angle: tf.Tensor, params: AugmentParams,
          shift_angle_per_px: float) -> tuple[tf.Tensor, tf.Tensor]:
    """Apply `params` to a uint8 (H, W, C) frame and its steering angle."""
    height, width = tf.shape(frame)[0], tf.shape(frame)[1]
    angle = tf.cast(angle, tf.float32)
    frame = tf.cond(params.mirror, lambda: tf.reverse(frame, axis=[1]), lambda: frame)
    angle = tf.where(params.mirror, -angle, angle)

    # Horizontal shift: the picture moves right by `shift` px (edge columns repeated); the car
    # now sees the road further right, i.e. it sits left of where it was, so steer right (+).
    shift = tf.cast(params.shift, tf.int32)
    columns = tf.clip_by_value(tf.range(width) - shift, 0, width - 1)
    frame = tf.gather(frame, columns, axis=1)
    angle = angle + params.shift * shift_angle_per_px

    pixels = tf.cast(frame, tf.float32) * params.brightness
    xs = tf.cast(tf.range(width), tf.float32)[None, :] / tf.cast(width, tf.float32)
    ys = tf.cast(tf.range(height), tf.float32)[:, None] / tf.maximum(
        tf.cast(height - 1, tf.float32), 1.0)
    edge = params.shadow_x[0] + (params.shadow_x[1] - params.shadow_x[0]) * ys
    in_shadow = tf.where(params.shadow_left, xs < edge, xs >= edge)
    in_shadow = tf.logical_and(params.shadow, in_shadow)
    gain = tf.where(in_shadow, params.shadow_gain, 1.0)[:, :, None]
    pixels = pixels * gain
    frame = tf.cast(tf.clip_by_value(tf.round(pixels), 0.0, 255.0), tf.uint8)
    return frame, tf.clip_by_value(angle, -1.0, 1.0)
