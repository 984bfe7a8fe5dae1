"""driving_log.csv: the real simulator sample, Udacity's sample layout, writer round trips, row errors."""

import io
import re
from datetime import datetime
from pathlib import Path

import pytest

from simulator.driving_log import (
    COLUMNS,
    DrivingLogError,
    DrivingLogWriter,
    LogRow,
    format_number,
    image_file_name,
    image_name,
    image_time,
    parse_driving_log,
    read_driving_log,
    write_driving_log,
)

NAME = re.compile(r"^(center|left|right)_\d{4}_\d{2}_\d{2}_\d{2}_\d{2}_\d{2}_\d{3}\.jpg$")


def test_reads_the_real_simulator_sample_and_finds_its_images(shared_data):
    log = read_driving_log(shared_data / "udacity" / "real_sample", check_images=True)
    assert len(log) == 120 and not log.has_header and not log.errors
    first = log.rows[0]
    assert first.center.startswith("C:\\Users\\") and first.steering == pytest.approx(-0.3578973)
    assert (first.throttle, first.brake, first.speed) == (1.0, 0.0, pytest.approx(30.16043))
    for camera in ("center", "left", "right"):
        path = log.image_path(first, camera)
        assert path.is_file() and path.parent.name == "IMG" and NAME.match(path.name)
    zeros = sum(row.steering == 0 for row in log)
    assert zeros / len(log) > 0.5  # keyboard driving: many exact zeros


def test_writer_matches_the_real_sample_layout(tmp_path, shared_data):
    real_line = (shared_data / "udacity" / "real_sample" / "driving_log.csv").read_text().splitlines()[0]
    start = datetime(2020, 5, 9, 22, 16, 40, 189000)
    with DrivingLogWriter(tmp_path, start=start) as writer:
        paths = writer.image_paths(writer.tick())
        writer.write_row(paths, -0.3578973, 1.0, 0.0, 30.16043)
    ours = (tmp_path / "driving_log.csv").read_text().splitlines()[0]
    assert ours.count(", ") == real_line.count(", ") == 6
    ours_fields, real_fields = ours.split(", "), real_line.split(", ")
    assert ours_fields[3:] == real_fields[3:]  # identical number formatting
    for ours_path, real_path in zip(ours_fields[:3], real_fields[:3], strict=True):
        assert Path(ours_path).is_absolute()
        assert image_file_name(ours_path) == image_file_name(real_path)  # same naming, same timestamp


def test_writer_clock_runs_at_15_hz(tmp_path):
    with DrivingLogWriter(tmp_path, start=datetime(2021, 1, 2, 3, 4, 5)) as writer:
        times = [writer.tick() for _ in range(16)]
    assert (times[15] - times[0]).total_seconds() == pytest.approx(1.0, abs=0.002)
    assert image_name("left", times[1]) == "left_2021_01_02_03_04_05_066.jpg"
    assert image_time("left_2021_01_02_03_04_05_066.jpg") == datetime(2021, 1, 2, 3, 4, 5, 66000)


def test_round_trip_through_text():
    rows = [LogRow("/a/IMG/center_x.jpg", "/a/IMG/left_x.jpg", "/a/IMG/right_x.jpg", 7.843922e-05, 0.5, 0.0, 12.25),
            LogRow("/a/IMG/center_y.jpg", "/a/IMG/left_y.jpg", "/a/IMG/right_y.jpg", -1.0, 0.0, 1.0, 0.0)]
    text = write_driving_log(rows)
    assert "7.843922E-05" in text and not text.startswith("center")
    back = parse_driving_log(io.StringIO(text))
    assert [(r.center, r.steering, r.throttle, r.brake, r.speed) for r in back] == \
           [(r.center, r.steering, r.throttle, r.brake, r.speed) for r in rows]
    with_header = parse_driving_log(io.StringIO(write_driving_log(rows, header=True, separator=",")))
    assert with_header.has_header and len(with_header) == 2


def test_udacity_sample_layout_header_and_relative_paths(tmp_path):
    (tmp_path / "IMG").mkdir()
    text = ("center,left,right,steering,throttle,brake,speed\n"
            "IMG/center_2016_12_01_13_30_48_287.jpg, IMG/left_2016_12_01_13_30_48_287.jpg, "
            "IMG/right_2016_12_01_13_30_48_287.jpg, 0, 0, 0, 22.14829\n")
    (tmp_path / "driving_log.csv").write_text(text)
    log = read_driving_log(tmp_path / "driving_log.csv")
    assert log.has_header and len(log) == 1
    assert log.image_path(log.rows[0], "right") == tmp_path / "IMG" / "right_2016_12_01_13_30_48_287.jpg"
    with pytest.raises(DrivingLogError, match="line 2: missing image"):
        read_driving_log(tmp_path, check_images=True)


def test_windows_and_posix_paths_resolve_by_file_name():
    assert image_file_name(r"C:\Users\me\data\IMG\center_2020_05_09_22_16_18_016.jpg") == \
        "center_2020_05_09_22_16_18_016.jpg"
    assert image_file_name("/home/me/data/IMG/left_2020_05_09_22_16_18_016.jpg") == \
        "left_2020_05_09_22_16_18_016.jpg"


@pytest.mark.parametrize("line, reason", [
    ("a.jpg, b.jpg, c.jpg, 0, 1, 0", "expected 7 columns"),
    ("a.jpg, b.jpg, c.jpg, 0,5, 1, 0, 30", "expected 7 columns"),  # comma decimals
    ("a.jpg, b.jpg, c.jpg, left, 1, 0, 30", "'steering' is not a number"),
    ("a.jpg, b.jpg, c.jpg, 0, 1, 0, nan", "'speed' is not finite"),
    ("a.jpg, b.jpg, c.jpg, 1.5, 1, 0, 30", "outside -1..1"),
    (", b.jpg, c.jpg, 0, 1, 0, 30", "'center' is empty"),
])
def test_bad_rows_name_their_line_and_problem(line, reason):
    text = "a.jpg, b.jpg, c.jpg, 0, 1, 0, 30\n" + line + "\n"
    with pytest.raises(DrivingLogError, match=f"line 2: .*{re.escape(reason)}"):
        parse_driving_log(io.StringIO(text))
    lenient = parse_driving_log(io.StringIO(text), strict=False)
    assert len(lenient) == 1 and len(lenient.errors) == 1 and lenient.errors[0].line == 2


def test_number_format_is_the_simulators():
    assert [format_number(v) for v in (0.0, 1.0, -0.3578973, 30.16043, 7.843922e-05)] == \
           ["0", "1", "-0.3578973", "30.16043", "7.843922E-05"]
    with pytest.raises(ValueError):
        format_number(float("nan"))
    assert COLUMNS == ("center", "left", "right", "steering", "throttle", "brake", "speed")
