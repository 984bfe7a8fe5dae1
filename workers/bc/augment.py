"""Batched augmentations of cropped and resized RGB frames, as TensorFlow ops.

They run on whole (B, h, w, 3) batches after drive_agent's crop and resize and before the colour
conversion, fused by XLA into about one pass per batch: per-frame TF ops on full camera frames
cost more CPU than PilotNet can spare on 2 cores. Each equals the same change to the camera frame:
- mirror: flip left-right and negate steering (the resize commutes with flipping);
- shift: move the picture by whole model pixels; steering changes by `shift_angle_per_px` per
  *camera* pixel (about 0.002 of a 320-px frame), i.e. scaled by 320 / model width;
- brightness and shadow: a gain on the RGB values.
Random draws (`draw_params`) are separate from their deterministic application (`apply`).
"""

from __future__ import annotations

from typing import NamedTuple

import tensorflow as tf

from workers.bc.config import SOURCE_WIDTH, TrainConfig


class AugmentParams(NamedTuple):
    """Per-sample parameters of a batch (leading dimension B)."""

    mirror: tf.Tensor        # bool (B,)
    shift: tf.Tensor         # float32 (B,) model pixels, + moves the picture right
    brightness: tf.Tensor    # float32 (B,) gain
    shadow: tf.Tensor        # bool (B,)
    shadow_x: tf.Tensor      # float32 (B, 2): top and bottom x of the shadow edge, 0..1
    shadow_left: tf.Tensor   # bool (B,): shadow on the left of the edge
    shadow_gain: tf.Tensor   # float32 (B,)


def identity_params(batch: int) -> AugmentParams:
    """Parameters that leave a batch untouched."""
    return AugmentParams(tf.zeros([batch], tf.bool), tf.zeros([batch]), tf.ones([batch]),
                         tf.zeros([batch], tf.bool), tf.fill([batch, 2], 0.5),
                         tf.ones([batch], tf.bool), tf.ones([batch]))


def draw_params(cfg: TrainConfig, seed: tf.Tensor, batch: tf.Tensor | int) -> AugmentParams:
    """Random parameters for `batch` samples from a stateless (2,) int seed."""
    seeds = tf.random.experimental.stateless_split(seed, num=7)
    u = lambda i, *tail: tf.random.stateless_uniform(tf.stack([batch, *tail]), seeds[i])  # noqa: E731
    max_shift = round(cfg.shift_px * cfg.resize[1] / SOURCE_WIDTH)
    return AugmentParams(
        mirror=tf.logical_and(cfg.mirror, u(0) < 0.5),
        shift=tf.round((u(1) * 2.0 - 1.0) * float(max_shift)),
        brightness=1.0 + (u(2) * 2.0 - 1.0) * float(cfg.brightness),
        shadow=u(3) < float(cfg.shadow_probability),
        shadow_x=u(4, 2),
        shadow_left=u(5) < 0.5,
        shadow_gain=0.5 + 0.3 * u(6),
    )


def angle_per_model_px(cfg: TrainConfig) -> float:
    """Steering change per model-input pixel of shift."""
    return cfg.shift_angle_per_px * SOURCE_WIDTH / cfg.resize[1]


def apply(images: tf.Tensor, angles: tf.Tensor, params: AugmentParams,
          angle_per_px: float) -> tuple[tf.Tensor, tf.Tensor]:
    """Apply `params` to RGB (B, H, W, 3) frames (uint8 or float 0..255) and their (B, 1)
    steering angles; returns float32 frames (not rounded) and (B, 1) angles.

    Written as one gather (mirror + shift) and one gain product so XLA fuses it cheaply.
    """
    height, width = tf.shape(images)[1], tf.shape(images)[2]
    angles = tf.reshape(tf.cast(angles, tf.float32), [-1])
    angles = tf.where(params.mirror, -angles, angles)

    # Shift: the picture moves right by `shift` px (edge columns repeated); the road now lies
    # further right, so the car sits left of where it was and must steer right (+). The shift
    # applies to the already mirrored picture.
    shift = tf.cast(params.shift, tf.int32)
    columns = tf.clip_by_value(tf.range(width)[None, :] - shift[:, None], 0, width - 1)
    columns = tf.where(params.mirror[:, None], width - 1 - columns, columns)
    images = tf.gather(images, columns, axis=2, batch_dims=1)
    angles = angles + params.shift * angle_per_px

    xs = tf.cast(tf.range(width), tf.float32)[None, None, :] / tf.cast(width, tf.float32)
    ys = tf.cast(tf.range(height), tf.float32)[None, :, None] / tf.maximum(
        tf.cast(height - 1, tf.float32), 1.0)
    top, bottom = params.shadow_x[:, 0, None, None], params.shadow_x[:, 1, None, None]
    edge = top + (bottom - top) * ys
    in_shadow = tf.where(params.shadow_left[:, None, None], xs < edge, xs >= edge)
    in_shadow = tf.logical_and(params.shadow[:, None, None], in_shadow)
    gain = tf.where(in_shadow, params.shadow_gain[:, None, None], 1.0)
    gain = (gain * params.brightness[:, None, None])[..., None]
    images = tf.clip_by_value(tf.cast(images, tf.float32) * gain, 0.0, 255.0)
    return images, tf.clip_by_value(angles, -1.0, 1.0)[:, None]
