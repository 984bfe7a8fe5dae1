"""How long a training run has left, from the batches it has measured.

The first batch of a run pays for tracing, XLA compilation and filling the input pipeline: a
3-minute run whose first batch took 20 s once read "94m 53s" when that batch was taken as the
rate. `BatchRateEta` leaves the first `warmup_batches` out, measures the rate of the training
batches after them, times the pauses at the end of each epoch separately (the validation pass
and the checkpoint; the first pause also compiles the validation step, so later pauses replace
it once measured) and answers

    eta = batches left / measured batch rate + epoch ends left x measured pause

or None while fewer than `min_batches` batches have been measured. Pure (times are passed in),
so the arithmetic is tested without TensorFlow.
"""

from __future__ import annotations


class BatchRateEta:
    def __init__(self, total_batches: int, warmup_batches: int = 1, min_batches: int = 2) -> None:
        self.total_batches = total_batches
        self.warmup_batches = warmup_batches
        self.min_batches = min_batches
        self._anchor: tuple[float, int] | None = None   # (time, batches done) after the warm-up
        self._done = 0
        self._last = 0.0
        self._pause_started: float | None = None
        self._paused_since_anchor = 0.0
        self._pauses: list[float] = []

    def batch_end(self, done: int, now: float) -> None:
        """`done` training batches of this run are finished at time `now` (seconds)."""
        self._done = done
        self._last = now
        if self._anchor is None and done >= self.warmup_batches:
            self._anchor = (now, done)

    def pause_begin(self, now: float) -> None:
        """An epoch's last batch is done: validation and the checkpoint follow."""
        self._pause_started = now

    def pause_end(self, now: float) -> None:
        """The next epoch's first batch begins."""
        if self._pause_started is None:
            return
        seconds = now - self._pause_started
        self._pause_started = None
        self._pauses.append(seconds)
        if self._anchor is not None:
            self._paused_since_anchor += seconds

    @property
    def measured_batches(self) -> int:
        return 0 if self._anchor is None else self._done - self._anchor[1]

    def batches_per_s(self) -> float | None:
        """Training batches per second since the warm-up (epoch-end pauses left out)."""
        if self._anchor is None or self.measured_batches < self.min_batches:
            return None
        seconds = self._last - self._anchor[0] - self._paused_since_anchor
        return self.measured_batches / seconds if seconds > 0 else None

    def pause_s(self) -> float:
        """An epoch end's time: the later pauses' mean once there are any (the first compiles)."""
        pauses = self._pauses[1:] or self._pauses
        return sum(pauses) / len(pauses) if pauses else 0.0

    def eta_s(self, epoch_ends_left: int) -> float | None:
        rate = self.batches_per_s()
        if rate is None:
            return None
        left = max(0, self.total_batches - self._done)
        return left / rate + max(0, epoch_ends_left) * self.pause_s()
