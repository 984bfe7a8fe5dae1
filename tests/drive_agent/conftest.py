"""Shared fixtures: tiny TFLite models (built once in a TF subprocess, cached by builder hash)."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

from drive_agent.loop import DriveLoop
from tests.drive_agent.helpers import load_tiny

BUILDER = Path(__file__).with_name("tiny_models.py")


@pytest.fixture(scope="session")
def tiny_models(request: pytest.FixtureRequest) -> Path:
    key = hashlib.sha256(BUILDER.read_bytes()).hexdigest()[:16]
    folder = Path(request.config.cache.mkdir(f"drive_agent_tiny_models_{key}"))
    if not (folder / "DONE").exists():
        subprocess.run([sys.executable, str(BUILDER), str(folder)], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return folder


@pytest.fixture
def drive_loop(tiny_models: Path) -> DriveLoop:
    model, _ = load_tiny(tiny_models, "regression_float")
    return DriveLoop(model)
