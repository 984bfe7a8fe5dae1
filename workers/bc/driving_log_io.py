"""Read a simulator driving_log.csv into frames whose image paths exist on this machine.

Both layouts the simulator produces are accepted: no header with absolute paths of the recording
machine (often Windows, `", "` separators, scientific notation), and Udacity's sample with a header
and relative `IMG/...` paths. Paths are resolved by file name inside `IMG/` beside the CSV.
Rows that cannot be used are skipped and reported, never silently trained on.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path, PureWindowsPath

LOG_NAME = "driving_log.csv"
COLUMNS = ("center", "left", "right", "steering", "throttle", "brake", "speed")


@dataclass(frozen=True)
class LogFrame:
    row: int
    center: str
    left: str
    right: str
    steering: float
    throttle: float
    brake: float
    speed: float


def _resolve(raw: str, image_dir: Path, names: set[str]) -> str:
    """Local path of an image named in the log, or "" when it is not under IMG/."""
    raw = raw.strip()
    if not raw:
        return ""
    name = PureWindowsPath(raw).name if "\\" in raw else Path(raw).name
    return str(image_dir / name) if name in names else ""


def _is_header(cells: list[str]) -> bool:
    return bool(cells) and cells[0].strip().lower() == "center"


def read_frames(dataset_dir: Path) -> tuple[list[LogFrame], list[str]]:
    """(frames, skipped) where skipped holds one "row N: reason" line per rejected row."""
    log_path = dataset_dir / LOG_NAME
    if not log_path.is_file():
        raise FileNotFoundError(f"{dataset_dir}: no {LOG_NAME}")
    image_dir = dataset_dir / "IMG"
    names = {p.name for p in image_dir.iterdir()} if image_dir.is_dir() else set()
    frames: list[LogFrame] = []
    skipped: list[str] = []
    with log_path.open(newline="", encoding="utf-8-sig") as handle:
        for row_number, cells in enumerate(csv.reader(handle, skipinitialspace=True)):
            if not cells or all(not c.strip() for c in cells):
                continue
            if row_number == 0 and _is_header(cells):
                continue
            if len(cells) < len(COLUMNS):
                skipped.append(f"row {row_number}: {len(cells)} fields, expected {len(COLUMNS)}")
                continue
            try:
                steering, throttle, brake, speed = (float(c) for c in cells[3:7])
            except ValueError:
                skipped.append(f"row {row_number}: non-numeric steering/throttle/brake/speed")
                continue
            if not all(math.isfinite(v) for v in (steering, throttle, brake, speed)):
                skipped.append(f"row {row_number}: non-finite value")
                continue
            if not -1.0 <= steering <= 1.0:
                skipped.append(f"row {row_number}: steering {steering} outside -1..1")
                continue
            center = _resolve(cells[0], image_dir, names)
            if not center:
                skipped.append(f"row {row_number}: centre image {cells[0].strip()!r} not in IMG/")
                continue
            frames.append(LogFrame(row_number, center, _resolve(cells[1], image_dir, names),
                                   _resolve(cells[2], image_dir, names),
                                   steering, throttle, brake, speed))
    return frames, skipped
