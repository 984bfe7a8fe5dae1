"""Fixtures for training.bc tests: few TF threads, datasets cut from the real Udacity sample
(`real_sample`, tests/conftest.py), tiny configurations.

Thread settings go into the environment before TensorFlow is imported (the machine has 2 shared
cores), and only for this directory.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "2")
os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import shutil
from pathlib import Path

import pytest


def tiny_config(**overrides):
    """A configuration that trains in a second or two on the 120-frame sample."""
    from training.bc.config import TrainConfig

    base = dict(batch_size=16, epochs=2, patience=0, val_block_frames=20, val_gap_frames=2,
                saliency_samples=3, saliency_gif_frames=6, shift_px=10)
    base.update(overrides)
    return TrainConfig(**base)


def make_dataset(target: Path, source: Path, rows: int | None = None, header: bool = False,
                 relative: bool = False) -> Path:
    """A dataset directory of hard links to real sample images, in either log layout."""
    (target / "IMG").mkdir(parents=True, exist_ok=True)
    lines = (source / "driving_log.csv").read_text().splitlines()[:rows]
    out = ["center,left,right,steering,throttle,brake,speed"] if header else []
    for line in lines:
        cells = [c.strip() for c in line.split(",")]
        for k in range(3):
            name = cells[k].replace("\\", "/").rsplit("/", 1)[-1]
            dst = target / "IMG" / name
            if not dst.exists():
                try:
                    os.link(source / "IMG" / name, dst)
                except OSError:
                    shutil.copy(source / "IMG" / name, dst)
            cells[k] = f"IMG/{name}" if relative else cells[k]
        out.append(", ".join(cells) if not header else ",".join(cells))
    (target / "driving_log.csv").write_text("\n".join(out) + "\n")
    return target


@pytest.fixture(scope="session")
def trained_run(real_sample, tmp_path_factory):
    """One tiny end-to-end PilotNet run on the real sample, shared by the artifact tests."""
    from training.bc.train import train

    out = tmp_path_factory.mktemp("bc_run") / "run"
    events: list[dict] = []
    cfg = tiny_config(side_cameras=True)
    result = train([real_sample], cfg, out, on_progress=events.append)
    return result, cfg, events
