"""`drive_agent --plot`: the run never said where the plot went, and with several laps every lap's
label sat on the start line on top of the others (found in the outside test of issue 13)."""

from __future__ import annotations

import json
import re
from types import SimpleNamespace

from drive_agent.cli import main
from drive_agent.evaluation import EvaluationResult
from drive_agent.targets.sim import LABEL_LINE_PX, lap_label_annotations, write_lap_plot
from simulator.rules import EpisodeStatus
from simulator.track import load_track


def lap_end(episode: int, x: float, y: float, lap: int, lap_time: float) -> SimpleNamespace:
    return SimpleNamespace(episode=episode, state=SimpleNamespace(x=x, y=y), status=EpisodeStatus.LAP_COMPLETE,
                           lap=lap, lap_time=lap_time)


def test_labels_of_laps_ending_at_the_same_place_are_stacked_a_line_apart():
    # three laps end on the start line (a few cm apart), one far away
    markers = [(0.0, 0.0, "lap 1"), (0.05, 0.0, "lap 2"), (0.0, 0.04, "lap 3"), (20.0, 0.0, "far")]
    notes = lap_label_annotations(markers, near=1.0)
    assert [(n["x"], n["y"], n["text"]) for n in notes] == markers  # each arrow on its own lap end
    stacked = sorted(n["ay"] for n in notes[:3])
    assert all(b - a >= LABEL_LINE_PX for a, b in zip(stacked, stacked[1:], strict=False))
    assert notes[3]["ay"] == notes[0]["ay"]  # a lap end elsewhere starts its own stack
    # a line freed by distance is reused: the third is near the second only
    chain = lap_label_annotations([(0.0, 0.0, "a"), (0.9, 0.0, "b"), (1.8, 0.0, "c")], near=1.0)
    assert chain[0]["ay"] == chain[2]["ay"] != chain[1]["ay"]


def test_the_written_page_carries_one_offset_annotation_per_lap(tmp_path):
    trace = [lap_end(e, 1.0 + 0.01 * e, 2.0, lap, 10.0 + e + lap) for e in range(2) for lap in (1, 2, 3)]
    html = write_lap_plot(EvaluationResult(trials=[], trace=trace), load_track("pitlane_loop"),
                          tmp_path / "laps.html").read_text()
    layout = json.loads(re.search(r"Plotly\.newPlot\(\s*\"[^\"]+\",\s*\[.*?\],\s*(\{.*?\}),\s*\{\"responsive",
                                  html, re.S).group(1))
    notes = layout["annotations"]
    assert [n["text"] for n in notes] == [f"trial {e + 1} lap {lap}: {10.0 + e + lap:.2f} s"
                                          for e in range(2) for lap in (1, 2, 3)]
    assert len({n["ay"] for n in notes}) == 6  # all six near the start line: six different lines


def test_cli_prints_where_the_plot_went(tiny_steering_model, tmp_path, capsys, monkeypatch):
    model, card = tiny_steering_model
    monkeypatch.chdir(tmp_path)
    code = main(["--model-file", str(model), "--card", str(card), "--target", "sim", "--track", "pitlane_loop",
                 "--max-time", "3", "--plot", "out/laps.html"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert f"lap plot: {tmp_path / 'out' / 'laps.html'}\n" in out
    assert (tmp_path / "out" / "laps.html").exists()
