"""Cancellation stops within a batch or two (raising Stopped); a re-run in the same out_dir resumes."""

import json
import time

import pytest

from simulator.stopping import Stopped
from tests.bc.helpers import tiny_config
from training.bc.callbacks import load_checkpoint_state
from training.bc.train import train


def test_should_stop_cancels_quickly(real_sample, tmp_path):
    cfg = tiny_config(epochs=50, batch_size=8)
    asked_at: list[float] = []
    batches = []

    def should_stop() -> bool:
        if len(batches) >= 3:
            asked_at.append(time.monotonic())
            return True
        return False

    with pytest.raises(Stopped, match="training stopped in epoch"):
        train([real_sample], cfg, tmp_path / "run", should_stop=should_stop,
              on_progress=lambda p: batches.append(p) if p["phase"] == "batch" else None)
    assert time.monotonic() - asked_at[0] < 3.0
    state = load_checkpoint_state(tmp_path / "run")
    assert state is None or state["epoch"] < 50
    assert not (tmp_path / "run" / "model.tflite").exists()


def test_rerun_resumes_after_the_last_checkpointed_epoch(real_sample, tmp_path):
    cfg = tiny_config(epochs=2, batch_size=32, saliency_samples=1, saliency_gif_frames=0)
    out = tmp_path / "run"
    ended: list[int] = []  # epochs whose end was reported

    def stop_once_the_first_epoch_ended() -> bool:
        # Checked (forced) as the second epoch begins; rate-limited checks inside an epoch
        # may not come at all when an epoch of the tiny sample takes under 0.25 s.
        return bool(ended)

    with pytest.raises(Stopped, match="epoch 2 of 2"):
        train([real_sample], cfg, out, should_stop=stop_once_the_first_epoch_ended,
              on_progress=lambda p: ended.append(p["epoch"]) if p["phase"] == "epoch_end" else None)
    state = json.loads((out / "checkpoint" / "state.json").read_text())
    assert state["epoch"] == 1 and len(state["history"]["loss"]) == 1

    resumed_epochs: list[int] = []
    second = train([real_sample], cfg, out,
                   on_progress=lambda p: resumed_epochs.append(p["epoch"]))
    assert second.resumed_from_epoch == 1 and second.epochs_completed == 2
    assert min(resumed_epochs) == 2
    assert len(second.history["loss"]) == 2


def test_a_different_config_refuses_the_checkpoint(real_sample, tmp_path):
    out = tmp_path / "run"
    finished: list[dict] = []  # stop right after the first checkpoint: no export needed here
    with pytest.raises(Stopped):
        train([real_sample], tiny_config(epochs=2), out, should_stop=lambda: bool(finished),
              on_progress=lambda p: finished.append(p) if p["phase"] == "epoch_end" else None)
    assert (out / "checkpoint" / "state.json").is_file()
    with pytest.raises(ValueError, match="different configuration"):
        train([real_sample], tiny_config(epochs=2, learning_rate=0.1), out)
