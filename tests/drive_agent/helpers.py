"""Test helpers for drive_agent: loading tiny models, synthetic Udacity frames and telemetry."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import numpy as np
from PIL import Image

from drive_agent.model_card import ModelCard, load_model_card
from drive_agent.runtime import TFLiteModel


def load_tiny(folder: Path, name: str) -> tuple[TFLiteModel, ModelCard]:
    card = load_model_card(folder / f"{name}.json")
    return TFLiteModel(folder / f"{name}.tflite", card), card


def udacity_frame(seed: int = 0) -> np.ndarray:
    """A 320x160 RGB frame with a road-like gradient, deterministic per seed."""
    rng = np.random.default_rng(seed)
    frame = np.zeros((160, 320, 3), dtype=np.uint8)
    frame[:, :, 0] = np.linspace(0, 255, 320, dtype=np.uint8)[None, :]
    frame[:, :, 1] = np.linspace(255, 0, 160, dtype=np.uint8)[:, None]
    frame[:, :, 2] = rng.integers(0, 256, (160, 320), dtype=np.uint8)
    return frame


def jpeg_b64(frame: np.ndarray) -> str:
    buf = io.BytesIO()
    Image.fromarray(frame).save(buf, format="JPEG", quality=90)
    return base64.b64encode(buf.getvalue()).decode("ascii")
