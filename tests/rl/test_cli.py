"""`python -m training.rl train` as a subprocess: progress lines, the JSON summary, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from training.rl.cli import progress_line
from training.rl.sandbox import isolation_backend

REPO = Path(__file__).resolve().parents[2]
REWARD = '''def reward_function(params):
    return 1.0 - params["distance_from_center"] / params["track_width"]
'''


def _env() -> dict[str, str]:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    if isolation_backend() is None:
        env["PITLANE_UNSAFE_REWARD_SANDBOX"] = "1"
    return env


def test_progress_line_reads_like_a_sentence():
    line = progress_line({"phase": "iteration", "iteration": 4, "episodes": 100, "steps": 5000,
                          "reward_mean": 12.345, "progress_mean": 33.3, "eval_completion_pct": 100.0,
                          "eval_lap_times": [12.5, None, 12.4], "steps_per_s": 1234.4, "eta_s": 75,
                          "percent": 12.5})
    assert line == ("iteration 4 episodes 100 steps 5000 reward 12.3 progress 33.3% eval 100.0% laps 2 "
                    "1234 steps/s eta 01:15 (12%)")


def test_cli_trains_prints_progress_and_a_summary(tmp_path):
    reward = tmp_path / "reward.py"
    reward.write_text(REWARD)
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"num_envs": 2, "chunk_steps": 16, "num_episodes_between_training": 5,
                                  "batch_size": 32}))
    out = tmp_path / "run"
    proc = subprocess.run(
        [sys.executable, "-m", "training.rl", "train", "--reward", str(reward), "--track", "pitlane_loop",
         "--out", str(out), "--config", str(config), "--max-seconds", "4", "--eval-trials", "1"],
        cwd=REPO, env=_env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = [line for line in proc.stderr.splitlines() if line.startswith("iteration ")]
    assert lines and "steps/s" in lines[0] and "eta" in lines[0]
    assert "done:" in proc.stderr
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["status"] == "completed" and summary["stop_reason"] == "time_limit"
    assert summary["iterations"] >= 1
    assert json.loads((out / "training_config.json").read_text())["tracks"] == [
        {"name": "pitlane_loop", "reverse": False}]


@pytest.mark.parametrize(("args", "message"), [
    (["--max-minutes", "5"], "max_minutes must be in [10, 1440]"),
    (["--track", "nowhere"], "unknown track 'nowhere'"),
])
def test_cli_refuses_bad_settings_with_exit_2(tmp_path, args, message):
    reward = tmp_path / "reward.py"
    reward.write_text(REWARD)
    proc = subprocess.run([sys.executable, "-m", "training.rl", "train", "--reward", str(reward),
                           "--out", str(tmp_path / "run"), *args],
                          cwd=REPO, env=_env(), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and message in proc.stderr


def test_cli_stops_on_sigterm_with_exit_3(tmp_path):
    import signal

    reward = tmp_path / "reward.py"
    reward.write_text(REWARD)
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"num_envs": 2, "chunk_steps": 16, "num_episodes_between_training": 5,
                                  "batch_size": 32, "eval_trials": 0}))
    proc = subprocess.Popen(
        [sys.executable, "-m", "training.rl", "train", "--reward", str(reward), "--out", str(tmp_path / "run"),
         "--config", str(config), "--max-minutes", "10"],
        cwd=REPO, env=_env(), stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        for line in proc.stderr:
            if line.startswith("iteration 0 "):
                proc.send_signal(signal.SIGTERM)
                break
        rest = proc.stderr.read()
        assert proc.wait(timeout=120) == 3
    finally:
        if proc.poll() is None:
            proc.kill()
    assert "stopped:" in rest and "run the same command again to resume" in rest
    assert (tmp_path / "run" / "checkpoints" / "iter-0000" / "model.weights.h5").is_file()
