"""run_sim_evaluation: camera + model in the loop, callbacks, and DeepRacer-format outputs."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from drive_agent.evaluation import run_sim_evaluation, summarise
from drive_agent.loop import DriveLoop
from simulator.stopping import Stopped
from tests.drive_agent.helpers import load_tiny


def rules():
    from simulator.rules import EVALUATION_RULES

    return EVALUATION_RULES


def test_trials_trace_progress_and_files(tiny_models: Path, tmp_path: Path) -> None:
    progress: list[float] = []
    result = run_sim_evaluation(load_tiny(tiny_models, "regression_float")[0],
                                "pitlane_loop_road", n_trials=2, rules=rules(), max_time_s=4.0,
                                on_progress=lambda pct, msg: progress.append(pct), out_dir=tmp_path)
    assert len(result.trials) == 2 and all(t.status.value == "time_up" for t in result.trials)
    assert all(t.elapsed_s >= 3.9 for t in result.trials)  # each trial had its own 4 s
    assert result.lap_times == [None, None] and result.best_lap_time is None
    cols = result.trace_arrays()
    assert len(cols["x"]) == len(result.trace) == sum(t.steps for t in result.trials)
    assert cols["speed"].max() > 0  # the PI controller drove the car forward
    assert progress == sorted(progress) and progress[-1] == 100.0
    assert result.latency["frames"] == len(result.trace)
    assert set(result.latency["stages"]) == {"render", "preprocess", "inference"}
    assert result.folder is not None and result.folder.parent == tmp_path  # evaluation-{stamp}/
    metrics = json.loads(result.metrics_path.read_text())["metrics"]
    assert [m["trial"] for m in metrics] == [1, 2]
    assert {"completion_percentage", "off_track_count", "reset_count", "episode_status"} <= set(metrics[0])
    rows = list(csv.reader(result.simtrace_path.open()))
    assert rows[0][:4] == ["episode", "steps", "X", "Y"] and len(rows) == len(result.trace) + 1
    summary = json.loads((result.folder / "summary.json").read_text())
    assert summary["steps"] == len(result.trace) and summary["track"] == result.track == "pitlane_loop_road"
    assert summary["trials"] == summarise(result, rules().off_track_penalty_s)["trials"]
    assert summary["completed_laps"] == 0 and summary["best_lap_time"] is None


def test_discrete_model_drives_deepracer_track_with_action_indices(tiny_models: Path) -> None:
    model, _ = load_tiny(tiny_models, "deepracer_discrete")
    result = run_sim_evaluation(model, "pitlane_loop", n_trials=1, rules=rules(), max_time_s=2.0)
    assert {s.action for s in result.trace} <= set(range(5))
    assert result.trace[-1].speed in {0.5, 1.0, 2.0}   # DeepRacer commands the action's speed


def test_should_stop_abandons_the_evaluation(drive_loop: DriveLoop) -> None:
    calls = iter(range(1000))
    with pytest.raises(Stopped, match="trial 1 of 3"):
        run_sim_evaluation(drive_loop, "pitlane_loop_road", n_trials=3, rules=rules(), max_time_s=4.0,
                           should_stop=lambda: next(calls) >= 10)


def test_speed_controller_is_reset_while_the_car_is_held_after_an_off_track(tiny_models: Path) -> None:
    """After an off-track reset the car is held for the penalty; a PI controller that kept
    integrating the standstill error would launch the car far above the set speed afterwards."""
    from drive_agent.runtime import Prediction
    from drive_agent.speed import PISpeedControl

    class FullLock:  # steers hard right until the car leaves the road
        def __init__(self, model) -> None:
            self.card = model.card

        def predict(self, x) -> Prediction:
            return Prediction(steering=1.0)

    class Spy(PISpeedControl):
        integrals: list[float]

        def __call__(self, measured_speed, prediction):
            self.integrals.append(self.integral)
            return super().__call__(measured_speed, prediction)

    speed = Spy(set_speed=15.0)
    speed.integrals = []
    loop = DriveLoop(FullLock(load_tiny(tiny_models, "regression_float")[0]), speed)
    result = run_sim_evaluation(loop, "pitlane_loop_road", n_trials=1, rules=rules(), max_time_s=12.0)
    statuses = [s.status.value for s in result.trace]
    assert result.off_track_count >= 1 and "pause" in statuses
    held = [i for i, s in enumerate(statuses[:-1]) if s in ("off_track", "pause")]
    # The controller call before step i+1 follows step i: after every held step it starts afresh.
    assert all(speed.integrals[i + 1] == 0.0 for i in held)
