"""Shared fixtures: tiny TFLite models (built once in a TF subprocess, cached by builder hash)."""

from __future__ import annotations

import base64
import hashlib
import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from drive_agent.loop import DriveLoop
from drive_agent.model_card import ModelCard, load_model_card
from drive_agent.runtime import TFLiteModel

BUILDER = Path(__file__).with_name("tiny_models.py")


@pytest.fixture(scope="session")
def tiny_models(request: pytest.FixtureRequest) -> Path:
    key = hashlib.sha256(BUILDER.read_bytes()).hexdigest()[:16]
    folder = Path(request.config.cache.mkdir(f"drive_agent_tiny_models_{key}"))
    if not (folder / "DONE").exists():
        subprocess.run([sys.executable, str(BUILDER), str(folder)], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return folder


def load_tiny(folder: Path, name: str) -> tuple[TFLiteModel, ModelCard]:
    card = load_model_card(folder / f"{name}.json")
    return TFLiteModel(folder / f"{name}.tflite", card), card


@pytest.fixture
def drive_loop(tiny_models: Path) -> DriveLoop:
    model, _ = load_tiny(tiny_models, "regression_float")
    return DriveLoop(model)


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
