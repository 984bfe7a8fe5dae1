"""Udacity simulator `driving_log.csv`: the writer we record with and the reader everyone reuses.

Pure Python on purpose (no NumPy, no Pillow): behavioural-cloning training and the web app's
dataset ingest parse the same logs. The reader accepts both layouts seen in the wild:

- the simulator's own: no header, absolute paths of the recording machine (Windows or POSIX),
  often `", "` separators, numbers possibly in scientific notation (`7.843922E-05`);
- Udacity's sample data: a header row and relative paths (`IMG/center_...jpg`);
- one-camera recordings (drive_agent's `--record`): the left and right columns empty. Only the
  centre image is required; a row without side images is a centre-only frame.

Images are always resolved by file name inside the `IMG/` folder beside the CSV, because the
recorded absolute paths belong to another machine.
"""

from __future__ import annotations

import csv
import io
import math
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TextIO

COLUMNS = ("center", "left", "right", "steering", "throttle", "brake", "speed")
CAMERAS = ("center", "left", "right")
NUMERIC_COLUMNS = ("steering", "throttle", "brake", "speed")
IMG_DIR = "IMG"
LOG_NAME = "driving_log.csv"
NOMINAL_HZ = 15.0
_IMAGE_NAME = re.compile(r"^(center|left|right)_(\d{4})_(\d{2})_(\d{2})_(\d{2})_(\d{2})_(\d{2})_(\d{3})\.jpg$")


class DrivingLogError(ValueError):
    """A row (or the file) that does not follow the driving-log format; says which line and why."""

    def __init__(self, line: int, message: str, source: str = LOG_NAME) -> None:
        super().__init__(f"{source} line {line}: {message}")
        self.line = line
        self.reason = message


@dataclass(frozen=True)
class LogRow:
    """One frame of a driving log: image paths as recorded, plus the controls and speed (mph)."""

    center: str
    left: str
    right: str
    steering: float
    throttle: float
    brake: float
    speed: float
    line: int = 0

    def image_name(self, camera: str) -> str:
        """The file name of a camera's image, whatever the recording machine's path style
        ("" for a side camera the row has no image of)."""
        return image_file_name(getattr(self, camera))

    @property
    def cameras(self) -> tuple[str, ...]:
        """The cameras this row has an image of: always "center", and "left"/"right" when recorded."""
        return tuple(c for c in CAMERAS if getattr(self, c).strip())


@dataclass
class DrivingLog:
    """A parsed log: `rows` in file order, `errors` (only when read with `strict=False`)."""

    path: Path
    rows: list[LogRow]
    has_header: bool
    errors: list[DrivingLogError] = field(default_factory=list)

    @property
    def img_dir(self) -> Path:
        return self.path.parent / IMG_DIR

    def image_path(self, row: LogRow, camera: str = "center") -> Path:
        """Where a row's image lies on this machine: `IMG/<file name>` beside the CSV."""
        return self.img_dir / row.image_name(camera)

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[LogRow]:
        return iter(self.rows)


def to_udacity_steering(left_positive: float) -> float:
    """Udacity's steering sign (Unity: positive = right) from ours (positive = left)."""
    return -left_positive


def from_udacity_steering(udacity: float) -> float:
    """Our steering sign (positive = left) from Udacity's (positive = right)."""
    return -udacity


def image_file_name(recorded_path: str) -> str:
    """Base name of a recorded path, splitting on both `\\` and `/` (Windows logs on Linux)."""
    return re.split(r"[\\/]", recorded_path.strip())[-1]


def image_name(camera: str, when: datetime) -> str:
    """`{camera}_{yyyy_MM_dd_HH_mm_ss_fff}.jpg`, the simulator's image naming."""
    if camera not in CAMERAS:
        raise ValueError(f"camera must be one of {CAMERAS}, not {camera!r}")
    return f"{camera}_{when:%Y_%m_%d_%H_%M_%S}_{when.microsecond // 1000:03d}.jpg"


def image_time(name: str) -> datetime:
    """The timestamp encoded in a simulator image name (inverse of `image_name`)."""
    match = _IMAGE_NAME.match(image_file_name(name))
    if not match:
        raise ValueError(f"not a simulator image name: {name!r}")
    y, mo, d, h, mi, s, ms = (int(g) for g in match.groups()[1:])
    return datetime(y, mo, d, h, mi, s, ms * 1000)


