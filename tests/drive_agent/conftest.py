"""Shared fixtures. The tiny TFLite models come from the suite's `tiny_models` fixture
(tests/conftest.py, built by tests.support.tiny_models)."""

from __future__ import annotations

from pathlib import Path

import pytest

from drive_agent.loop import DriveLoop
from tests.drive_agent.helpers import load_tiny


@pytest.fixture
def drive_loop(tiny_models: Path) -> DriveLoop:
    model, _ = load_tiny(tiny_models, "regression_float")
    return DriveLoop(model)
