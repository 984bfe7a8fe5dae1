"""`python -m simulator`: help, tracks, record, render, limit and bench."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from simulator.cli import main
from simulator.driving_log import read_driving_log

ROOT = Path(__file__).resolve().parents[2]


def test_help_lists_every_command():
    result = subprocess.run([sys.executable, "-m", "simulator", "--help"], cwd=ROOT, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0
    for command in ("record", "render", "limit", "bench", "udacity", "tracks"):
        assert command in result.stdout


def test_tracks_lists_both_scales(capsys):
    assert main(["tracks"]) == 0
    out = capsys.readouterr().out
    assert "pitlane_loop " in out and "pitlane_loop_road" in out and "udacity" in out


def test_record_writes_a_log_and_reports_progress(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["record", "--track", "pitlane_loop_road", "--frames", "12", "--out", str(out), "--keyboard",
                 "--recoveries", "--seed", "3"]) == 0
    captured = capsys.readouterr()
    assert "recorded 12/12 frames" in captured.err
    assert "wrote 12 rows" in captured.out
    assert len(read_driving_log(out, check_images=True)) == 12


def test_record_on_a_deepracer_track_is_a_clear_error(tmp_path, capsys):
    assert main(["record", "--track", "reinvent_base", "--frames", "1", "--out", str(tmp_path)]) == 2
    assert "road-scale" in capsys.readouterr().err


def test_render_writes_frames_and_topdown_plots(tmp_path, capsys):
    assert main(["render", "--track", "reinvent_base", "--out", str(tmp_path), "--frames", "2"]) == 0
    with Image.open(tmp_path / "frame_000_deepracer.png") as frame:
        assert frame.size == (160, 120) and frame.mode == "L"
    with Image.open(tmp_path / "topdown.png") as plot:
        assert plot.mode == "RGB" and min(plot.size) > 100
    assert "plotly" in (tmp_path / "topdown.html").read_text()[:5000].lower()


def test_render_road_writes_three_cameras(tmp_path):
    assert main(["render", "--track", "pitlane_figure8_road", "--out", str(tmp_path), "--frames", "1",
                 "--randomise"]) == 0
    for camera in ("center", "left", "right"):
        with Image.open(tmp_path / f"frame_000_{camera}.png") as frame:
            assert frame.size == (320, 160) and frame.mode == "RGB"


def test_limit_prints_the_minimum_lap_time(capsys):
    assert main(["limit", "--track", "reinvent_base", "--car", "deepracer"]) == 0
    out = capsys.readouterr().out
    assert "minimum lap" in out and "reinvent_base" in out


def test_unknown_track_is_a_clear_error(capsys):
    assert main(["render", "--track", "no_such_track", "--out", "/tmp/unused"]) == 2
    assert "unknown track" in capsys.readouterr().err


@pytest.mark.slow
def test_bench_ends_with_a_result_line():
    result = subprocess.run([sys.executable, "-m", "simulator", "bench", "--quick"], cwd=ROOT, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    last = result.stdout.strip().splitlines()[-1]
    assert last.startswith("RESULT ")
    figures = json.loads(last[len("RESULT "):])
    assert {"deepracer_steps_per_s", "udacity_frames_per_s", "rss_mb_per_car"} <= set(figures)
    assert figures["deepracer_steps_per_s"] > 0 and figures["udacity_frames_per_s"] > 0
    assert 0 <= figures["rss_mb_per_car"] < 1000
