"""Batched augmentations as TensorFlow ops, split in two so XLA fuses them with preprocessing.

`move` mirrors and shifts the cropped *camera* frames (as a column table the resize gathers
through), `light` applies brightness and a shadow to the resized RGB values (before the colour
conversion); with the resize and colour twins they compile into about one pass per batch. Per-frame TF ops instead
would cost more CPU than PilotNet can spare on 2 cores. Semantics:
- mirror: flip left-right and negate steering;
- shift: move the picture by whole camera pixels; steering changes by `shift_angle_per_px` per
  pixel (about 0.002 of a 320-px frame);
- brightness and shadow: a gain on the RGB values (steering unchanged).
Random draws (`draw_params`) are separate from their deterministic application.
"""

from __future__ import annotations

from typing import NamedTuple

import tensorflow as tf

from training.bc.config import TrainConfig


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

    def u(i: int, *tail: int) -> tf.Tensor:
        return tf.random.stateless_uniform(tf.stack([batch, *tail]), seeds[i])

    return AugmentParams(
        mirror=tf.logical_and(cfg.mirror, u(0) < 0.5),
        shift=tf.round((u(1) * 2.0 - 1.0) * float(cfg.shift_px)),
        brightness=1.0 + (u(2) * 2.0 - 1.0) * float(cfg.brightness),
        shadow=u(3) < float(cfg.shadow_probability),
        shadow_x=u(4, 2),
        shadow_left=u(5) < 0.5,
        shadow_gain=0.5 + 0.3 * u(6),
    )


def move_columns(params: AugmentParams, width: int) -> tf.Tensor:
    """(B, width) int32: for each column of the moved frame, the camera column it shows.

    Mirror first, then shift: the picture moves right by `shift` px (edge columns repeated).
    Returned as an index table so the resize can gather through it (one pass, no moved copy).
    """
    shift = tf.cast(params.shift, tf.int32)
    columns = tf.clip_by_value(tf.range(width)[None, :] - shift[:, None], 0, width - 1)
    return tf.where(params.mirror[:, None], width - 1 - columns, columns)


def move_angles(angles: tf.Tensor, params: AugmentParams, angle_per_px: float) -> tf.Tensor:
    """(B, 1) steering of the moved frames. Shifted right, the road lies further right, so
    the car sits left of where it was and must steer right (+)."""
    angles = tf.reshape(tf.cast(angles, tf.float32), [-1])
    angles = tf.where(params.mirror, -angles, angles) + params.shift * angle_per_px
    return tf.clip_by_value(angles, -1.0, 1.0)[:, None]


def move(frames: tf.Tensor, angles: tf.Tensor, params: AugmentParams,
         angle_per_px: float) -> tuple[tf.Tensor, tf.Tensor]:
    """Mirror, then shift, (B, H, W, C) camera frames; returns frames and (B, 1) angles.

    The training pipeline does not call this: it passes `move_columns` to the resize instead.
    """
    width = frames.shape[2] if frames.shape[2] is not None else tf.shape(frames)[2]
    frames = tf.gather(frames, move_columns(params, width), axis=2, batch_dims=1)
    return frames, move_angles(angles, params, angle_per_px)


def light(rgb: tf.Tensor, params: AugmentParams) -> tf.Tensor:
    """Brightness gain and a random straight-edged shadow on RGB (B, H, W, 3) values 0..255;
    returns float32, clipped, not rounded."""
    height, width = tf.shape(rgb)[1], tf.shape(rgb)[2]
    xs = tf.cast(tf.range(width), tf.float32)[None, None, :] / tf.cast(width, tf.float32)
    ys = tf.cast(tf.range(height), tf.float32)[None, :, None] / tf.maximum(
        tf.cast(height - 1, tf.float32), 1.0)
    top, bottom = params.shadow_x[:, 0, None, None], params.shadow_x[:, 1, None, None]
    edge = top + (bottom - top) * ys
    in_shadow = tf.where(params.shadow_left[:, None, None], xs < edge, xs >= edge)
    in_shadow = tf.logical_and(params.shadow[:, None, None], in_shadow)
    gain = tf.where(in_shadow, params.shadow_gain[:, None, None], 1.0)
    gain = (gain * params.brightness[:, None, None])[..., None]
    return tf.clip_by_value(tf.cast(rgb, tf.float32) * gain, 0.0, 255.0)
