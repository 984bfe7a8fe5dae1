"""`pitlane_dirs`: per-test media, upload, dataset and work folders, also seen by worker and Daphne
subprocesses (through the environment).

Registered for the whole suite by tests/conftest.py (`pytest_plugins`); it is not autouse. Folders
whose tests all need it (tests/datasets, tests/garage) request it from an autouse fixture in their
conftest; single modules add `pytest.mark.usefixtures("pitlane_dirs")` to their `pytestmark`."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def pitlane_dirs(tmp_path, settings, monkeypatch) -> dict[str, Path]:
    dirs = {
        "MEDIA_ROOT": tmp_path / "media", "UPLOAD_ROOT": tmp_path / "uploads",
        "PITLANE_DATASET_ROOT": tmp_path / "datasets", "WORK_ROOT": tmp_path / "work",
    }
    env = {"MEDIA_ROOT": "MEDIA_ROOT", "UPLOAD_ROOT": "PITLANE_UPLOAD_ROOT",
           "PITLANE_DATASET_ROOT": "PITLANE_DATASET_ROOT", "WORK_ROOT": "PITLANE_WORK_ROOT"}
    for name, path in dirs.items():
        path.mkdir()
        setattr(settings, name, path)
        monkeypatch.setenv(env[name], str(path))
    return dirs
