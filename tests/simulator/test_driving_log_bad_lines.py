"""A line that cannot be a row (far too long) is one bad row with its line number; the
rows around it are kept. Before, a 50 MB single-line log failed the whole read with the csv
module's "field larger than field limit (131072)"."""

from __future__ import annotations

import io

import pytest

from simulator.driving_log import MAX_LINE_CHARS, TOO_LONG, DrivingLogError, parse_driving_log, read_driving_log


def _row(k: int) -> str:
    return (f"C:\\rec\\IMG\\center_{k}.jpg, C:\\rec\\IMG\\left_{k}.jpg, C:\\rec\\IMG\\right_{k}.jpg, "
            f"0.{k}, 1, 0, 30.1")


def _log_with_a_huge_line(huge_chars: int, huge_at: int = 3, rows: int = 6, newline: str = "\n") -> str:
    """`rows` good rows with one huge line (one field, no separators) inserted as line `huge_at`."""
    lines = [_row(k) for k in range(rows)]
    lines.insert(huge_at - 1, "x" * huge_chars)
    return newline.join(lines) + newline


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_a_huge_line_is_one_bad_row_and_the_good_rows_stay(tmp_path, newline):
    path = tmp_path / "driving_log.csv"
    path.write_bytes(_log_with_a_huge_line(3_000_000, huge_at=3, newline=newline).encode())
    log = read_driving_log(path, strict=False)
    assert [row.line for row in log.rows] == [1, 2, 4, 5, 6, 7]
    assert [row.steering for row in log.rows] == [0.0, 0.1, 0.2, 0.3, 0.4, 0.5]
    assert [(e.line, e.reason) for e in log.errors] == [(3, TOO_LONG)]
    assert "driving_log.csv line 3" in str(log.errors[0])


def test_strict_reading_names_the_huge_line(tmp_path):
    path = tmp_path / "driving_log.csv"
    path.write_text(_log_with_a_huge_line(200_000, huge_at=2))
    with pytest.raises(DrivingLogError, match="line 2: the line is longer than"):
        read_driving_log(path)


def test_a_huge_last_line_without_newline_and_lines_at_the_limit():
    text = _row(0) + "\n" + "y" * (MAX_LINE_CHARS - 1) + "\n" + _row(1) + "\n" + "z" * (5 * MAX_LINE_CHARS)
    log = parse_driving_log(io.StringIO(text), strict=False)
    assert [row.line for row in log.rows] == [1, 3]
    assert [(e.line, "columns" in e.reason) for e in log.errors] == [(2, True), (4, False)]
    assert log.errors[1].reason == TOO_LONG


def test_a_header_after_nothing_but_a_huge_line_is_still_the_header():
    text = "q" * 200_000 + "\ncenter,left,right,steering,throttle,brake,speed\n" + _row(0) + "\n"
    log = parse_driving_log(io.StringIO(text), strict=False)
    assert log.has_header and [row.line for row in log.rows] == [3]
    assert [e.line for e in log.errors] == [1]


def test_a_list_of_lines_gets_the_same_treatment():
    lines = [_row(0), "x" * 200_000, _row(1)]
    log = parse_driving_log(lines, strict=False)
    assert [row.line for row in log.rows] == [1, 3] and [e.line for e in log.errors] == [2]

