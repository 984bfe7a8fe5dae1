"""Fixtures for training.bc tests: one tiny end-to-end training run on the real Udacity sample
(`real_sample`, tests/conftest.py), shared by the artifact tests. Helpers (tiny configurations,
datasets cut from the sample) are in tests/bc/helpers.py; TensorFlow's thread settings are set in
tests/conftest.py before anything imports TensorFlow.
"""

from __future__ import annotations

import pytest

from tests.bc.helpers import tiny_config


@pytest.fixture(scope="session")
def trained_run(real_sample, tmp_path_factory):
    """One tiny end-to-end PilotNet run on the real sample, shared by the artifact tests."""
    from training.bc.train import train

    out = tmp_path_factory.mktemp("bc_run") / "run"
    events: list[dict] = []
    cfg = tiny_config(side_cameras=True)
    result = train([real_sample], cfg, out, on_progress=events.append)
    return result, cfg, events
