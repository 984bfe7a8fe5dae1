"""What the network looks at: VisualBackProp (PilotNet) and Grad-CAM (transfer model) heat maps.

VisualBackProp (Bojarski et al., 2016, NVIDIA's tool for PilotNet) multiplies channel-averaged
feature maps from the deepest convolution back up to the input, so it needs no gradients and is
cheap enough for a whole sequence. Grad-CAM weights the transfer model's bottleneck channels by
the gradient of the steering output. Maps are (N, H, W) in 0..1, blended onto the frames the
model saw and written as PNGs and an animated GIF.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from PIL import Image

from training.bc.models import PILOTNET_CONV_LAYERS


def _normalise(maps: tf.Tensor) -> tf.Tensor:
    """Scale each map of a (N, H, W, 1) batch to 0..1."""
    lo = tf.reduce_min(maps, axis=[1, 2, 3], keepdims=True)
    hi = tf.reduce_max(maps, axis=[1, 2, 3], keepdims=True)
    return (maps - lo) / tf.maximum(hi - lo, 1e-8)


def visual_backprop(model: keras.Model, images: np.ndarray,
                    conv_layers: Sequence[str] = PILOTNET_CONV_LAYERS) -> np.ndarray:
    """VisualBackProp masks (N, H, W) in 0..1 for a plain convolutional model such as PilotNet."""
    convs = [model.get_layer(name) for name in conv_layers]
    probe = keras.Model(model.inputs, [c.output for c in convs])
    x = tf.convert_to_tensor(np.asarray(images, dtype=np.float32))
    activations = probe(x, training=False)
    averaged = [_normalise(tf.reduce_mean(a, axis=-1, keepdims=True)) for a in activations]
    shapes = [tf.shape(x)[:3]] + [tf.shape(a)[:3] for a in averaged[:-1]]
    mask = averaged[-1]
    for level in range(len(convs) - 1, -1, -1):
        conv = convs[level]
        kh, kw = conv.kernel_size
        sh, sw = conv.strides
        target = shapes[level]
        up = tf.nn.conv2d_transpose(mask, tf.ones([kh, kw, 1, 1]),
                                    output_shape=tf.stack([target[0], target[1], target[2], 1]),
                                    strides=[1, sh, sw, 1], padding="VALID")
        mask = up * averaged[level - 1] if level > 0 else up
        mask = _normalise(mask)
    # The strided transposed convolutions leave a fine grid pattern; a light blur removes it.
    mask = tf.nn.avg_pool2d(mask, ksize=3, strides=1, padding="SAME")
    return _normalise(mask)[..., 0].numpy()


def grad_cam(feature_model: keras.Model, head: keras.Model, images: np.ndarray) -> np.ndarray:
    """Grad-CAM (N, H, W) in 0..1 on the features `feature_model` hands to `head`.

    Both signs of steering matter, so the channel weights use the gradient of |steering|.
    """
    x = tf.convert_to_tensor(np.asarray(images, dtype=np.float32))
    features = feature_model(x, training=False)
    with tf.GradientTape() as tape:
        tape.watch(features)
        output = tf.abs(head(features, training=False))
    grads = tape.gradient(output, features)
    weights = tf.reduce_mean(grads, axis=[1, 2], keepdims=True)
    cam = tf.nn.relu(tf.reduce_sum(weights * features, axis=-1, keepdims=True))
    cam = tf.image.resize(cam, tf.shape(x)[1:3], method="bilinear")
    return _normalise(cam)[..., 0].numpy()


def saliency_maps(model: keras.Model, images: np.ndarray) -> np.ndarray:
    """Heat maps for `model`: VisualBackProp for PilotNet, Grad-CAM for the transfer model."""
    if model.name == "pilotnet":
        return visual_backprop(model, images)
    prefix = model.get_layer("inception_prefix")
    head = model.get_layer("transfer_head")
    return grad_cam(prefix, head, images)


# --- rendering --------------------------------------------------------------------------------

_JET_STOPS = np.array([[0.0, 0.0, 0.5], [0.0, 0.0, 1.0], [0.0, 1.0, 1.0], [1.0, 1.0, 0.0],
                       [1.0, 0.0, 0.0], [0.5, 0.0, 0.0]], dtype=np.float32)


def colorize(heat: np.ndarray) -> np.ndarray:
    """(H, W) 0..1 -> (H, W, 3) uint8 with a jet-like colour map (blue cold, red hot)."""
    h = np.clip(np.asarray(heat, dtype=np.float32), 0.0, 1.0) * (len(_JET_STOPS) - 1)
    low = np.floor(h).astype(int)
    high = np.minimum(low + 1, len(_JET_STOPS) - 1)
    frac = (h - low)[..., None]
    rgb = _JET_STOPS[low] * (1.0 - frac) + _JET_STOPS[high] * frac
    return (rgb * 255.0 + 0.5).astype(np.uint8)


def overlay(frame_rgb: np.ndarray, heat: np.ndarray, strength: float = 0.6) -> np.ndarray:
    """Blend the coloured heat map onto an RGB frame, more where the map is hotter."""
    frame = np.asarray(frame_rgb, dtype=np.float32)
    if frame.shape[2] == 1:
        frame = np.repeat(frame, 3, axis=2)
    alpha = (strength * np.clip(heat, 0.0, 1.0))[..., None]
    blended = frame * (1.0 - alpha) + colorize(heat).astype(np.float32) * alpha
    return np.clip(blended + 0.5, 0, 255).astype(np.uint8)


def _enlarge(img: np.ndarray, factor: int) -> Image.Image:
    pil = Image.fromarray(img)
    return pil.resize((pil.width * factor, pil.height * factor), Image.Resampling.NEAREST)


def write_heatmaps(model: keras.Model, model_inputs: np.ndarray, display_frames: np.ndarray,
                   out_dir: Path, sample_count: int, gif_frames: int,
                   scale: int = 2) -> dict[str, Any]:
    """Write `frame_XXX.png` overlays of evenly spaced samples and `sequence.gif` of the first
    `gif_frames` consecutive inputs; returns file names relative to `out_dir`'s parent and, as
    "frames", each PNG's position among the inputs (the validation order: the web page labels
    each map with that frame's true and predicted steering from validation.npz)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    n = len(model_inputs)
    pngs: list[str] = []
    written: dict[str, Any] = {"png": pngs, "gif": ""}
    if n == 0:
        return written
    picks = np.unique(np.linspace(0, n - 1, num=min(sample_count, n)).astype(int))
    maps = saliency_maps(model, model_inputs[picks])
    for k, (i, heat) in enumerate(zip(picks, maps, strict=True)):
        name = f"frame_{k:03d}.png"
        _enlarge(overlay(display_frames[i], heat), scale).save(out_dir / name)
        pngs.append(f"{out_dir.name}/{name}")
    written["frames"] = [int(i) for i in picks]
    count = min(gif_frames, n)
    if count > 0:
        seq_maps = saliency_maps(model, model_inputs[:count])
        images = [_enlarge(overlay(display_frames[i], seq_maps[i]), scale) for i in range(count)]
        images[0].save(out_dir / "sequence.gif", save_all=True, append_images=images[1:],
                       duration=100, loop=0)
        written["gif"] = f"{out_dir.name}/sequence.gif"
    return written
