"""The RL training log: DeepRacer's files, read back by deepracer-utils; resumable; cheap per step."""

import json
import time

import numpy as np
import pytest
from deepracer.logs import AnalysisUtils, DeepRacerLog, SimulationLogsIO, TrainingMetrics

from simulator.rules import EpisodeStatus
from simulator.simtrace import SIMTRACE_HEADER, training_simtrace_path
from simulator.track import load_track
from tests.rl import synthetic_runs as runs
from training.rl.logs import (
    STATUSES,
    TrainingLog,
    TrainingLogError,
    columns_path,
    evaluation_simtrace_path,
    metrics_path,
    robomaker_log_path,
)


@pytest.fixture(scope="module")
def track():
    return load_track("pitlane_loop")


@pytest.fixture(scope="module")
def run(track):
    return runs.iterations(track), runs.evaluation(track)


def _log_iterations(folder, track, run, n):
    """A new TrainingLog in `folder` with n iterations and their evaluations written."""
    episodes, evaluation = run
    log = TrainingLog(folder)
    for k in range(n):
        log.write_iteration(k, episodes[k % len(episodes)], track)
        log.write_evaluation(k, evaluation, track)
    return log


@pytest.fixture
def logged(tmp_path, track, run):
    runs.write_run_files(tmp_path)
    _log_iterations(tmp_path, track, run, len(run[0]))
    return tmp_path


def test_deepracer_utils_reads_training_simtrace(logged, run):
    episodes, _ = run
    log = DeepRacerLog(str(logged))
    log.load_training_trace(ignore_metadata=True)
    df = log.dataframe()
    flat = [ep for batch in episodes for ep in batch]
    assert len(df) == sum(len(ep) for ep in flat)
    assert sorted(df["iteration"].unique()) == [0, 1, 2]
    agg = AnalysisUtils.simulation_agg(log.df).sort_values("episode").reset_index(drop=True)
    assert len(agg) == len(flat)
    for number, steps in enumerate(flat):
        row = agg.iloc[number]
        assert row["iteration"] == number // 4
        assert row["reward"] == pytest.approx(sum(s.reward for s in steps), rel=1e-6)
        assert row["progress"] == pytest.approx(max(s.progress for s in steps), abs=1e-5)
        assert row["steps"] == len(steps)
        assert row["time"] == pytest.approx(steps[-1].sim_time - steps[0].sim_time, abs=2e-3)
    # Episodes keep the actions the driver chose.
    first = df[df["unique_episode"] == 1].sort_values("steps")
    assert first["action"].tolist() == [s.action for s in flat[1]]


def test_training_metrics_read_by_deepracer_utils(logged, run):
    episodes, evaluation = run
    metrics = TrainingMetrics(None, fname=str(metrics_path(logged))).metrics
    training = metrics[metrics["phase"] == "training"]
    evals = metrics[metrics["phase"] == "evaluation"]
    assert training["episode"].tolist() == list(range(1, 13))
    assert training["trial"].tolist() == [1, 2, 3, 4] * 3
    assert training["iteration"].tolist() == [0] * 4 + [1] * 4 + [2] * 4
    laps = [sum(ep[-1].status is EpisodeStatus.LAP_COMPLETE for ep in batch) for batch in episodes]
    assert training.groupby("iteration")["complete"].sum().tolist() == laps
    assert 0 < sum(laps) < 12
    assert evals["iteration"].tolist() == [0, 0, 1, 1, 2, 2]
    assert evals["completion"].tolist() == [int(t.completion_pct) for t in evaluation.trials] * 3
    flat = [ep for batch in episodes for ep in batch]
    assert training["reward"].tolist() == [round(sum(s.reward for s in ep)) for ep in flat]
    # Keys, key order and types as deepracer-for-cloud writes them.
    ours = json.loads(metrics_path(logged).read_text())
    ms = [t.elapsed_s * 1000 for t in evaluation.trials]
    assert [m["elapsed_time_in_milliseconds"] for m in ours["metrics"] if m["phase"] == "evaluation"] == \
        pytest.approx(ms * 3, abs=1)
    assert list(ours) == ["metrics", "version", "best_model_metric"]
    for entry in ours["metrics"]:
        assert list(entry) == ["reward_score", "metric_time", "start_time", "elapsed_time_in_milliseconds",
                               "episode", "trial", "phase", "completion_percentage", "episode_status"]
        assert all(isinstance(entry[k], int) for k in ("reward_score", "metric_time", "episode", "trial"))


def test_robomaker_log_parses_with_hyperparameters(logged, run):
    episodes, _ = run
    text = robomaker_log_path(logged).read_text()
    assert text.startswith("Using the following hyper-parameters\n")
    data = SimulationLogsIO.load_data(str(robomaker_log_path(logged)))
    df = SimulationLogsIO.convert_to_pandas(data, episodes_per_iteration=4)
    flat = [s for batch in episodes for ep in batch for s in ep]
    assert len(df) == len(flat)
    assert df["episode_status"].tolist() == [s.status.value for s in flat]
    assert df.groupby("iteration")["episode"].nunique().tolist() == [4, 4, 4]


