"""TensorFlow twin of `drive_agent.preprocessing.convert_color` (BT.601 YUV / gray on RGB).

The crop and the Pillow resize stay in `drive_agent.preprocessing`; only this per-pixel formula
is repeated in TF so that it fuses (XLA) with the augmentations into one cheap pass per batch.
Tests check it against drive_agent on every real sample frame: equal to within 1 grey level
(float summation order can move a value sitting exactly on a .5 boundary).
"""

from __future__ import annotations

import tensorflow as tf

LUMA = (0.299, 0.587, 0.114)
U_GAIN = 0.492
V_GAIN = 0.877


def convert_color(rgb: tf.Tensor, color_space: str) -> tf.Tensor:
    """RGB (..., 3) values 0..255 -> float32 model input values in `color_space`, rounded and
    clipped to 0..255 like drive_agent's uint8 output ("gray" keeps a channel axis of 1)."""
    rgb = tf.cast(rgb, tf.float32)
    if color_space == "rgb":
        return tf.clip_by_value(tf.round(rgb), 0.0, 255.0)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    y = tf.round(r * LUMA[0] + g * LUMA[1] + b * LUMA[2])
    if color_space == "gray":
        return tf.clip_by_value(y, 0.0, 255.0)[..., None]
    u = tf.round((b - y) * U_GAIN + 128.0)
    v = tf.round((r - y) * V_GAIN + 128.0)
    return tf.clip_by_value(tf.stack([y, u, v], axis=-1), 0.0, 255.0)
