"""The command line: grid expansion (no TensorFlow) and a tiny training run."""

import json
import subprocess
import sys
from pathlib import Path

from training.bc.cli import main, progress_line

ROOT = Path(__file__).resolve().parents[2]


def test_grid_prints_one_config_per_combination(tmp_path):
    cfg = tmp_path / "grid.json"
    cfg.write_text(json.dumps({"loss": ["mae", "mse"], "smoothing": ["none", "gaussian"]}))
    proc = subprocess.run([sys.executable, "-m", "training.bc", "grid", "--config", str(cfg)],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [(c["loss"], c["smoothing"]) for c in lines] == [
        ("mae", "none"), ("mae", "gaussian"), ("mse", "none"), ("mse", "gaussian")]
    assert "4 configurations" in proc.stderr


def test_invalid_config_exits_with_a_message(tmp_path, capsys):
    cfg = tmp_path / "bad.json"
    cfg.write_text(json.dumps({"epochs": 0}))
    assert main(["grid", "--config", str(cfg)]) == 2
    assert "epochs must be at least 1" in capsys.readouterr().err


def test_train_prints_progress_on_stderr(real_sample, tmp_path, capsys):
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps({"epochs": 1, "batch_size": 32, "saliency_samples": 1,
                               "saliency_gif_frames": 2, "val_block_frames": 20}))
    code = main(["train", "--dataset", str(real_sample), "--config", str(cfg),
                 "--out", str(tmp_path / "out")])
    captured = capsys.readouterr()
    assert code == 0
    assert json.loads(captured.out.strip().splitlines()[-1])["status"] == "completed"
    assert "epoch 1/1 batch" in captured.err and "val_loss" in captured.err
    assert "eta" in captured.err


def test_progress_line_format():
    line = progress_line({"epoch": 2, "epochs": 5, "batch": 7, "batches": 10, "loss": 0.12345,
                          "val_loss": None, "eta_s": 75.2, "percent": 34.0, "phase": "batch"})
    assert line == "epoch 2/5 batch 7/10 loss 0.1235 val_loss - eta 01:15 (34%)"


def test_a_stopped_run_exits_3_and_says_how_to_resume(tmp_path, capsys, monkeypatch):
    from simulator.stopping import Stopped

    def stopped(*args, **kwargs):
        raise Stopped("training stopped in epoch 2 of 5")

    monkeypatch.setattr("training.bc.train.train", stopped)
    code = main(["train", "--dataset", str(tmp_path), "--out", str(tmp_path / "out")])
    captured = capsys.readouterr()
    assert code == 3 and captured.out == ""
    assert "stopped: training stopped in epoch 2 of 5" in captured.err and "resume" in captured.err
