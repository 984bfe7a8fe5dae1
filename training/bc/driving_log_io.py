"""Frames of a recording whose images exist on this machine, from `simulator.driving_log`.

Parsing and per-row validation (both log layouts, `", "` separators, scientific notation) are
the simulator package's reader; here we only decide which rows training can use: a row needs
its centre image in `IMG/`; side images are optional (a missing one is left out, not fatal).
Rejected rows are reported, never silently trained on.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from simulator.driving_log import LOG_NAME, LogRow, read_driving_log


def read_frames(dataset_dir: Path) -> tuple[list[LogRow], list[str]]:
    """(frames, skipped): the log's rows with image paths made local ("" for a missing side
    image), and one "<file> line N: reason" per rejected row."""
    if not (dataset_dir / LOG_NAME).is_file():
        raise FileNotFoundError(f"{dataset_dir}: no {LOG_NAME}")
    log = read_driving_log(dataset_dir / LOG_NAME, strict=False)
    skipped = [str(error) for error in log.errors]
    names = {p.name for p in log.img_dir.iterdir()} if log.img_dir.is_dir() else set()

    def local(row, camera: str) -> str:
        name = row.image_name(camera)
        return str(log.img_dir / name) if name in names else ""

    frames: list[LogRow] = []
    for row in log.rows:
        center = local(row, "center")
        if not center:
            skipped.append(f"{LOG_NAME} line {row.line}: centre image "
                           f"{row.image_name('center')!r} not in IMG/")
            continue
        frames.append(replace(row, center=center, left=local(row, "left"), right=local(row, "right")))
    return frames, skipped
