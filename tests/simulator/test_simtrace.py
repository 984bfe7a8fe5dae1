"""Our simtrace CSVs, SIM_TRACE_LOG lines and metrics read back by deepracer-utils unchanged."""

import json
import math

import pytest
from deepracer.logs import AnalysisUtils, DeepRacerLog, SimulationLogsIO

from simulator.car import DEEPRACER, Command, anticipated_pose, steering_command_deg
from simulator.deepracer import DEFAULT_ACTION_SPACE
from simulator.episode import Session, round_robin_start, run_trials
from simulator.rules import TRAINING_RULES, EpisodeStatus
from simulator.simtrace import (
    SIMTRACE_HEADER,
    evaluation_simtrace_path,
    training_episode_metric,
    training_metrics,
    training_simtrace_path,
    write_metrics,
    write_sim_trace_log,
    write_simtrace_csv,
)
from simulator.track import load_track


@pytest.fixture(scope="module")
def aws_logs(shared_data):
    """Sim-traces and metrics that AWS DeepRacer (console, DRfC) wrote."""
    return shared_data / "deepracer" / "logs"


@pytest.fixture(scope="module")
def track():
    return load_track("pitlane_loop")


def pursuit(track, state, speed=2.0, look=0.6):
    x, y, yaw = anticipated_pose(DEEPRACER, state)  # where the car is when the command tells
    p = track.project_local(x, y, None)
    tx, ty, _ = track.pose_at(p.distance + look)
    alpha = (math.atan2(ty - y, tx - x) - yaw + math.pi) % (2 * math.pi) - math.pi
    return Command(steering_command_deg(DEEPRACER, math.atan2(2 * DEEPRACER.wheelbase * math.sin(alpha), look)), speed)


def reward(params):
    return 1.0 - params["distance_from_center"] / params["track_width"]


def training_episodes(track, n=4):
    """Episodes 0, 2 drive a lap; 1, 3 steer off: both endings appear in the trace."""
    session = Session(track, rules=TRAINING_RULES, reward_fn=reward)
    episodes, clock = [], 0.0
    for e in range(n):
        session.reset(round_robin_start(track, e), episode=e, sim_time=clock)
        steps = []
        while True:
            cmd = Command(30.0, 2.0) if e % 2 and session.steps < 20 else pursuit(track, session.state)
            steps.append(session.step(cmd))
            if steps[-1].done:
                break
        episodes.append(steps)
        clock = steps[-1].sim_time + 1 / 15
    return episodes


def test_header_matches_aws(aws_logs):
    aws = (aws_logs / "console_evaluation_simtrace_0-iteration.csv").read_text().splitlines()[0]
    assert ",".join(SIMTRACE_HEADER) == aws


def test_training_simtrace_round_trip(tmp_path, track):
    episodes = training_episodes(track)
    trace = [s for ep in episodes for s in ep]
    write_simtrace_csv(training_simtrace_path(tmp_path, 0), trace, track.length)
    log = DeepRacerLog(str(tmp_path))
    log.load_training_trace(ignore_metadata=True)
    df = log.dataframe() if hasattr(log, "dataframe") else log.df
    assert len(df) == len(trace)
    agg = AnalysisUtils.simulation_agg(df).sort_values("episode").reset_index(drop=True)
    for e, steps in enumerate(episodes):
        row = agg.iloc[e]
        assert row["progress"] == pytest.approx(max(s.progress for s in steps), abs=1e-9)
        assert row["reward"] == pytest.approx(sum(s.reward for s in steps), rel=1e-9)
        assert row["time"] == pytest.approx(steps[-1].sim_time - steps[0].sim_time, abs=2e-3)
    assert steps_status(episodes[0]) == "lap_complete" and steps_status(episodes[1]) == "off_track"
    lap = episodes[0][-1]
    assert agg.iloc[0]["time"] == pytest.approx(lap.lap_time, abs=2e-3)

    # Raw robomaker lines parse to the same rows.
    raw = tmp_path / "robomaker.log"
    with raw.open("w") as f:
        write_sim_trace_log(f, trace, track.length)
    parsed = SimulationLogsIO.convert_to_pandas(SimulationLogsIO.load_data(str(raw)))
    assert len(parsed) == len(trace)
    assert parsed["episode_status"].tolist() == [s.status.value for s in trace]
    assert parsed["progress"].iloc[-1] == pytest.approx(trace[-1].progress, abs=1e-4)


