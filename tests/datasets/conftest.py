"""Every dataset/model test gets its own media, upload, dataset and work folders, also seen by
worker and Daphne subprocesses (through the environment)."""

from __future__ import annotations

import os

os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "2")
os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

REAL_SAMPLE = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "udacity" / "real_sample"


@pytest.fixture(autouse=True)
def pitlane_dirs(tmp_path, settings, monkeypatch):
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


@pytest.fixture(scope="session")
def real_sample() -> Path:
    if not (REAL_SAMPLE / "driving_log.csv").is_file():
        pytest.fail(f"real Udacity sample not found at {REAL_SAMPLE}")
    return REAL_SAMPLE.resolve()
