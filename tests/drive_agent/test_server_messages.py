"""What the drive agent says when the real Pitlane API refuses a model: the server's reason for a
model that is not ready (409), and that no token was given when none was (not "rejected")."""

from __future__ import annotations

import pytest

from drive_agent.cli import main
from webapp.api.services import issue_token
from webapp.garage.models import TrainedModel

pytestmark = pytest.mark.django_db(transaction=True)


def run_cli(capsys, monkeypatch, *argv: str) -> tuple[int, str]:
    monkeypatch.delenv("PITLANE_TOKEN", raising=False)
    code = main(list(argv))
    return code, capsys.readouterr().err


def test_a_model_still_training_prints_the_servers_reason(live_server, team_a, make_ready_model, tmp_path,
                                                          capsys, monkeypatch):
    model = make_ready_model(team_a, name="Night run", status=TrainedModel.Status.TRAINING)
    _, secret = issue_token(team=team_a, user=team_a.captain, name="laptop")
    code, err = run_cli(capsys, monkeypatch, "--model-id", str(model.pk), "--server", live_server.url,
                        "--token", secret, "--cache-dir", str(tmp_path), "--target", "sim", "--track", "pitlane_loop")
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err
    assert "HTTP 409" in err
    assert f"Model {model.pk} (“Night run”) is not ready to drive: its status is training" in err


def test_no_token_says_none_was_given(live_server, team_a, make_ready_model, tmp_path, capsys, monkeypatch):
    model = make_ready_model(team_a)
    code, err = run_cli(capsys, monkeypatch, "--model-id", str(model.pk), "--server", live_server.url,
                        "--cache-dir", str(tmp_path), "--target", "sim", "--track", "pitlane_loop")
    assert code == 2 and err.count("\n") == 1
    assert "no API token was given" in err and "--token or set PITLANE_TOKEN" in err
    assert "rejected" not in err


def test_a_wrong_token_is_still_rejected(live_server, team_a, make_ready_model, tmp_path, capsys, monkeypatch):
    model = make_ready_model(team_a)
    code, err = run_cli(capsys, monkeypatch, "--model-id", str(model.pk), "--server", live_server.url,
                        "--token", "plt_not-a-token", "--cache-dir", str(tmp_path), "--target", "sim",
                        "--track", "pitlane_loop")
    assert code == 2 and "the server rejected the API token (401" in err and "no API token" not in err