def steps_status(steps):
    return steps[-1].status.value


def test_training_metrics_match_aws_format(tmp_path, track, aws_logs):
    episodes = training_episodes(track)
    entries = [training_episode_metric(e + 1, steps) for e, steps in enumerate(episodes)]
    path = write_metrics(tmp_path / "TrainingMetrics.json", training_metrics(entries))
    ours = json.loads(path.read_text())
    aws = json.loads((aws_logs / "drfc_TrainingMetrics.json").read_text())
    assert list(ours) == list(aws)
    assert list(ours["metrics"][0]) == list(aws["metrics"][0])
    for key, value in aws["metrics"][0].items():
        assert type(ours["metrics"][0][key]) is type(value), key
    assert ours["metrics"][0]["episode_status"] == "Lap complete"
    assert ours["metrics"][1]["episode_status"] == "Off track"
    first = ours["metrics"][0]
    assert first["elapsed_time_in_milliseconds"] == first["metric_time"] - first["start_time"]
    assert first["completion_percentage"] == 100


def test_evaluation_round_trip(tmp_path, track, aws_logs):
    csv_path = evaluation_simtrace_path(tmp_path, "20260101120000")
    metrics_path = tmp_path / "metrics" / "evaluation_metrics.json"
    result = run_trials(
        lambda state: pursuit(track, state, speed=1.8),
        track,
        n_trials=3,
        reward_fn=reward,
        simtrace_path=csv_path,
        metrics_path=metrics_path,
    )
    assert [t.status for t in result.trials] == [EpisodeStatus.LAP_COMPLETE] * 3
    (tmp_path / "training-simtrace").mkdir()  # deepracer-for-cloud layout marker
    log = DeepRacerLog(str(tmp_path))
    log.load_evaluation_trace(ignore_metadata=True)
    agg = AnalysisUtils.simulation_agg(log.df, is_eval=True).sort_values("episode")
    for row, trial in zip(agg.itertuples(), result.trials, strict=True):
        assert row.progress == 100.0
        assert row.time == pytest.approx(trial.lap_time, abs=2e-3)
        assert row.off_track == trial.off_track_count

    ours = json.loads(metrics_path.read_text())
    aws = json.loads((aws_logs / "console_evaluation_metrics.json").read_text())
    assert list(ours) == list(aws)
    assert [list(m) for m in ours["metrics"]] == [list(m) for m in aws["metrics"]]
    for mine, theirs in zip(ours["metrics"], aws["metrics"], strict=True):
        assert {k: type(v) for k, v in mine.items()} == {k: type(v) for k, v in theirs.items()}
        assert mine["elapsed_time_in_milliseconds"] == pytest.approx(
            [t.lap_time for t in result.trials][mine["trial"] - 1] * 1000, abs=1
        )
    assert [m["trial"] for m in ours["metrics"]] == [1, 2, 3]


def test_run_trials_accepts_action_indices(track):
    # Discrete policy over the console default space: steer with the nearest action.
    def policy(state):
        wanted = pursuit(track, state, speed=0.8)
        return min(
            range(DEFAULT_ACTION_SPACE.n),
            key=lambda i: abs(DEFAULT_ACTION_SPACE.actions[i].steering_angle - wanted.steering_deg)
            + 10 * abs(DEFAULT_ACTION_SPACE.actions[i].speed - 0.8),
        )

    result = run_trials(policy, track, n_trials=1, action_space=DEFAULT_ACTION_SPACE)
    assert result.trials[0].status is EpisodeStatus.LAP_COMPLETE
    assert {s.action for s in result.trace} <= set(range(DEFAULT_ACTION_SPACE.n))
    assert result.best_lap_time == result.lap_times[0]