def format_number(value: float) -> str:
    """A number as the simulator (C# `float.ToString()`) writes it: 7 significant digits,
    integers without a point, scientific notation below 1e-4 (`7.843922E-05`), `.` decimals."""
    if not math.isfinite(value):
        raise ValueError(f"driving logs hold finite numbers only, not {value!r}")
    if value == 0:
        return "0"
    return f"{value:.7G}"


def format_row(center: str, left: str, right: str, steering: float, throttle: float, brake: float,
               speed: float, separator: str = ", ") -> str:
    """One CSV line (without newline) in the simulator's column order."""
    numbers = (format_number(v) for v in (steering, throttle, brake, speed))
    return separator.join([center, left, right, *numbers])


def _parse_number(text: str, column: str, line: int, source: str) -> float:
    cleaned = text.strip()
    try:
        value = float(cleaned)
    except ValueError:
        raise DrivingLogError(line, f"column {column!r} is not a number: {cleaned!r}", source) from None
    if not math.isfinite(value):
        raise DrivingLogError(line, f"column {column!r} is not finite: {cleaned!r}", source)
    return value


def parse_row(fields: list[str], line: int, source: str = LOG_NAME,
              columns: tuple[str, ...] = COLUMNS) -> LogRow:
    """Validate and convert one CSV record; raises `DrivingLogError` naming the line and problem."""
    if len(fields) != len(columns):
        raise DrivingLogError(
            line, f"expected {len(columns)} columns ({','.join(columns)}), got {len(fields)}", source)
    values = dict(zip(columns, (f.strip() for f in fields), strict=True))
    if not values["center"]:
        raise DrivingLogError(line, "column 'center' is empty", source)
    # Side images are optional: a one-camera recording (drive_agent --record, a real car) leaves
    # left and right empty, and its rows are centre-only frames.
    numbers = {c: _parse_number(values[c], c, line, source) for c in NUMERIC_COLUMNS}
    if not -1.0 - 1e-6 <= numbers["steering"] <= 1.0 + 1e-6:
        raise DrivingLogError(line, f"steering {numbers['steering']} is outside -1..1", source)
    if numbers["speed"] < 0:
        raise DrivingLogError(line, f"speed {numbers['speed']} is negative", source)
    return LogRow(values["center"], values["left"], values["right"], numbers["steering"],
                  numbers["throttle"], numbers["brake"], numbers["speed"], line)


def _header_columns(fields: list[str]) -> tuple[str, ...] | None:
    names = tuple(f.strip().lower() for f in fields)
    if set(names) == set(COLUMNS) and len(names) == len(COLUMNS):
        return names
    return None


#: Longest line, newline included, that a row may take: three image paths and four numbers fit in
#: a few hundred characters. A longer line is a bad row; it is read in pieces of this size and
#: dropped, so one huge line (a 50 MB "row") costs no memory and loses no other row.
MAX_LINE_CHARS = 8192
TOO_LONG = f"the line is longer than {MAX_LINE_CHARS:,} characters, too long for a row"


def _lines(stream: TextIO | Iterable[str]) -> Iterator[tuple[int, str | None]]:
    """(line number, text) of every line; text is None for a line longer than MAX_LINE_CHARS."""
    readline = getattr(stream, "readline", None)
    if readline is None:  # a list of lines, a generator
        for number, text in enumerate(stream, start=1):
            yield number, (text if len(text) <= MAX_LINE_CHARS else None)
        return
    number = 0
    while text := readline(MAX_LINE_CHARS):
        number += 1
        if len(text) < MAX_LINE_CHARS or text.endswith(("\n", "\r")):
            yield number, text
            continue
        while (rest := readline(MAX_LINE_CHARS)) and not rest.endswith(("\n", "\r")):
            pass  # skip to the end of the over-long line without keeping it
        yield number, None