def test_columns_match_csv(logged, run):
    episodes, evaluation = run
    cols = np.load(columns_path(logged, "training", 1))
    flat = [s for ep in episodes[1] for s in ep]
    assert cols["episode"].tolist() == [4 + i for i, ep in enumerate(episodes[1]) for _ in ep]
    np.testing.assert_allclose(cols["x"], [s.x for s in flat])
    np.testing.assert_allclose(cols["reward"], [s.reward for s in flat])
    assert [STATUSES[c] for c in cols["status"]] == [s.status for s in flat]
    assert set(cols["track"].tolist()) == {0}
    lines = training_simtrace_path(logged, 1).read_text().splitlines()
    assert lines[0] == ",".join(SIMTRACE_HEADER)
    assert len(lines) == 1 + len(flat)
    eval_cols = np.load(columns_path(logged, "evaluation", 2))
    assert len(eval_cols) == len(evaluation.trace)
    assert evaluation_simtrace_path(logged, 2).exists()


def test_resume_rewrites_an_iteration_logged_before_the_kill(tmp_path, track, run):
    episodes, evaluation = run
    runs.write_run_files(tmp_path)
    _log_iterations(tmp_path, track, run, 3)
    full = robomaker_log_path(tmp_path).read_text()
    # The worker died after logging iteration 2 but before its checkpoint; half a line was
    # appended by a write that never finished.
    with robomaker_log_path(tmp_path).open("a") as f:
        f.write("SIM_TRACE_LOG:99,1,")
    resumed = TrainingLog(tmp_path, resume=True)
    assert resumed.last_iteration == 2 and resumed.next_episode == 12
    assert robomaker_log_path(tmp_path).read_text() == full
    resumed.write_iteration(2, episodes[2], track)  # the checkpoint was iteration 1's
    resumed.write_evaluation(2, evaluation, track)
    assert robomaker_log_path(tmp_path).read_text() == full
    document = json.loads(metrics_path(tmp_path).read_text())
    assert [m["episode"] for m in document["metrics"] if m["phase"] == "training"] == list(range(1, 13))
    resumed.write_iteration(3, episodes[0], track)
    assert resumed.next_episode == 16
    log = DeepRacerLog(str(tmp_path))
    log.load_training_trace(ignore_metadata=True)
    assert sorted(log.df["unique_episode"].unique()) == list(range(16))

    # Going back two iterations drops everything after them.
    again = TrainingLog(tmp_path, resume=True)
    again.write_iteration(1, episodes[1], track)
    assert not training_simtrace_path(tmp_path, 2).exists()
    assert not training_simtrace_path(tmp_path, 3).exists()
    assert not evaluation_simtrace_path(tmp_path, 2).exists()
    document = json.loads(metrics_path(tmp_path).read_text())
    assert len(document["metrics"]) == 4 + 2 + 4


def test_a_new_run_clears_old_logs(logged, track, run):
    episodes, _ = run
    log = TrainingLog(logged)  # not resuming
    log.write_iteration(0, episodes[0], track)
    assert not training_simtrace_path(logged, 1).exists()
    assert len(json.loads(metrics_path(logged).read_text())["metrics"]) == 4


def test_several_tracks_are_recorded_per_step(tmp_path, run):
    episodes, _ = run
    loop, other = load_track("pitlane_loop"), load_track("pitlane_loop", reverse=True)
    log = TrainingLog(tmp_path)
    log.write_iteration(0, episodes[0], [loop, other, loop, other])
    assert log.tracks == ["pitlane_loop", "pitlane_loop (reversed)"]
    cols = np.load(columns_path(tmp_path, "training", 0))
    expected = [i % 2 for i, ep in enumerate(episodes[0]) for _ in ep]
    assert cols["track"].tolist() == expected


def test_bad_calls_are_refused(tmp_path, track, run):
    episodes, evaluation = run
    log = TrainingLog(tmp_path)
    with pytest.raises(TrainingLogError, match="write that iteration first"):
        log.write_evaluation(0, evaluation, track)
    with pytest.raises(TrainingLogError, match="3 tracks given for 4 episodes"):
        log.write_iteration(0, episodes[0], [track] * 3)
    with pytest.raises(TrainingLogError, match="no episodes"):
        log.write_iteration(0, [], track)
    with pytest.raises(TrainingLogError, match="episode 1 has no steps"):
        log.write_iteration(0, [episodes[0][0], []], track)
    log.write_iteration(0, episodes[0], track)
    with pytest.raises(TrainingLogError, match="write that iteration first"):
        log.write_evaluation(1, evaluation, track)
    (tmp_path / "logs" / "training_log_state.jsonl").write_text("{}\n")
    with pytest.raises(TrainingLogError, match="cannot resume"):
        TrainingLog(tmp_path, resume=True)


