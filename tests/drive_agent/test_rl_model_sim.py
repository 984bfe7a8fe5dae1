"""`drive_agent --model-id N --target sim` with an RL model (kind REINFORCEMENT, a
`discrete_actions` card for the DeepRacer camera) served by a live Pitlane (Daphne, the test
database): the agent fetches it with a team token, verifies it, drives our simulator at the chosen
actions' angle and speed and writes DeepRacer's sim-trace and metrics; another team's model is a
one-line 404."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.paths import ROOT

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def drive_agent(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "drive_agent", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=180)


def test_an_rl_model_drives_the_sim_target_from_the_server(daphne_server, team_a, team_b, make_ready_rl_model,
                                                           tmp_path: Path):
    from webapp.api.models import ApiToken

    model = make_ready_rl_model(team_a, name="PPO on the loop")
    token = ApiToken.issue(team=team_a, user=team_a.captain, name="laptop")[1]
    out = tmp_path / "run"
    proc = drive_agent("--model-id", str(model.pk), "--server", daphne_server, "--token", token,
                       "--cache-dir", str(tmp_path / "cache"), "--target", "sim", "--track", "pitlane_loop",
                       "--trials", "2", "--out", str(out))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "trial 1 lap 1:" in proc.stdout and "trial 2 lap 1:" in proc.stdout
    assert "pitlane_loop: completion 100.0 %" in proc.stdout

    (evaluation,) = out.glob("evaluation-[0-9]*")  # deepracer-for-cloud's layout
    summary = json.loads((evaluation / "summary.json").read_text())
    assert summary["model_kind"] == "discrete_actions" and summary["completed_laps"] == 2
    actions = model.card["action_space"]
    with (evaluation / "evaluation-simtrace" / "0-iteration.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == summary["steps"]
    chosen = [actions[int(row["action"])] for row in rows]
    assert [float(row["steer"]) for row in rows] == pytest.approx([a["steering_angle"] for a in chosen])
    assert [float(row["throttle"]) for row in rows] == pytest.approx([a["speed"] for a in chosen])
    assert len({row["action"] for row in rows}) >= 3
    metrics = json.loads((evaluation / "metrics.json").read_text())["metrics"]
    assert [m["episode_status"] for m in metrics] == ["Lap complete", "Lap complete"]

    theirs = make_ready_rl_model(team_b, name="Bravo's policy")
    refused = drive_agent("--model-id", str(theirs.pk), "--server", daphne_server, "--token", token,
                          "--cache-dir", str(tmp_path / "cache"), "--target", "sim", "--track", "pitlane_loop")
    assert refused.returncode == 2 and "404" in refused.stderr and "Traceback" not in refused.stderr
