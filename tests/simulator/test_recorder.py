"""Recording: the autopilot stays on the road, keyboard steering is spiky, recoveries record only
the return from the edge, and `record` writes a log the reader (and Pillow) accept."""

import itertools
from datetime import datetime

import pytest
from PIL import Image

from simulator.autopilot import KeyboardDriver
from simulator.car import DEEPRACER
from simulator.driving_log import image_time, read_driving_log
from simulator.recorder import Phase, SessionConfig, drive_session, record
from simulator.track import load_track


@pytest.fixture(scope="module")
def road():
    return load_track("pitlane_hairpin_road")


def session(track, steps, profile=None, **config):
    kwargs = {"profile": profile} if profile else {}
    return list(itertools.islice(drive_session(track, config=SessionConfig(**config), seed=2, **kwargs), steps))


def test_autopilot_drives_on_the_road(road):
    frames = session(road, 1500)
    assert frames[-1].off_tracks == 0 and frames[-1].laps > 0.3
    assert max(abs(f.offset) / f.half_width for f in frames) < 0.5
    assert all(f.record and f.phase is Phase.DRIVE for f in frames)


def test_autopilot_drives_a_deepracer_track():
    track = load_track("reinvent_base")
    frames = session(track, 400, profile=DEEPRACER)
    assert frames[-1].off_tracks == 0 and frames[-1].laps > 0.5


def test_recoveries_record_only_the_return(road):
    frames = session(road, 2500, recoveries=True, recovery_every_m=40.0)
    assert not any(f.record for f in frames if f.phase is Phase.DRIFT)
    episodes = [list(g) for phase, g in itertools.groupby(frames, key=lambda f: f.phase) if phase is Phase.RECOVER]
    assert len(episodes) >= 3
    for episode in episodes[:-1]:  # the last one may be cut short by the end of the session
        assert all(f.record for f in episode)
        assert abs(episode[0].offset) / episode[0].half_width > 0.6  # starts near the edge
        assert abs(episode[-1].offset) / episode[-1].half_width < 0.25  # ends near the middle


def test_keyboard_steering_is_spiky_with_many_exact_zeros(road):
    frames = session(road, 1500, keyboard=True)
    steering = [f.controls.steering for f in frames]
    zeros = sum(s == 0.0 for s in steering)
    assert zeros / len(steering) > 0.4
    assert max(abs(s) for s in steering) > 0.2
    assert frames[-1].off_tracks == 0


def test_keyboard_axis_rises_while_pressed_and_falls_back_to_exact_zero():
    keys = KeyboardDriver(seed=0)
    values = [keys.steer(0.6) for _ in range(3)] + [keys.steer(0.0) for _ in range(15)]
    assert 0 < values[0] < values[1] < values[2] <= 1.0
    assert values[-1] == 0.0


def test_record_writes_a_readable_log(tmp_path, road):
    start = datetime(2024, 3, 1, 12, 0, 0)
    stats = record(road, tmp_path, 30, seed=1, start=start)
    assert stats.frames == 30
    log = read_driving_log(tmp_path, check_images=True)
    assert len(log) == 30 and not log.has_header
    line = (tmp_path / "driving_log.csv").read_text().splitlines()[0]
    assert line.startswith(str(tmp_path.resolve() / "IMG" / "center_2024_03_01_12_00_00_000.jpg") + ", ")
    with Image.open(log.image_path(log.rows[5], "left")) as image:
        assert image.format == "JPEG" and image.size == (320, 160) and image.mode == "RGB"
    times = [image_time(row.center) for row in log]
    gaps = {round((b - a).total_seconds() * 1000) for a, b in itertools.pairwise(times)}
    assert gaps <= {66, 67}  # 15 Hz
    assert all(-1 <= row.steering <= 1 and 0 <= row.speed <= 30.5 for row in log)


def test_record_with_recoveries_skips_the_drift_frames_in_time(tmp_path, road):
    config = SessionConfig(recoveries=True, recovery_every_m=30.0)
    stats = record(road, tmp_path, 200, seed=4, config=config)
    assert stats.recoveries >= 1 and stats.recovery_frames > 0 and stats.steps > stats.frames
    times = [image_time(row.center) for row in read_driving_log(tmp_path)]
    assert max((b - a).total_seconds() for a, b in itertools.pairwise(times)) > 0.2  # recording paused


def test_record_refuses_a_deepracer_scale_track(tmp_path):
    with pytest.raises(ValueError, match="road-scale"):
        record(load_track("reinvent_base"), tmp_path, 1)
