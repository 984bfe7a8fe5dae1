"""Validate every row of an extracted driving log and write the clean log training reads.

Parsing (both layouts, `", "` separators, scientific notation, header or not) is the shared
reader in `simulator.driving_log`; here each row's images (the centre one, and the left and right
ones when the row names them: a one-camera recording leaves them empty) are also checked: present
in IMG/, decodable JPEGs, all of one size. Bad rows are skipped and every one is reported with its
line number and the reason; nothing is dropped silently. No Django here, so it tests in isolation.

Images are checked in two passes so that a hostile frame costs nothing: first every image's
header (format and size, no pixels decoded); the log's frame size is the most common one among
those headers, and a frame above MAX_FRAME_PIXELS or of another size is skipped from its header
alone. Only frames of the log's size are then decoded, to catch truncated or damaged files.
"""

from __future__ import annotations

import math
import os
import warnings
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from simulator.driving_log import (
    CAMERAS,
    COLUMNS,
    LOG_NAME,
    TOO_LONG,
    LogRow,
    format_number,
    image_time,
    parse_driving_log,
)
from simulator.stopping import ShouldStop, raise_if_stopped

from .archive import SOURCE_LOG_NAME

#: How many problems the report lists one by one (all are counted).
MAX_LISTED_PROBLEMS = 500
#: Largest frame, in pixels, that is ever decoded (camera frames are 320x160; this is 1920x1080).
MAX_FRAME_PIXELS = 1920 * 1080

