"""Batched augmentations as TensorFlow ops on model-sized frames, fused with the colour conversion.

They run on frames already cropped and resized to the network's input size (what the decoded-frame
cache holds), so each epoch's work is small: `move` mirrors and shifts the frames (one column
gather), `light` applies brightness and a shadow to the RGB values (before the colour conversion);
with the colour twin they compile into about one pass per batch. Per-frame TF ops instead would
cost more CPU than PilotNet can spare on 2 cores. Semantics:
- mirror: flip left-right and negate steering (exact: drive_agent's preprocessing of a mirrored
  camera frame);
- shift: move the picture by whole *model* pixels, edge columns repeated; `cfg.shift_px` is the
  largest shift in camera pixels and is converted (`shift_limit`), and steering changes by
  `cfg.shift_angle_per_px` per camera pixel the picture moved (`angle_per_model_px`: 0.002 per
  camera pixel is 0.0032 per model pixel of a 320 -> 200 resize);
- brightness and shadow: a gain on the RGB values (steering unchanged).
Random draws (`draw_params`) are separate from their deterministic application.
"""

from __future__ import annotations

from typing import NamedTuple

import tensorflow as tf
from tensorflow.compiler.tf2xla.python import xla
from tensorflow.compiler.xla import xla_data_pb2

from training.bc.config import SOURCE_WIDTH, TrainConfig


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


def shift_limit(cfg: TrainConfig) -> int:
    """Largest shift in model pixels: `cfg.shift_px` camera pixels at the resize's scale."""
    return int(round(cfg.shift_px * cfg.resize[1] / SOURCE_WIDTH))


def angle_per_model_px(cfg: TrainConfig) -> float:
    """Steering change per model pixel of shift: `shift_angle_per_px` is per camera pixel."""
    return float(cfg.shift_angle_per_px) * SOURCE_WIDTH / cfg.resize[1]


def draw_params(cfg: TrainConfig, seed: tf.Tensor, batch: tf.Tensor | int) -> AugmentParams:
    """Random parameters for `batch` samples from a stateless (2,) int seed (one draw of
    8 uniforms per sample: each random op costs about as much as the arithmetic)."""
    u = tf.random.stateless_uniform(tf.stack([batch, 8]), seed)
    return AugmentParams(
        mirror=tf.logical_and(cfg.mirror, u[:, 0] < 0.5),
        shift=tf.round((u[:, 1] * 2.0 - 1.0) * float(shift_limit(cfg))),
        brightness=1.0 + (u[:, 2] * 2.0 - 1.0) * float(cfg.brightness),
        shadow=u[:, 3] < float(cfg.shadow_probability),
        shadow_x=u[:, 4:6],
        shadow_left=u[:, 6] < 0.5,
        shadow_gain=0.5 + 0.3 * u[:, 7],
    )


def move_columns(params: AugmentParams, width: int) -> tf.Tensor:
    """(B, width) int32: for each column of the moved frame, the column of the frame it shows.

    Mirror first, then shift: the picture moves right by `shift` px (edge columns repeated).
    The definition of `move_frames` as an index table (e.g. for `tf_resize`'s `columns`).
    """
    shift = tf.cast(params.shift, tf.int32)
    columns = tf.clip_by_value(tf.range(width)[None, :] - shift[:, None], 0, width - 1)
    return tf.where(params.mirror[:, None], width - 1 - columns, columns)


def move_frames(frames: tf.Tensor, params: AugmentParams, max_shift: int | None = None) -> tf.Tensor:
    """(B, H, W, C) frames with static H, W, C, mirrored then shifted: `frames[b, :, columns[b]]`
    for `move_columns`' table, where |shift| <= `max_shift` (default: any).

    Not a column gather: XLA's CPU gather of single elements cost 0.06 ms per 66 x 200 frame,
    more than lighting and the colour conversion together. Instead each frame gets `max_shift`
    copies of its edge columns on each side, is mirrored (the padding with it, so the window
    stays put), and its window is one whole-frame slice at a per-sample offset: one XLA gather
    of B slices, a row-wise copy (0.007 ms a frame). Compiled by XLA (here or in the caller).
    """
    width = int(frames.shape[2])
    pad = width - 1 if max_shift is None else min(int(max_shift), width - 1)
    return _move_frames(frames, params.mirror, params.shift, pad)


@tf.function(jit_compile=True)
def _move_frames(frames: tf.Tensor, mirror: tf.Tensor, shift: tf.Tensor, pad: int) -> tf.Tensor:
    height, width, channels = (int(d) for d in frames.shape[1:])
    if pad > 0:
        frames = tf.concat([tf.repeat(frames[:, :, :1], pad, axis=2), frames,
                            tf.repeat(frames[:, :, -1:], pad, axis=2)], axis=2)
    frames = tf.where(mirror[:, None, None, None], tf.reverse(frames, axis=[2]), frames)
    start = pad - tf.clip_by_value(tf.cast(shift, tf.int32), -pad, pad)
    starts = tf.stack([tf.range(tf.shape(start)[0]), start], axis=1)  # (batch, column) per sample
    dims = xla_data_pb2.GatherDimensionNumbers(offset_dims=[1, 2, 3], collapsed_slice_dims=[0],
                                               start_index_map=[0, 2], index_vector_dim=1)
    moved = xla.gather(frames, starts, dims, [1, height, width, channels], indices_are_sorted=True)
    moved.set_shape([frames.shape[0], height, width, channels])  # XlaGather infers no shape
    return moved


def move_angles(angles: tf.Tensor, params: AugmentParams, angle_per_px: float) -> tf.Tensor:
    """(B, 1) steering of the moved frames. Shifted right, the road lies further right, so
    the car sits left of where it was and must steer right (+)."""
    angles = tf.reshape(tf.cast(angles, tf.float32), [-1])
    angles = tf.where(params.mirror, -angles, angles) + params.shift * angle_per_px
    return tf.clip_by_value(angles, -1.0, 1.0)[:, None]


def move(frames: tf.Tensor, angles: tf.Tensor, params: AugmentParams, angle_per_px: float,
         max_shift: int | None = None) -> tuple[tf.Tensor, tf.Tensor]:
    """Mirror, then shift, (B, H, W, C) frames; returns frames and (B, 1) angles (`angle_per_px`:
    the steering change per pixel of these frames, `angle_per_model_px` for model-sized ones)."""
    return move_frames(frames, params, max_shift), move_angles(angles, params, angle_per_px)


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
