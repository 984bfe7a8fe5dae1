"""`drive_agent --plot`: several trials, or a trial with resets, were drawn as one line: every
off-track reset as a spike from the verge to the centre line and each trial's end joined to the
next start (found plotting `--trials 2 --laps 3 --vary`); the lap labels did not say which trial."""

from __future__ import annotations

import base64
import json
import re
from types import SimpleNamespace

import numpy as np

from drive_agent.evaluation import EvaluationResult
from drive_agent.targets.sim import plot_path, write_lap_plot
from simulator.rules import EpisodeStatus
from simulator.track import load_track


def step(episode: int, x: float, y: float, status: EpisodeStatus = EpisodeStatus.IN_PROGRESS,
         lap: int = 0, lap_time: float | None = None) -> SimpleNamespace:
    return SimpleNamespace(episode=episode, state=SimpleNamespace(x=x, y=y), status=status, lap=lap,
                           lap_time=lap_time)


TRACE = [
    step(0, 0.0, 0.0), step(0, 1.0, 0.0), step(0, 2.0, 3.0, EpisodeStatus.OFF_TRACK),  # off the verge
    step(0, 2.0, 0.0, EpisodeStatus.PAUSE), step(0, 3.0, 0.0, EpisodeStatus.LAP_COMPLETE, 1, 12.5),  # reset
    step(1, 0.1, 0.0), step(1, 1.1, 0.0, EpisodeStatus.LAP_COMPLETE, 1, 11.25),  # the second trial
]


def test_the_path_breaks_after_a_reset_and_between_trials_only() -> None:
    path = plot_path(TRACE)
    gaps = [i for i, row in enumerate(path) if np.isnan(row).all()]
    assert gaps == [3, 6]   # after the off-track step, before trial 2's first step
    assert path.shape == (len(TRACE) + 2, 2)
    assert path[~np.isnan(path[:, 0])].tolist() == [[s.state.x, s.state.y] for s in TRACE]
    assert not np.isnan(plot_path(TRACE[:2])).any() and plot_path([]).shape == (0, 2)


def numbers(column) -> np.ndarray:
    """A trace column as written in the page: a list, or Plotly 6's typed array (base64 bytes)."""
    if isinstance(column, dict):
        return np.frombuffer(base64.b64decode(column["bdata"]), dtype=np.dtype(column["dtype"]))
    return np.array([np.nan if v is None else v for v in column], dtype=float)


def test_the_plot_page_has_the_gaps_and_lap_labels_naming_the_trial(tmp_path) -> None:
    result = EvaluationResult(trials=[], trace=TRACE)
    html = write_lap_plot(result, load_track("pitlane_loop"), tmp_path / "laps.html").read_text()
    figure = json.loads(re.search(r"Plotly\.newPlot\(\s*\"[^\"]+\",\s*(\[.*?\]),\s*\{", html, re.S).group(1))
    car = next(trace for trace in figure if trace["name"] == "car path")
    assert np.isnan(numbers(car["x"])).sum() == 2 and np.isnan(numbers(car["y"])).sum() == 2
    labels = next(trace for trace in figure if trace["name"] == "frames")["text"]
    assert labels == ["trial 1 lap 1: 12.50 s", "trial 2 lap 1: 11.25 s"]
