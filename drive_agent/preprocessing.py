"""Model-input preprocessing: the single implementation shared by training and driving.

A model only drives well if it sees at race time exactly what it saw in training, so this module
is pure (no state, no I/O), depends only on NumPy and Pillow, and is what `training.bc` calls too.

Order: crop rows (sky and bonnet) -> resize with Pillow BILINEAR (area-aware when shrinking, like
`tf.image.resize(..., "bilinear", antialias=True)`) -> colour space -> value scale.
Colour spaces on uint8 RGB: "rgb" as is; "yuv" is OpenCV's `COLOR_RGB2YUV` (BT.601 analog YUV:
Y = .299R + .587G + .114B, U = .492(B - Y) + 128, V = .877(R - Y) + 128, rounded and clipped);
"gray" is the BT.601 luma Y. Scales: "none" keeps 0..255 (the model normalises), "unit" maps to
0..1, "symmetric" to -1..1.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from PIL import Image

from drive_agent.model_card import ModelCard, PreprocessingSpec

_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)
_U_GAIN = np.float32(0.492)
_V_GAIN = np.float32(0.877)


def preprocess(frame: np.ndarray, spec: PreprocessingSpec | ModelCard,
               dtype: npt.DTypeLike = np.float32) -> np.ndarray:
    """One camera frame (H, W, 3) RGB or (H, W[, 1]) gray uint8 -> model input (h, w, c).

    `dtype` float32 (default) or uint8 (only with scale "none"); a batch axis is not added.
    """
    if isinstance(spec, ModelCard):
        spec = spec.preprocessing
    img = _as_uint8_hwc(frame)
    height = img.shape[0]
    if spec.crop_top + spec.crop_bottom >= height:
        raise ValueError(f"cannot crop {spec.crop_top}+{spec.crop_bottom} rows from a {height}-row frame")
    img = img[spec.crop_top:height - spec.crop_bottom]
    if spec.resize is not None and img.shape[:2] != tuple(spec.resize):
        img = resize(img, spec.resize)
    img = convert_color(img, spec.color_space)
    return scale_values(img, spec.scale, dtype)


class FrameStack:
    """The last `size` preprocessed frames along the channel axis, newest last, for models whose
    card has `preprocessing.stack` > 1. The first frame after `reset()` (a new run, a car put
    back on the track) fills every slot, as the RL trainer starts each episode."""

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError("a frame stack holds at least one frame")
        self.size = size
        self._stack: np.ndarray | None = None

    def reset(self) -> None:
        self._stack = None

    def push(self, x: np.ndarray) -> np.ndarray:
        """Add one preprocessed frame (h, w, c); returns the stack (h, w, c * size), a view
        that the next push overwrites (copy it to keep it)."""
        c = x.shape[2]
        if self._stack is None or self._stack.shape[:2] != x.shape[:2] or self._stack.dtype != x.dtype:
            self._stack = np.concatenate([x] * self.size, axis=2)
        else:
            self._stack[:, :, :-c] = self._stack[:, :, c:]
            self._stack[:, :, -c:] = x
        return self._stack


def resize(img: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """uint8 (H, W, C) -> (height, width, C) with Pillow's bilinear filter."""
    height, width = size
    squeeze = img.shape[2] == 1
    pil = Image.fromarray(img[:, :, 0] if squeeze else np.ascontiguousarray(img))
    out = np.asarray(pil.resize((width, height), Image.Resampling.BILINEAR))
    return out[:, :, None] if squeeze else out


def convert_color(img: np.ndarray, color_space: str) -> np.ndarray:
    """uint8 RGB (H, W, 3) -> uint8 in `color_space` ("rgb", "yuv": 3 channels; "gray": 1)."""
    channels = img.shape[2]
    if color_space == "rgb":
        if channels != 3:
            raise ValueError("color_space rgb needs a 3-channel frame")
        return img
    if channels == 1:
        if color_space == "gray":
            return img
        raise ValueError(f"color_space {color_space} needs a 3-channel frame, got grayscale")
    rgb = img.astype(np.float32)
    y = np.rint(rgb @ _LUMA)
    if color_space == "gray":
        return np.clip(y, 0, 255).astype(np.uint8)[:, :, None]
    if color_space == "yuv":
        out = np.empty(rgb.shape, dtype=np.float32)
        out[:, :, 0] = y
        np.multiply(rgb[:, :, 2] - y, _U_GAIN, out=out[:, :, 1])
        np.multiply(rgb[:, :, 0] - y, _V_GAIN, out=out[:, :, 2])
        out[:, :, 1:] += 128.0
        np.rint(out, out=out)
        np.clip(out, 0, 255, out=out)
        return out.astype(np.uint8)
    raise ValueError(f"unknown color_space {color_space!r}")


def scale_values(img: np.ndarray, scale: str, dtype: npt.DTypeLike = np.float32) -> np.ndarray:
    dtype = np.dtype(dtype)
    if dtype == np.uint8:
        if scale != "none":
            raise ValueError(f"uint8 output needs scale 'none', not {scale!r}")
        return img
    out = img.astype(dtype)
    if scale == "unit":
        out *= 1.0 / 255.0
    elif scale == "symmetric":
        out *= 1.0 / 127.5
        out -= 1.0
    elif scale != "none":
        raise ValueError(f"unknown scale {scale!r}")
    return out


def _as_uint8_hwc(frame: np.ndarray) -> np.ndarray:
    img = np.asarray(frame)
    if img.dtype != np.uint8:
        raise ValueError(f"frames must be uint8, got {img.dtype}")
    if img.ndim == 2:
        return img[:, :, None]
    if img.ndim != 3 or img.shape[2] not in (1, 3, 4):
        raise ValueError(f"frames must be (H, W), (H, W, 1) or (H, W, 3), got shape {img.shape}")
    return img[:, :, :3] if img.shape[2] == 4 else img
