"""Keras callbacks that make training a well-behaved background job.

`ProgressReporter` feeds `on_progress` (rate-limited) and polls `should_stop`; its ETA comes from
the batches measured after the first (`training.bc.eta`), and each epoch's end carries that
epoch's logs (loss, val_loss, ...) so a page can chart them as they come; stopping raises
`simulator.stopping.Stopped` out of `fit` at once, so no validation pass or checkpoint of a half
epoch follows (the last finished epoch's checkpoint stays, to resume from). `EpochCheckpointer`
saves model + optimizer + epoch + history after every epoch (so a worker that dies resumes at the
next epoch), keeps the best weights and does early stopping with its counters in the checkpoint
too.
"""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path
from typing import Any

import keras

from simulator.stopping import OnProgress, ShouldStop, Stopped
from training.bc.eta import BatchRateEta

CHECKPOINT_DIR = "checkpoint"
STATE_FILE = "state.json"
MODEL_FILE = "model.keras"
BEST_WEIGHTS_FILE = "best.weights.h5"


class ProgressReporter(keras.callbacks.Callback):
    def __init__(self, on_progress: OnProgress | None, should_stop: ShouldStop | None, epochs: int,
                 steps_per_epoch: int, start_epoch: int, last_val_loss: float | None,
                 report_interval_s: float = 0.25, stop_check_interval_s: float = 0.25) -> None:
        super().__init__()
        self.on_progress = on_progress
        self.should_stop = should_stop
        self.epochs = epochs
        self.steps = steps_per_epoch
        self.start_epoch = start_epoch
        self.val_loss = last_val_loss
        self.report_interval_s = report_interval_s
        self.stop_check_interval_s = stop_check_interval_s
        self.epoch = start_epoch
        self._started = time.monotonic()
        self._eta = BatchRateEta((epochs - start_epoch) * steps_per_epoch)
        self._last_report = -math.inf
        self._last_check = -math.inf

    def _check_stop(self, force: bool = False) -> None:
        now = time.monotonic()
        if self.should_stop is None or (not force and
                                        now - self._last_check < self.stop_check_interval_s):
            return
        self._last_check = now
        if self.should_stop():
            raise Stopped(f"training stopped in epoch {self.epoch + 1} of {self.epochs}")

    def _done_here(self, batch: int) -> int:
        return (self.epoch - self.start_epoch) * self.steps + batch

    def _emit(self, batch: int, loss: float | None, phase: str, force: bool = False,
              epoch_logs: dict[str, float] | None = None) -> None:
        now = time.monotonic()
        if self.on_progress is None or (not force and
                                        now - self._last_report < self.report_interval_s):
            return
        self._last_report = now
        rate = self._eta.batches_per_s()
        event: dict[str, Any] = {
            "phase": phase,
            "epoch": self.epoch + 1,
            "epochs": self.epochs,
            "batch": batch,
            "batches": self.steps,
            "loss": loss,
            "val_loss": self.val_loss,
            "eta_s": self._eta.eta_s(epoch_ends_left=self.epochs - self.epoch),
            "batches_done": self._done_here(batch),
            "batches_total": self._eta.total_batches,
            "batches_per_s": rate,
            "elapsed_s": now - self._started,
            "percent": 100.0 * (self.epoch * self.steps + batch) / (self.epochs * self.steps),
        }
        if epoch_logs is not None:
            event["epoch_logs"] = epoch_logs
        self.on_progress(event)

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self.epoch = epoch
        self._check_stop(force=True)

    def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        if batch == 0:
            self._eta.pause_end(time.monotonic())

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self._eta.batch_end(self._done_here(batch + 1), time.monotonic())
        if batch + 1 == self.steps:
            self._eta.pause_begin(time.monotonic())
        loss = float(logs["loss"]) if logs and "loss" in logs else None
        self._emit(batch + 1, loss, "batch", force=batch + 1 == self.steps)
        self._check_stop()

    def on_test_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self._check_stop()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = logs or {}
        if "val_loss" in logs:
            self.val_loss = float(logs["val_loss"])
        self._emit(self.steps, float(logs["loss"]) if "loss" in logs else None, "epoch_end",
                   force=True, epoch_logs={k: float(v) for k, v in logs.items()})


def _atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


class EpochCheckpointer(keras.callbacks.Callback):
    """Checkpoint each finished epoch; early stopping on val_loss; remember the best weights."""

    def __init__(self, out_dir: Path, config: dict[str, Any], patience: int,
                 state: dict[str, Any] | None = None) -> None:
        super().__init__()
        self.dir = out_dir / CHECKPOINT_DIR
        self.dir.mkdir(parents=True, exist_ok=True)
        self.config = config
        self.patience = patience
        self.state = state or {"epoch": 0, "history": {}, "best_val_loss": None,
                               "best_epoch": None, "wait": 0, "stopped_early": False,
                               "epoch_time_s": []}
        self._epoch_started = time.monotonic()

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._epoch_started = time.monotonic()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = logs or {}
        state = self.state
        for key, value in logs.items():
            state["history"].setdefault(key, []).append(float(value))
        state["epoch_time_s"].append(time.monotonic() - self._epoch_started)
        val_loss = float(logs.get("val_loss", logs.get("loss", math.inf)))
        best = state["best_val_loss"]
        if best is None or val_loss < best:
            state.update(best_val_loss=val_loss, best_epoch=epoch + 1, wait=0)
            self.model.save_weights(self.dir / ("next_" + BEST_WEIGHTS_FILE))
            os.replace(self.dir / ("next_" + BEST_WEIGHTS_FILE), self.dir / BEST_WEIGHTS_FILE)
        else:
            state["wait"] += 1
            if self.patience > 0 and state["wait"] >= self.patience:
                state["stopped_early"] = True
                self.model.stop_training = True
        state["epoch"] = epoch + 1
        self.model.save(self.dir / ("next_" + MODEL_FILE))
        os.replace(self.dir / ("next_" + MODEL_FILE), self.dir / MODEL_FILE)
        # state.json last: it is the commit point a resumed run trusts.
        _atomic_write_text(self.dir / STATE_FILE,
                           json.dumps({"config": self.config, **state}, indent=2))


def load_checkpoint_state(out_dir: Path) -> dict[str, Any] | None:
    path = out_dir / CHECKPOINT_DIR / STATE_FILE
    if not path.is_file() or not (out_dir / CHECKPOINT_DIR / MODEL_FILE).is_file():
        return None
    return json.loads(path.read_text())
