"""Helpers for training.bc tests: datasets cut from the real Udacity sample (`real_sample`,
tests/conftest.py) and tiny configurations."""

from __future__ import annotations

import os
import shutil
from pathlib import Path


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