def parse_driving_log(stream: TextIO | Iterable[str], path: str | os.PathLike = LOG_NAME,
                      strict: bool = True) -> DrivingLog:
    """Parse driving-log text. `strict`: raise on the first bad row; otherwise collect errors
    in `DrivingLog.errors` and keep the good rows.

    Each line is one row (a quoted field cannot run on into the next line), so a line that is
    not a row (too long, or not CSV) is one bad row with its line number."""
    source = Path(path).name
    rows: list[LogRow] = []
    errors: list[DrivingLogError] = []
    columns: tuple[str, ...] = COLUMNS
    has_header = False
    first = True
    for line, text in _lines(stream):
        try:
            if text is None:
                raise DrivingLogError(line, TOO_LONG, source)
            try:
                fields = next(csv.reader((text,), skipinitialspace=True), [])
            except csv.Error as exc:
                raise DrivingLogError(line, f"not a CSV row ({exc})", source) from None
        except DrivingLogError as error:
            if strict:
                raise
            errors.append(error)
            continue
        if not fields or all(not f.strip() for f in fields):
            continue
        if first:
            first = False
            fields[0] = fields[0].lstrip("\ufeff")
            header = _header_columns(fields)
            if header is not None:
                columns, has_header = header, True
                continue
        try:
            rows.append(parse_row(fields, line, source, columns))
        except DrivingLogError as error:
            if strict:
                raise
            errors.append(error)
    return DrivingLog(Path(path), rows, has_header, errors)


def read_driving_log(path: str | os.PathLike, strict: bool = True, check_images: bool = False) -> DrivingLog:
    """Read a `driving_log.csv` (or the folder holding it). `check_images`: every image must
    exist in `IMG/` beside the CSV (a missing one is a row error)."""
    path = Path(path)
    if path.is_dir():
        path = path / LOG_NAME
    with open(path, newline="", encoding="utf-8-sig") as handle:
        log = parse_driving_log(handle, path, strict)
    if check_images:
        good = []
        for row in log.rows:
            missing = [c for c in row.cameras if not log.image_path(row, c).is_file()]
            if missing:
                error = DrivingLogError(row.line, f"missing image(s) {', '.join(row.image_name(c) for c in missing)}"
                                        f" in {log.img_dir}", path.name)
                if strict:
                    raise error
                log.errors.append(error)
            else:
                good.append(row)
        log.rows = good
    return log


class DrivingLogWriter:
    """Writes a log exactly as the simulator records one: no header, absolute image paths,
    `", "` separators, images in `IMG/` named by a 15 Hz clock starting at `start`."""

    def __init__(self, out_dir: str | os.PathLike, start: datetime | None = None, hz: float = NOMINAL_HZ,
                 separator: str = ", ") -> None:
        self.out_dir = Path(out_dir).resolve()
        self.img_dir = self.out_dir / IMG_DIR
        self.img_dir.mkdir(parents=True, exist_ok=True)
        start = start or datetime.now()
        self.start = start.replace(microsecond=start.microsecond // 1000 * 1000)
        self.period = timedelta(seconds=1.0 / hz)
        self.separator = separator
        self.rows_written = 0
        self._ticks = 0
        self._handle: TextIO = open(self.out_dir / LOG_NAME, "w", newline="", encoding="utf-8")  # noqa: SIM115 (closed by close())

    @property
    def path(self) -> Path:
        return self.out_dir / LOG_NAME

    def tick(self) -> datetime:
        """Advance the log clock one frame (also for frames that are not recorded)."""
        when = self.start + self._ticks * self.period
        self._ticks += 1
        return when

    def image_paths(self, when: datetime) -> dict[str, Path]:
        """Absolute paths where the three images of the frame at `when` go."""
        return {camera: self.img_dir / image_name(camera, when) for camera in CAMERAS}

    def write_row(self, paths: dict[str, Path], steering: float, throttle: float, brake: float,
                  speed_mph: float) -> None:
        line = format_row(str(paths["center"]), str(paths["left"]), str(paths["right"]),
                          steering, throttle, brake, speed_mph, self.separator)
        self._handle.write(line + "\n")
        self.rows_written += 1

    def close(self) -> None:
        self._handle.close()

    def __enter__(self) -> DrivingLogWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def write_driving_log(rows: Iterable[LogRow], out: TextIO | None = None, separator: str = ", ",
                      header: bool = False) -> str:
    """Serialise rows (paths as they are) to CSV text; also written to `out` when given."""
    buffer = io.StringIO()
    if header:
        buffer.write(",".join(COLUMNS) + "\n")
    for row in rows:
        buffer.write(format_row(row.center, row.left, row.right, row.steering, row.throttle, row.brake,
                                row.speed, separator) + "\n")
    text = buffer.getvalue()
    if out is not None:
        out.write(text)
    return text