def test_logging_cost_per_step(tmp_path, track, run):
    """Logging is part of the trainer's steps/s budget (1,000 steps/s: 1 ms a step)."""
    episodes, _ = run
    log = TrainingLog(tmp_path)
    batches = [[ep for batch in episodes for ep in batch]] * 4  # iterations of ~2,000 steps
    steps = sum(len(ep) for batch in batches for ep in batch)
    start = time.perf_counter()
    for k, batch in enumerate(batches):
        log.write_iteration(k, batch, track)
    per_step_us = (time.perf_counter() - start) / steps * 1e6
    print(f"training log: {per_step_us:.1f} us per step over {steps} steps")
    assert per_step_us < 150  # about 20 us on a loaded 2-core machine; 15 % of the step budget at most
    assert EpisodeStatus.LAP_COMPLETE in STATUSES


def test_each_iteration_serialises_only_its_own_entries(tmp_path, track, run, monkeypatch):
    """Appending, not rewriting: the JSON written for iteration k does not grow with k (the
    whole TrainingMetrics.json rewritten each iteration took 11 % of a 30-minute run)."""
    import training.rl.logs as logs

    episodes, evaluation = run
    written = []
    real_dumps = json.dumps
    monkeypatch.setattr(logs.json, "dumps", lambda obj, **kw: written.append(real_dumps(obj, **kw)) or written[-1])
    log = TrainingLog(tmp_path)
    sizes = []
    for k in range(30):
        written.clear()
        log.write_iteration(k, episodes[k % 3], track)
        log.write_evaluation(k, evaluation, track)
        sizes.append(sum(map(len, written)))
    assert max(sizes[10:]) <= 1.05 * max(sizes[:3])
    state_lines = (tmp_path / "logs" / "training_log_state.jsonl").read_text().splitlines()
    assert len(state_lines) == 60  # one line per write: the iteration, then its evaluation
    document = json.loads(metrics_path(tmp_path).read_text())
    assert len(document["metrics"]) == 30 * (4 + 2)
    assert list(document) == ["metrics", "version", "best_model_metric"]


def test_resume_after_a_kill_in_the_middle_of_an_append(tmp_path, track, run):
    episodes, evaluation = run
    _log_iterations(tmp_path, track, run, 2)
    whole = metrics_path(tmp_path).read_text()
    # The kill came while iteration 2 was being appended: half an entry, half a state line.
    with metrics_path(tmp_path).open("r+") as f:
        f.seek(whole.rindex("\n], "))  # where the next entries go
        f.write(',\n{"reward_score": 3, "metric_t')
        f.truncate()
    with (tmp_path / "logs" / "training_log_state.jsonl").open("a") as f:
        f.write('{"version": 2, "tracks": ["pitla')
    resumed = TrainingLog(tmp_path, resume=True)
    assert resumed.last_iteration == 1 and resumed.next_episode == 8
    assert metrics_path(tmp_path).read_text() == whole
    resumed.write_iteration(2, episodes[2], track)
    resumed.write_evaluation(2, evaluation, track)
    metrics = TrainingMetrics(None, fname=str(metrics_path(tmp_path))).metrics
    assert metrics[metrics["phase"] == "training"]["iteration"].tolist() == [0] * 4 + [1] * 4 + [2] * 4
    assert len(metrics[metrics["phase"] == "evaluation"]) == 6


def test_logs_of_the_older_layout_are_rewritten_on_resume(tmp_path, track, run):
    """A run logged before the appendable layout (one state document, the metrics document
    rewritten whole) resumes: both files are written again in the new layout."""
    episodes, evaluation = run
    _log_iterations(tmp_path, track, run, 2)
    document = json.loads(metrics_path(tmp_path).read_text())
    new_state = tmp_path / "logs" / "training_log_state.jsonl"
    records = [json.loads(line)["record"] for line in new_state.read_text().splitlines()]
    latest = {r["iteration"]: r for r in records}
    old_records = [{k: v for k, v in r.items() if k not in ("metrics_offset", "evaluation_offset", "metrics_end")}
                   for r in latest.values()]
    new_state.unlink()
    (tmp_path / "logs" / "training_log_state.json").write_text(
        json.dumps({"version": 1, "tracks": ["pitlane_loop"], "iterations": old_records}, indent=1))
    metrics_path(tmp_path).write_text(json.dumps(document, indent=None))
    resumed = TrainingLog(tmp_path, resume=True)
    assert resumed.last_iteration == 1 and resumed.next_episode == 8
    assert not (tmp_path / "logs" / "training_log_state.json").exists() and new_state.exists()
    assert json.loads(metrics_path(tmp_path).read_text()) == document
    resumed.write_iteration(2, episodes[2], track)
    again = json.loads(metrics_path(tmp_path).read_text())
    assert again["metrics"][:len(document["metrics"])] == document["metrics"] and len(again["metrics"]) == 16
