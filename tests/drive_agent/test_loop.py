"""The control loop: preprocessing + inference + speed control + throttle scale + recording."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from drive_agent.loop import DriveLoop
from drive_agent.preprocessing import preprocess
from drive_agent.recorder import Recorder
from drive_agent.runtime import Prediction
from drive_agent.speed import OpenLoopThrottle, PISpeedControl
from tests.drive_agent.helpers import load_tiny, udacity_frame


def test_step_equals_preprocess_then_predict(tiny_models: Path) -> None:
    model, card = load_tiny(tiny_models, "regression_float")
    loop = DriveLoop(model, PISpeedControl(set_speed=9.0))
    frame = udacity_frame(1)
    timer = loop.stats.frame()
    command = loop.step(frame, 5.0, timer)
    timer.done()
    assert command.steering == pytest.approx(model.predict(preprocess(frame, card)).steering)
    assert command.throttle == pytest.approx(0.1 * 4.0 + 0.002 * 4.0)  # drive.py's PI on error 4
    stages = loop.stats.summary()["stages"]
    assert set(stages) == {"preprocess", "inference"}


def test_throttle_scale_and_clipping(drive_loop: DriveLoop) -> None:
    drive_loop.speed = PISpeedControl(set_speed=9.0)  # below the clip: 0.1 x 9 + 0.002 x 9
    drive_loop.throttle_scale = 0.5
    assert drive_loop.step(udacity_frame(), 0.0).throttle == pytest.approx(0.5 * (0.9 + 0.018))
    drive_loop.throttle_scale = 10.0
    assert drive_loop.step(udacity_frame(), 0.0).throttle == 1.0


def test_wrong_frame_size_is_a_value_error(drive_loop: DriveLoop) -> None:
    with pytest.raises(ValueError, match="frame is 100x50, the model card expects 320x160"):
        drive_loop.step(np.zeros((50, 100, 3), np.uint8), 0.0)


def test_pi_controller_integrates_and_resets() -> None:
    pi = PISpeedControl(set_speed=10.0, kp=0.1, ki=0.01)
    straight = Prediction(steering=0.0)
    assert pi(8.0, straight) == pytest.approx(0.2 + 0.02)
    assert pi(8.0, straight) == pytest.approx(0.2 + 0.04)
    pi.reset()
    assert pi(12.0, straight) == pytest.approx(-0.2 - 0.02)
    assert pi(None, straight) == 0.0


def test_speed_as_function_of_steering_and_action_speed() -> None:
    pi = PISpeedControl(set_speed=10.0, kp=1.0, ki=0.0, min_speed=4.0)
    assert pi(0.0, Prediction(steering=0.5)) == 1.0          # target 7: saturated
    assert pi(6.5, Prediction(steering=-0.5)) == pytest.approx(0.5)
    assert pi(1.5, Prediction(steering=0.0, speed=2.0)) == pytest.approx(0.5)  # action speed wins
    open_loop = OpenLoopThrottle(throttle=0.4, set_speed=2.0, min_speed=1.0)
    assert open_loop(None, Prediction(steering=1.0)) == pytest.approx(0.2)
    assert open_loop(None, Prediction(steering=0.0, speed=1.5)) == pytest.approx(0.3)


def test_recorder_writes_simulator_layout(tmp_path: Path, tiny_models: Path) -> None:
    model, _ = load_tiny(tiny_models, "regression_float")
    loop = DriveLoop(model, recorder=Recorder(tmp_path / "rec"))
    for i in range(3):
        loop.step(udacity_frame(i), 8.0, raw_image=b"\xff\xd8raw-jpeg" if i == 0 else None)
    report = loop.close()
    assert "latency" in report
    rows = list(csv.reader((tmp_path / "rec" / "driving_log.csv").open(), skipinitialspace=True))
    assert len(rows) == 3 and all(len(r) == 7 for r in rows)
    images = sorted((tmp_path / "rec" / "IMG").iterdir())
    assert len(images) == 3 and all(p.name.startswith("center_") for p in images)
    assert Path(rows[0][0]).read_bytes() == b"\xff\xd8raw-jpeg"
    assert float(rows[1][6]) == 8.0 and rows[1][1] == ""