KIND_LABELS = {
    "wrong_columns": "wrong number of columns",
    "non_numeric": "value is not a number",
    "not_finite": "NaN or infinite value",
    "invalid_value": "value out of range or empty",
    "missing_image": "image missing from IMG/",
    "corrupt_image": "image is not a readable JPEG",
    "image_too_large": "image too large to be a camera frame",
    "size_mismatch": "image size differs from the other frames",
    "bad_line": "line is not a row (too long, or not CSV)",
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
    if reason == TOO_LONG or reason.startswith("not a CSV row"):
        return "bad_line"
    if "columns" in reason:
        return "wrong_columns"
    if "not a number" in reason:
        return "non_numeric"
    if "not finite" in reason:
        return "not_finite"
    return "invalid_value"


Header = tuple[str | None, tuple[int, int] | None]


def _read_header(path: Path) -> Header:
    """(problem kind or None, size) from the file's header alone: no pixel is decoded."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                if img.format != "JPEG":
                    return "corrupt_image", None
                size = img.size
    except FileNotFoundError:
        return "missing_image", None
    except Image.DecompressionBombError:
        return "image_too_large", None
    except Exception:  # noqa: BLE001 - Pillow raises many kinds for damaged files
        return "corrupt_image", None
    if size[0] * size[1] > MAX_FRAME_PIXELS:
        return "image_too_large", size
    return None, size


def _decodes(path: Path) -> bool:
    """Whether a JPEG (whose header was checked) decodes fully: verify() alone misses truncation."""
    try:
        with Image.open(path) as img:
            img.load()
        return True
    except Exception:  # noqa: BLE001 - Pillow raises many kinds for damaged files
        return False


def _image_problem(camera: str, name: str, kind: str, size: tuple[int, int] | None) -> tuple[str, str]:
    if kind == "missing_image":
        return kind, f"{camera} image {name!r} is not in IMG/"
    if kind == "image_too_large":
        what = f"{size[0]}x{size[1]} pixels" if size else "too many pixels"
        return kind, (f"{camera} image {name!r} has {what}; a frame may have at most "
                      f"{MAX_FRAME_PIXELS:,} (it was not decoded)")
    return kind, f"{camera} image {name!r} is not a readable JPEG"


def dominant_size(sizes: Iterable[tuple[int, int]]) -> tuple[int, int] | None:
    """The most common frame size (the first one seen among equals), or None when there is none."""
    common = Counter(sizes).most_common(1)
    return common[0][0] if common else None


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
    # Pass 1: every image's header (format, size), then the log's frame size.
    headers: dict[str, Header] = {}
    for k, row in enumerate(log.rows):
        if k % 100 == 0:
            raise_if_stopped(should_stop, "validation stopped")
        for camera in row.cameras:
            name = row.image_name(camera)
            if name not in headers:
                headers[name] = _read_header(img_dir / name) if name in present else ("missing_image", None)
    result.image_size = dominant_size(size for kind, size in headers.values() if kind is None and size)
    # Pass 2: skip rows by their headers; decode only frames of the log's size.
    decoded: dict[str, bool] = {}
    for k, row in enumerate(log.rows):
        if k % 100 == 0:
            raise_if_stopped(should_stop, "validation stopped")
            if on_progress is not None:
                on_progress(k, len(log.rows))
        problem = None
        for camera in row.cameras:
            name = row.image_name(camera)
            kind, size = headers[name]
            if kind:
                problem = _image_problem(camera, name, kind, size)
                break
            if size != result.image_size:
                assert size is not None and result.image_size is not None
                problem = ("size_mismatch", f"{camera} image {name!r} is {size[0]}x{size[1]}, the log's "
                                            f"frames are {result.image_size[0]}x{result.image_size[1]}")
                break
            if name not in decoded:
                decoded[name] = _decodes(img_dir / name)
            if not decoded[name]:
                problem = _image_problem(camera, name, "corrupt_image", size)
                break
        if problem:
            result.add(row.line, *problem)
        else:
            result.rows.append(row)
    return result


def write_clean_log(dest: Path, rows: list[LogRow]) -> Path:
    """driving_log.csv with a header, relative IMG/ paths and only the good rows (a side camera
    the row has no image of stays an empty column)."""
    path = dest / LOG_NAME
    with open(path, "w", newline="", encoding="utf-8") as out:
        out.write(",".join(COLUMNS) + "\n")
        for row in rows:
            images = [f"IMG/{row.image_name(c)}" if c in row.cameras else "" for c in CAMERAS]
            numbers = [format_number(v) for v in (row.steering, row.throttle, row.brake, row.speed)]
            out.write(",".join(images + numbers) + "\n")
    return path


#: A dataset of which more than this share of rows was skipped says so, in the list and on its page:
#: it is usable, but what remains may not be the recording the team thinks it is.
HIGH_SKIP_RATIO = 0.1


def skip_warning(skipped: int, total: int) -> str:
    """A sentence when more than HIGH_SKIP_RATIO of the rows were skipped ("" otherwise)."""
    if total <= 0 or skipped / total <= HIGH_SKIP_RATIO:
        return ""
    return (f"{skipped:,} of {total:,} rows ({100 * skipped / total:.0f} %) were skipped: only "
            f"{total - skipped:,} remain. The ingestion report below says why each one was.")


#: A pause longer than this between two frames, or a step back in time, starts a new recording
#: session: the simulator writes frames 0.06-0.12 s apart while it records, and a log that
#: several recordings were concatenated into jumps by minutes, days or years between them.
SESSION_GAP_S = 2.0
#: The most sessions the statistics list one by one (all are counted).
MAX_LISTED_SESSIONS = 50
MEASURED = "image time stamps"
NO_TIME_STAMPS = "no time stamps"


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def _rate(intervals: list[float]) -> float | None:
    """Frames per second from the median interval between frames (a pause or a burst of the
    recorder moves a median little, unlike frames / span)."""
    positive = [dt for dt in intervals if dt > 0]
    return round(1.0 / _median(positive), 2) if positive else None


def timing(rows: list[LogRow]) -> dict:
    """Duration, frame rate and recording sessions from the time stamps in the simulator's image
    names (`center_2020_05_09_22_16_40_189.jpg`).

    A log may hold several recordings one after another, in any order of time: a new session
    starts wherever the next frame is more than SESSION_GAP_S later than the one before, or
    earlier. Each session reports its own span and median rate; the log's duration is the sum
    of the spans and its rate the median interval within sessions. Frames whose image names carry
    no time stamp are counted; with fewer than two time stamps nothing is measured, and the
    statistics say so (`duration_s` and `rate_hz` None) instead of assuming a nominal rate."""
    times = []
    for row in rows:
        try:
            times.append(image_time(row.center))
        except ValueError:
            times.append(None)
    untimed = sum(1 for t in times if t is None)
    info: dict = {"frames_without_time_stamp": untimed, "session_gap_s": SESSION_GAP_S}
    stamped = [t for t in times if t is not None]
    if len(stamped) < 2:
        info.update(duration_s=None, rate_hz=None, duration_from=NO_TIME_STAMPS, sessions=[], session_count=0)
        return info
    sessions: list[list] = [[stamped[0]]]
    intervals: list[list[float]] = [[]]
    for before, after in zip(stamped, stamped[1:], strict=False):
        dt = (after - before).total_seconds()
        if dt < 0 or dt > SESSION_GAP_S:
            sessions.append([after])
            intervals.append([])
        else:
            sessions[-1].append(after)
            intervals[-1].append(dt)
    listed = []
    for frames, gaps in zip(sessions, intervals, strict=True):
        listed.append({
            "start": frames[0].isoformat(sep=" ", timespec="milliseconds"),
            "end": frames[-1].isoformat(sep=" ", timespec="milliseconds"),
            "frames": len(frames),
            "span_s": round((frames[-1] - frames[0]).total_seconds(), 2),
            "rate_hz": _rate(gaps),
        })
    all_gaps = [dt for gaps in intervals for dt in gaps]
    info.update(
        duration_s=round(sum(s["span_s"] for s in listed), 2),
        rate_hz=_rate(all_gaps),
        duration_from=MEASURED,
        session_count=len(listed),
        sessions=listed[:MAX_LISTED_SESSIONS],
    )
    return info


CENTRE_ONLY = "centre camera only"
ALL_CAMERAS = "centre, left, right"


def camera_facts(rows: list[LogRow]) -> dict:
    """Which cameras the frames have: `cameras` (how many the log records), `camera_layout` (a
    phrase for the page: "centre, left, right", "centre camera only", or how many of each when the
    log mixes both) and `frames_with_side_cameras` (frames that have both side images)."""
    with_sides = sum(1 for r in rows if len(r.cameras) == len(CAMERAS))
    with_any_side = sum(1 for r in rows if len(r.cameras) > 1)
    if rows and with_sides == len(rows):
        layout, cameras = ALL_CAMERAS, len(CAMERAS)
    elif not with_any_side:
        layout, cameras = CENTRE_ONLY, 1
    else:
        layout, cameras = (f"centre on every frame; side images on {with_sides:,} of {len(rows):,} frames",
                           len(CAMERAS))
    return {"cameras": cameras, "camera_layout": layout, "frames_with_side_cameras": with_sides}


def statistics(rows: list[LogRow], image_size: tuple[int, int] | None) -> dict:
    """Frames, duration, rate and recording sessions (`timing`), cameras (`camera_facts`), speed
    and steering summaries."""
    n = len(rows)
    stats: dict = {"frames": n, **camera_facts(rows), "image_size": list(image_size) if image_size else None}
    if not n:
        return stats
    stats.update(timing(rows))
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
