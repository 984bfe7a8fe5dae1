"""`drive_agent --target sim`: the summary gives each lap's time and the best single lap (not a
multi-lap trial's total), and `--plot` writes a page that works without network."""

from __future__ import annotations

import re

from drive_agent.cli import main
from drive_agent.evaluation import EvaluationResult
from drive_agent.targets.sim import best_lap, lap_summary
from simulator.episode import TrialResult
from simulator.rules import EpisodeStatus


def trial(number: int, status: EpisodeStatus, lap_times: list[float], completion: float = 100.0) -> TrialResult:
    return TrialResult(trial=number, status=status, lap_times=lap_times, elapsed_s=sum(lap_times) + 1.0,
                       start_time_s=0.0, completion_pct=completion, off_track_count=0, reset_count=0,
                       reversed_count=0, immobilized_count=0, crash_count=0, steps=10, total_reward=0.0)


def test_summary_reports_per_lap_times_and_the_best_single_lap():
    result = EvaluationResult(trials=[trial(1, EpisodeStatus.LAP_COMPLETE, [143.2, 143.5, 143.3]),
                                      trial(2, EpisodeStatus.LAP_COMPLETE, [143.4, 142.9, 143.6]),
                                      trial(3, EpisodeStatus.OFF_TRACK, [144.0], completion=40.0)], trace=[])
    lines = lap_summary(result, "pitlane_loop_road")
    assert lines[0] == "trial 1: lap_complete, laps 143.20 s, 143.50 s, 143.30 s (trial 431.00 s)"
    assert lines[2] == "trial 3: off_track, laps 144.00 s, 40.0 % done"
    assert "best lap 142.90 s (trial 2 lap 2)" in lines[-1] and "431" not in lines[-1]
    assert best_lap(result) == (142.9, 2, 2)
    assert best_lap(EvaluationResult(trials=[trial(1, EpisodeStatus.OFF_TRACK, [], 10.0)], trace=[])) is None


def test_cli_two_lap_trial_and_offline_plot(tiny_steering_model, tmp_path, capsys):
    model, card = tiny_steering_model
    plot = tmp_path / "laps.html"
    code = main(["--model-file", str(model), "--card", str(card), "--target", "sim", "--track", "pitlane_loop",
                 "--laps", "2", "--plot", str(plot)])
    out = capsys.readouterr().out
    assert code == 0, out
    laps = [float(t) for t in re.findall(r"^trial 1 lap \d: ([\d.]+) s$", out, re.M)]
    assert len(laps) == 2, out
    best = float(re.search(r"best lap ([\d.]+) s \(trial 1 lap [12]\)", out).group(1))
    assert best == min(laps) and best < sum(laps) * 0.75
    html = plot.read_text()
    assert f"best lap {best:.2f} s" in html
    # plotly.js is inside the page: no script loaded from the network
    assert not re.search(r"<script[^>]*\bsrc=[\"']?(https?:)?//", html, re.I)
    assert "Plotly.newPlot" in html and len(html) > 1_000_000
