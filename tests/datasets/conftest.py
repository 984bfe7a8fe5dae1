"""Every dataset test gets its own media, upload, dataset and work folders (`pitlane_dirs`,
tests/support/folders.py), also seen by worker and Daphne subprocesses (through the environment)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _own_folders(pitlane_dirs):
    """Request `pitlane_dirs` for every test in this folder."""
