"""Replay AWS's own console simtraces through our track geometry.

The logs (reinvent_base, console evaluation and training) record X, Y, progress and
closest_waypoint at every step. Projecting the logged X, Y on our reinvent_base must give AWS's
progress and closest waypoint back. Findings this test pins down:
- The logged X, Y is the point progress is computed at: DeepRacer's reward (x, y), 0.14 m ahead of
  the car origin. Shifting it a further 0.14 m along the heading breaks the match (checked below),
  and the first step of every episode sits exactly 0.14 m (0.79 % of 17.709 m) past its start.
- Progress is measured from the episode's start point; training starts rotate round the lap by 5 %
  an episode (round robin), evaluation starts at waypoint 0.
- closest_waypoint is the nearer end of the centre segment the point projects on, with the closing
  point of the loop numbered n_waypoints (118 here), not 0.
Tolerance: 1e-6 % of progress (about 0.2 micrometres), i.e. float round-off; AWS and we compute the
same projection on the same polyline, so anything larger would be a real difference. Rows with
status lap_complete are excluded from the progress check (AWS reports 100 there).
"""


import numpy as np
import pandas as pd
import pytest

from simulator.episode import round_robin_start
from simulator.track import load_track

TOLERANCE_PCT = 1e-6


@pytest.fixture(scope="module")
def logs(shared_data):
    return shared_data / "deepracer" / "logs"


@pytest.fixture(scope="module")
def track(shared_data):
    return load_track(shared_data / "deepracer" / "tracks" / "reinvent_base.npy")


def replay(track, df: pd.DataFrame, training: bool, ahead: float = 0.0):
    yaw = np.radians(df["yaw"].to_numpy())
    x = df["X"].to_numpy() + ahead * np.cos(yaw)
    y = df["Y"].to_numpy() + ahead * np.sin(yaw)
    hint = None
    distance, closest = [], []
    for k in range(len(df)):
        p = track.project_local(x[k], y[k], hint)
        hint = p.segment
        distance.append(p.distance)
        closest.append(track.closest_waypoint(p))
    starts = np.array([round_robin_start(track, e) if training else 0.0 for e in df["episode"]])
    progress = (np.array(distance) - starts) % track.length / track.length * 100.0
    return progress, np.array(closest)


@pytest.mark.parametrize(
    "name,training",
    [("console_evaluation_simtrace_0-iteration.csv", False), ("console_training_simtrace_0-iteration.csv", True)],
)
def test_logged_progress_and_closest_waypoint_replay_exactly(track, logs, name, training):
    df = pd.read_csv(logs / name)
    assert df["track_len"].iloc[0] == pytest.approx(track.length, rel=1e-12)
    progress, closest = replay(track, df, training)
    running = (df["episode_status"] != "lap_complete").to_numpy()
    np.testing.assert_allclose(progress[running], df["progress"].to_numpy()[running], atol=TOLERANCE_PCT)
    assert (closest == df["closest_waypoint"].to_numpy()).all()
    assert df["closest_waypoint"].max() == track.n_waypoints  # the closing point is numbered N


def test_logged_point_is_not_the_car_origin(track, logs):
    df = pd.read_csv(logs / "console_evaluation_simtrace_0-iteration.csv")
    shifted, _ = replay(track, df, training=False, ahead=0.14)
    running = (df["episode_status"] != "lap_complete").to_numpy()
    error = np.abs(shifted[running] - df["progress"].to_numpy()[running])
    assert np.median(error) > 0.5  # 0.14 m is 0.79 % of the lap
    first = df.groupby("episode").first()
    np.testing.assert_allclose(first["progress"], 0.14 / track.length * 100, atol=0.01)
