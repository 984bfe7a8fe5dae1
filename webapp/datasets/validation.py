"""Validate every row of an extracted driving log and write the clean log training reads.

Parsing (both layouts, `", "` separators, scientific notation, header or not) is the shared
reader in `simulator.driving_log`; here each row's three images are also checked: present in
IMG/, decodable JPEGs, all of one size. Bad rows are skipped and every one is reported with its
line number and the reason; nothing is dropped silently. No Django here, so it tests in isolation.
"""

from __future__ import annotations

import math
import os
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from simulator.driving_log import CAMERAS, COLUMNS, LOG_NAME, LogRow, format_number, image_time, parse_driving_log
from simulator.stopping import ShouldStop, raise_if_stopped

from .archive import SOURCE_LOG_NAME

#: How many problems the report lists one by one (all are counted).
MAX_LISTED_PROBLEMS = 500
EXPECTED_SIZE = (320, 160)

KIND_LABELS = {
    "wrong_columns": "wrong number of columns",
    "non_numeric": "value is not a number",
    "not_finite": "NaN or infinite value",
    "invalid_value": "value out of range or empty",
    "missing_image": "image missing from IMG/",
    "corrupt_image": "image is not a readable JPEG",
    "size_mismatch": "image size differs from the other frames",
}


@dataclass
class Validation:
    rows: list[LogRow]
    rows_total: int
    counts: Counter = field(default_factory=Counter)
    problems: list[dict] = field(default_factory=list)
    image_size: tuple[int, int] | None = None
    has_header: bool = False

    def add(self, line: int, kind: str, message: str) -> None:
        self.counts[kind] += 1
        if len(self.problems) < MAX_LISTED_PROBLEMS:
            self.problems.append({"row": line, "kind": kind, "message": message})

    @property
    def skipped(self) -> int:
        return self.rows_total - len(self.rows)

    def report(self, notes: list[str]) -> dict:
        return {
            "counts": {k: self.counts[k] for k in KIND_LABELS if self.counts[k]},
            "labels": KIND_LABELS,
            "problems": sorted(self.problems, key=lambda p: p["row"]),
            "listed": len(self.problems),
            "total_problems": sum(self.counts.values()),
            "notes": notes,
        }


def _kind_of_parse_error(reason: str) -> str:
    if "columns" in reason:
        return "wrong_columns"
    if "not a number" in reason:
        return "non_numeric"
    if "not finite" in reason:
        return "not_finite"
    return "invalid_value"


def _check_image(path: Path) -> tuple[str | None, tuple[int, int] | None]:
    """(problem kind or None, size) after a full decode (verify() alone misses truncation)."""
    try:
        with Image.open(path) as img:
            if img.format != "JPEG":
                return "corrupt_image", None
            img.load()
            return None, img.size
    except FileNotFoundError:
        return "missing_image", None
    except Exception:  # noqa: BLE001 - Pillow raises many kinds for damaged files
        return "corrupt_image", None


def validate(dest: Path, on_progress: Callable[[int, int], None] | None = None,
             should_stop: ShouldStop | None = None) -> Validation:
    """Check every row of `dest/driving_log.source.csv` against `dest/IMG/`.

    should_stop() is polled every 100 rows; True raises `simulator.stopping.Stopped`."""
    with open(dest / SOURCE_LOG_NAME, newline="", encoding="utf-8-sig", errors="replace") as handle:
        log = parse_driving_log(handle, dest / SOURCE_LOG_NAME, strict=False)
    total = len(log.rows) + len(log.errors)
    result = Validation(rows=[], rows_total=total, has_header=log.has_header)
    for error in log.errors:
        result.add(error.line, _kind_of_parse_error(error.reason), error.reason)
    img_dir = dest / "IMG"
    present = set(os.listdir(img_dir)) if img_dir.is_dir() else set()
    checked: dict[str, tuple[str | None, tuple[int, int] | None]] = {}
    for k, row in enumerate(log.rows):
        if k % 100 == 0:
            raise_if_stopped(should_stop, "validation stopped")
            if on_progress is not None:
                on_progress(k, len(log.rows))
        problem = None
        for camera in CAMERAS:
            name = row.image_name(camera)
            if name not in present:
                problem = ("missing_image", f"{camera} image {name!r} is not in IMG/")
                break
            if name not in checked:
                checked[name] = _check_image(img_dir / name)
            kind, size = checked[name]
            if kind:
                problem = (kind, f"{camera} image {name!r} is not a readable JPEG")
                break
            if result.image_size is None:
                result.image_size = size
            if size != result.image_size:
                problem = ("size_mismatch", f"{camera} image {name!r} is {size[0]}x{size[1]}, the log's "
                                            f"frames are {result.image_size[0]}x{result.image_size[1]}")
                break
        if problem:
            result.add(row.line, *problem)
        else:
            result.rows.append(row)
    return result


def write_clean_log(dest: Path, rows: list[LogRow]) -> Path:
    """driving_log.csv with a header, relative IMG/ paths and only the good rows."""
    path = dest / LOG_NAME
    with open(path, "w", newline="", encoding="utf-8") as out:
        out.write(",".join(COLUMNS) + "\n")
        for row in rows:
            images = [f"IMG/{row.image_name(c)}" for c in CAMERAS]
            numbers = [format_number(v) for v in (row.steering, row.throttle, row.brake, row.speed)]
            out.write(",".join(images + numbers) + "\n")
    return path


def statistics(rows: list[LogRow], image_size: tuple[int, int] | None) -> dict:
    """Frames, duration and rate (from the image time stamps when named by the simulator),
    cameras, speed and steering summaries."""
    n = len(rows)
    stats: dict = {"frames": n, "cameras": len(CAMERAS), "image_size": list(image_size) if image_size else None}
    if not n:
        return stats
    duration = None
    try:
        first, last = image_time(rows[0].center), image_time(rows[-1].center)
        duration = (last - first).total_seconds()
    except ValueError:
        pass
    timed = duration is not None and duration > 0
    if not timed:
        duration = n / 15.0
    stats["duration_s"] = round(duration, 2)
    stats["duration_from"] = "image time stamps" if timed else "nominal 15 Hz"
    stats["rate_hz"] = round((n - 1) / duration, 2) if timed and n > 1 else 15.0
    speeds = [r.speed for r in rows]
    steering = [r.steering for r in rows]
    mean = sum(steering) / n
    stats.update(
        speed_mean_mph=round(sum(speeds) / n, 2),
        speed_max_mph=round(max(speeds), 2),
        throttle_mean=round(sum(r.throttle for r in rows) / n, 3),
        steering_mean=round(mean, 4),
        steering_std=round(math.sqrt(sum((s - mean) ** 2 for s in steering) / n), 4),
        steering_zero_fraction=round(sum(1 for s in steering if s == 0) / n, 3),
        steering_min=round(min(steering), 4),
        steering_max=round(max(steering), 4),
    )
    return stats
