"""Log analysis of an RL run: heat map, actions along the track, best/worst paths, per-iteration
table, from the logs `TrainingLog` writes (and from AWS's own simtrace CSV)."""

import shutil
import time

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from simulator.track import load_track
from tests.rl import synthetic_runs as runs
from training.rl import analysis, plots
from training.rl.logs import TrainingLog, columns_path


@pytest.fixture(scope="module")
def track():
    return load_track("pitlane_loop")


@pytest.fixture(scope="module")
def run(track):
    return runs.iterations(track), runs.evaluation(track)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, track, run):
    episodes, evaluation = run
    out = tmp_path_factory.mktemp("run")
    runs.write_run_files(out)
    log = TrainingLog(out)
    for k, batch in enumerate(episodes):
        log.write_iteration(k, batch, track)
        log.write_evaluation(k, evaluation, track)
    return out


def flat_steps(episodes, iterations=(0, 1, 2)):
    return [s for k in iterations for ep in episodes[k] for s in ep]


def test_reward_heatmap_is_the_mean_reward_per_cell(run_dir, run, track):
    episodes, _ = run
    steps = analysis.load_steps(run_dir)
    heat = analysis.reward_heatmap(steps, track, cell_m=0.25)
    trace = flat_steps(episodes)
    assert heat["steps"] == len(trace)
    assert sum(map(sum, heat["count"])) == len(trace)
    x0 = heat["x"][0] - 0.125
    y0 = heat["y"][0] - 0.125
    cells: dict[tuple[int, int], list[float]] = {}
    for s in trace:
        cells.setdefault((int((s.y - y0) // 0.25), int((s.x - x0) // 0.25)), []).append(s.reward)
    for (row, col), rewards in list(cells.items())[:50]:
        assert heat["mean_reward"][row][col] == pytest.approx(np.mean(rewards), abs=1e-4)
    empty = [(r, c) for r in range(len(heat["y"])) for c in range(len(heat["x"])) if (r, c) not in cells]
    assert empty and all(heat["mean_reward"][r][c] is None for r, c in empty)


def test_actions_along_track(run_dir, run, track):
    episodes, _ = run
    steps = analysis.load_steps(run_dir)
    acts = analysis.actions_along_track(steps, track, segments=10, n_actions=runs.ACTIONS.n)
    trace = flat_steps(episodes)
    assert sum(acts["count"]) == len(trace)
    n_wp = len(track.center)
    seg = [(s.closest_waypoint % n_wp) * 10 // n_wp for s in trace]
    for k in range(10):
        mine = [s for s, g in zip(trace, seg, strict=True) if g == k]
        assert acts["count"][k] == len(mine)
        assert acts["mean_steering_deg"][k] == pytest.approx(np.mean([s.steering_deg for s in mine]), abs=1e-3)
        assert acts["mean_speed"][k] == pytest.approx(np.mean([s.speed for s in mine]), abs=1e-3)
        hist = np.bincount([s.action for s in mine], minlength=runs.ACTIONS.n)
        assert acts["action_histogram"][k] == hist.tolist()


@pytest.mark.parametrize("by", ["reward", "progress"])
def test_best_and_worst_paths(run_dir, run, by):
    episodes, _ = run
    flat = [ep for k in range(3) for ep in episodes[k]]
    score = [sum(s.reward for s in ep) if by == "reward" else max(s.progress for s in ep) for ep in flat]
    paths = analysis.best_and_worst_paths(analysis.load_steps(run_dir), by=by, n=2)
    best = paths["best"][0]
    assert best[by] == pytest.approx(max(score), abs=1e-3)
    chosen = flat[best["episode"]]
    assert best["x"] == pytest.approx([s.x for s in chosen], abs=1e-4)
    assert best["steps"] == len(chosen) and best["status"] == chosen[-1].status.value
    assert paths["worst"][0][by] == pytest.approx(min(score), abs=1e-3)
    assert paths["worst"][0]["status"] == "off_track"
    assert len(paths["best"]) == len(paths["worst"]) == 2


def test_iteration_summary(run_dir, run):
    episodes, evaluation = run
    rows = analysis.iteration_summary(run_dir)
    assert [r["iteration"] for r in rows] == [0, 1, 2]
    assert [r["completed_pct"] for r in rows] == [
        100.0 * sum(ep[-1].status.value == "lap_complete" for ep in batch) / 4 for batch in episodes]
    assert [r["episodes"] for r in rows] == [4, 4, 4]
    for k, row in enumerate(rows):
        rewards = [round(sum(s.reward for s in ep)) for ep in episodes[k]]
        assert row["reward_mean"] == pytest.approx(np.mean(rewards))
        assert row["eval_trials"] == 2
        assert row["eval_completion_pct"] == pytest.approx(np.mean([int(t.completion_pct) for t in evaluation.trials]))
        assert row["eval_lap_times"] == pytest.approx(
            [t.lap_time for t in evaluation.trials if t.lap_time is not None], abs=1e-3)


def test_analyse_run_range_and_csv_fallback(tmp_path, run_dir, run):
    episodes, _ = run
    result = analysis.analyse_run(run_dir, iterations=range(1, 3), n_paths=1)
    assert result["iterations"] == [1, 2]
    assert result["steps"] == len(flat_steps(episodes, (1, 2)))
    assert result["episodes"] == 8
    assert [r["iteration"] for r in result["summary_in_range"]] == [1, 2]
    assert result["track"] == "pitlane_loop"
    # Without the column files (e.g. logs copied from elsewhere) the CSVs give the same answer.
    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy)
    shutil.rmtree(copy / "logs" / "columns")
    again = analysis.analyse_run(copy, iterations=range(1, 3), n_paths=1)
    assert again["heatmap"]["count"] == result["heatmap"]["count"]
    assert again["actions"]["count"] == result["actions"]["count"]
    assert again["paths"]["best"][0]["episode"] == result["paths"]["best"][0]["episode"]
    with pytest.raises(analysis.AnalysisError, match="no training logs"):
        analysis.load_steps(run_dir, iterations=[7])


def test_evaluation_steps(run_dir, run):
    _, evaluation = run
    steps = analysis.load_steps(run_dir, "evaluation", [2])
    assert len(steps) == len(evaluation.trace)
    eps = analysis.episodes_of(steps)
    assert len(eps) == 2
    assert eps.completed.tolist() == [t.lap_time is not None for t in evaluation.trials]


def test_aws_console_simtrace(shared_data):
    """A real console training simtrace (reinvent_base), analysed like ours."""
    csv_path = shared_data / "deepracer" / "logs" / "console_training_simtrace_0-iteration.csv"
    table = analysis.read_simtrace_csv(csv_path)
    steps = analysis.Steps({**{k: table[k] for k in table.dtype.names},
                            "iteration": np.zeros(len(table), dtype=np.int32)}, ["reinvent_base"])
    eps = analysis.episodes_of(steps)
    folder = csv_path.parent
    aws = pd.read_csv(csv_path)
    agg = aws.groupby("episode").agg(reward=("reward", "sum"), progress=("progress", "max"))
    assert len(eps) == len(agg)
    assert eps.reward == pytest.approx(agg["reward"].to_numpy(), rel=1e-6)
    assert eps.progress == pytest.approx(agg["progress"].to_numpy(), abs=1e-4)
    reinvent = load_track(folder.parent / "tracks" / "reinvent_base.npy")
    heat = analysis.reward_heatmap(steps, reinvent)
    assert heat["steps"] > 0.95 * len(steps)
    acts = analysis.actions_along_track(steps, reinvent)
    assert sum(acts["count"]) == len(steps)


def test_figures_are_valid_plotly_with_the_track(run_dir, track):
    result = analysis.analyse_run(run_dir)
    figures = plots.analysis_figures(result, track)
    assert result["action_labels"][0] == "-30 deg 1 m/s"
    assert set(figures) == {"reward_heatmap", "actions", "action_histogram", "paths", "completion", "reward",
                            "lap_times"}
    for name, fig in figures.items():
        go.Figure(fig)  # raises on an invalid property
        assert fig["layout"]["title"]["text"], name
    heat = figures["reward_heatmap"]["data"]
    assert heat[0]["type"] == "heatmap"
    borders = [t for t in heat if t.get("name") == "outer border"]
    assert borders and len(borders[0]["x"]) == len(track.outer) + 1
    assert figures["paths"]["layout"]["yaxis"]["scaleanchor"] == "x"
    bars = figures["action_histogram"]["data"]
    assert len(bars) == runs.ACTIONS.n and bars[13]["name"] == "+0 deg 2 m/s"
    assert figures["lap_times"]["data"][0]["y"] == pytest.approx(
        [t for row in result["summary"] for t in row["eval_lap_times"]])


def test_hundred_thousand_steps_analyse_quickly(tmp_path, run_dir):
    """The analysis page must answer in about a second for 100k+ steps."""
    big = tmp_path / "big"
    shutil.copytree(run_dir, big)
    per = len(np.load(columns_path(big, "training", 0)))
    copies = 100_000 // per + 1
    for k in range(3, 3 + copies):
        shutil.copy(columns_path(big, "training", 0), columns_path(big, "training", k))
        shutil.copy(big / "training-simtrace" / "0-iteration.csv", big / "training-simtrace" / f"{k}-iteration.csv")
    start = time.perf_counter()
    result = analysis.analyse_run(big)
    figures = plots.analysis_figures(result, load_track("pitlane_loop"))
    elapsed = time.perf_counter() - start
    print(f"analysis of {result['steps']} steps: {elapsed:.2f} s")
    assert result["steps"] >= 100_000 and len(figures) == 7
    assert elapsed < 3.0  # ~0.3 s on a loaded 2-core machine


def test_load_run_for_the_page(run_dir, run):
    episodes, _ = run
    data = analysis.load_run(run_dir, first=1, last=1)
    assert data.totals() == {"episodes": 4, "steps": len(flat_steps(episodes, (1,))), "iterations": 1,
                             "first": 1, "last": 1, "track": "pitlane_loop"}
    figures = plots.analysis_figures(data)
    assert figures["completion"]["data"][0]["x"] == [1]
    assert figures["completion"]["layout"]["yaxis"]["range"] == [0, 105]
    assert figures["reward"]["data"][2]["y"] == [data.result["summary_in_range"][0]["reward_mean"]]
    with pytest.raises(analysis.AnalysisError, match="did not train on"):
        analysis.load_run(run_dir, track="pitlane_hairpin")
    with pytest.raises(analysis.AnalysisError, match="no training logs"):
        analysis.load_run(run_dir.parent / "nothing-here")
