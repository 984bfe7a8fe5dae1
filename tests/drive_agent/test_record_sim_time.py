"""`--record` in the sim target names its images by simulated time (outside test of issue 13:
302 frames of a 20 s drive were stamped over 1.3 s of wall time, a dataset of ~230 Hz)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from drive_agent.recorder import Recorder, SimClock
from simulator.car import UDACITY
from simulator.driving_log import image_time, read_driving_log
from tests.drive_agent.recording import record_agent_drive


def _stamps(folder: Path) -> list[datetime]:
    return [image_time(row.center) for row in read_driving_log(folder)]


def test_sim_recording_names_step_by_the_simulators_dt(tiny_models, tmp_path) -> None:
    folder = record_agent_drive(tiny_models, tmp_path / "rec", max_time_s=4.0)
    stamps = _stamps(folder)
    assert len(stamps) >= 55  # 4 s at 15 Hz, plus the trial's end
    steps_ms = {round((b - a).total_seconds() * 1000) for a, b in zip(stamps, stamps[1:], strict=False)}
    dt_ms = UDACITY.dt * 1000
    # Every name one dt after the one before (66 or 67 ms: the names hold whole milliseconds).
    assert steps_ms <= {int(dt_ms), int(dt_ms) + 1}, steps_ms
    span = (stamps[-1] - stamps[0]).total_seconds()
    assert abs(span - (len(stamps) - 1) * UDACITY.dt) < 0.002
    assert 3.9 <= span <= 4.1  # the simulated drive's length, not the second of wall time it took
    # One frame per simulated instant: every image name is a simulator name (no "_1" suffixes).
    assert len({p.name for p in (folder / "IMG").iterdir()}) == len(stamps)


def test_sim_clock_reads_simulated_time_once_per_instant() -> None:
    clock = SimClock(datetime(2026, 1, 2, 3, 4, 5, 678_901))
    assert clock() == datetime(2026, 1, 2, 3, 4, 5, 678_000)
    assert clock() is None  # the same instant again: no new frame
    clock.set(2 / 15)  # 0.1333... s: rounded to the millisecond, not truncated
    assert clock() == datetime(2026, 1, 2, 3, 4, 5, 811_000)


def test_recorder_keeps_wall_time_by_default_and_skips_a_repeated_instant(tmp_path) -> None:
    import numpy as np

    frame = np.zeros((160, 320, 3), dtype=np.uint8)
    before = datetime.now()
    wall = Recorder(tmp_path / "wall")
    wall.record(frame, 0.1, 0.2, 3.0)
    wall.close()
    (stamp,) = _stamps(tmp_path / "wall")
    assert abs((stamp - before).total_seconds()) < 5
    clock = SimClock(datetime(2026, 1, 1))
    sim = Recorder(tmp_path / "sim", clock=clock)
    sim.record(frame, 0.1, 0.2, 3.0)
    sim.record(frame, 0.1, 0.2, 3.0)  # the simulator's prepare step: no time passed
    clock.set(UDACITY.dt)
    sim.record(frame, 0.1, 0.2, 3.0)
    sim.close()
    assert [s.strftime("%H:%M:%S.%f") for s in _stamps(tmp_path / "sim")] == ["00:00:00.000000", "00:00:00.067000"]
