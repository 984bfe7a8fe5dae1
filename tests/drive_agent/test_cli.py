"""The drive_agent command: one-line errors with exit code 2, and real drives end to end."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from drive_agent.cli import main
from tests.drive_agent.fake_api import TOKEN, FakeApi
from tests.drive_agent.helpers import udacity_frame


@pytest.fixture
def api(tiny_models: Path):
    server = FakeApi.for_tiny(tiny_models)
    yield server
    server.stop()


def run_cli(capsys, *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().err


@pytest.mark.parametrize("token, model_id, message", [
    ("plt_wrong", "42", "rejected the API token (401: Invalid token.)"),
    (TOKEN, "7", "no such model (404"),
    (TOKEN, "13", "checksum mismatch"),
])
def test_fetch_errors_are_one_line_exit_2(api, tmp_path, capsys, token, model_id, message) -> None:
    code, err = run_cli(capsys, "--model-id", model_id, "--server", api.url, "--token", token,
                        "--cache-dir", str(tmp_path), "--target", "car", "--frames", str(tmp_path))
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("drive_agent: error: ") and message in err
    assert "Traceback" not in err


def test_missing_model_file_and_bad_card(tmp_path, capsys, tiny_models) -> None:
    code, err = run_cli(capsys, "--model-file", str(tmp_path / "nope.tflite"))
    assert code == 2 and "not found" in err
    shutil.copy(tiny_models / "regression_float.tflite", tmp_path / "model.tflite")
    (tmp_path / "model_card.json").write_text("{}")
    code, err = run_cli(capsys, "--model-file", str(tmp_path / "model.tflite"))
    assert code == 2 and "missing key 'kind'" in err and err.count("\n") == 1


def test_env_token_fetch_then_car_replay_over_udp(api, tmp_path, capsys, monkeypatch) -> None:
    import socket

    frames = tmp_path / "frames"
    frames.mkdir()
    for i in range(3):
        Image.fromarray(udacity_frame(i)).save(frames / f"{i}.jpg")
    listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    listener.bind(("127.0.0.1", 0))
    monkeypatch.setenv("PITLANE_TOKEN", TOKEN)
    monkeypatch.setenv("PITLANE_SERVER", api.url)
    try:
        code = main(["--model-id", "42", "--cache-dir", str(tmp_path / "cache"), "--target", "car",
                     "--frames", str(frames), "--fps", "30", "--udp", f"127.0.0.1:{listener.getsockname()[1]}",
                     "--max-frame-age", "5", "--frame-timeout", "5"])
        datagrams = [listener.recv(4096) for _ in range(4)]
    finally:
        listener.close()
    out = capsys.readouterr().out
    assert code == 0 and "3 frames" in out and "latency over 3 frames" in out
    assert b'"source": "stop"' in datagrams[-1]


def test_sim_target_drives_and_writes_outputs(tiny_models, tmp_path) -> None:
    shutil.copy(tiny_models / "regression_float.tflite", tmp_path / "model.tflite")
    shutil.copy(tiny_models / "regression_float.json", tmp_path / "model_card.json")
    proc = subprocess.run(
        [sys.executable, "-m", "drive_agent", "--model-file", str(tmp_path / "model.tflite"), "--target", "sim",
         "--track", "pitlane_loop_road", "--max-time", "8", "--gif", str(tmp_path / "drive.gif"),
         "--plot", str(tmp_path / "lap.html"), "--out", str(tmp_path / "eval")],
        capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "pitlane_loop_road: completion" in proc.stdout and "latency over" in proc.stdout
    (evaluation,) = (tmp_path / "eval").glob("evaluation-[0-9]*")  # deepracer-for-cloud's layout
    for path in (tmp_path / "drive.gif", tmp_path / "lap.html", evaluation / "metrics.json",
                 evaluation / "evaluation-simtrace" / "0-iteration.csv", tmp_path / "eval/model/model_metadata.json"):
        assert path.stat().st_size > 0, path


@pytest.mark.parametrize("option, value", [
    ("--laps", "0"), ("--trials", "0"), ("--trials", "-1"), ("--max-time", "-3"), ("--set-speed", "-5"),
    ("--set-speed", "nan"), ("--max-time", "inf"),
])
def test_sim_counts_speeds_and_times_below_one_are_usage_errors(tmp_path, capsys, option, value) -> None:
    """`--laps 0` crashed with a traceback; `--trials 0`, a negative time or set speed drove nothing
    and exited 0. Each is now refused by argparse (exit 2) with the option's name."""
    with pytest.raises(SystemExit) as exit_info:
        main(["--model-file", str(tmp_path / "model.tflite"), "--target", "sim",
              "--track", "pitlane_loop_road", option, value])
    assert exit_info.value.code == 2
    assert f"argument {option}:" in capsys.readouterr().err
