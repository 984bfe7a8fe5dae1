"""A real drive_agent recording for tests: the tiny Udacity model driving our simulator with
`--record`, as `drive_agent --target sim --track pitlane_loop_road --record DIR` makes one."""

from __future__ import annotations

from pathlib import Path

from drive_agent.loop import DriveLoop
from drive_agent.recorder import Recorder
from drive_agent.targets.sim import drive_sim
from tests.drive_agent.helpers import load_tiny

TRACK = "pitlane_loop_road"


def record_agent_drive(tiny_models: Path, folder: Path, max_time_s: float = 4.0) -> Path:
    """Drive the tiny float regression model for `max_time_s` simulated seconds, recording into
    `folder` (driving_log.csv + IMG/, left and right columns empty)."""
    model, _ = load_tiny(tiny_models, "regression_float")
    loop = DriveLoop(model, recorder=Recorder(folder))
    try:
        drive_sim(loop, TRACK, max_time_s=max_time_s)
    finally:
        loop.close()
    return folder
