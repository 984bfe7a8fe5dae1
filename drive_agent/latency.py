"""Per-frame latency of the control loop, by stage, and the loop rate.

Seed 000's lesson: at 0.35 s a frame the car weaved off the road, at 0.1 s it drove. The agent
therefore measures every frame (decode, preprocess, inference, send) and warns when the loop is
too slow to steer.
"""

from __future__ import annotations

import time
from collections import deque

import numpy as np

STAGES = ("decode", "preprocess", "inference", "send")
MAX_P99_MS = 100.0
MIN_RATE_HZ = 10.0


class FrameTimer:
    """Stopwatch for one frame: `lap(stage)` charges the time since the previous lap to `stage`."""

    __slots__ = ("_stats", "start", "_last", "durations")

    def __init__(self, stats: LatencyStats) -> None:
        self._stats = stats
        self.start = self._last = time.perf_counter()
        self.durations: dict[str, float] = {}

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.durations[stage] = self.durations.get(stage, 0.0) + now - self._last
        self._last = now

    def done(self) -> None:
        self._stats.add(self.start, self._last - self.start, self.durations)


class LatencyStats:
    """Keeps the last `window` frames; summarises p50/p99 per stage and the loop rate."""

    def __init__(self, window: int = 100_000) -> None:
        self._starts: deque[float] = deque(maxlen=window)
        self._totals: deque[float] = deque(maxlen=window)
        self._stages: dict[str, deque[float]] = {}
        self._window = window

    def frame(self) -> FrameTimer:
        return FrameTimer(self)

    def add(self, start: float, total: float, durations: dict[str, float]) -> None:
        self._starts.append(start)
        self._totals.append(total)
        for stage, seconds in durations.items():
            self._stages.setdefault(stage, deque(maxlen=self._window)).append(seconds)

    @property
    def frames(self) -> int:
        return len(self._totals)

    def rate_hz(self) -> float | None:
        """Frames per second between the first and the last frame start (None below 2 frames)."""
        if len(self._starts) < 2:
            return None
        span = self._starts[-1] - self._starts[0]
        return (len(self._starts) - 1) / span if span > 0 else None

    def summary(self) -> dict:
        """{'frames', 'rate_hz', 'total': {p50_ms, p99_ms}, 'stages': {name: {p50_ms, p99_ms}}}."""
        ordered = [s for s in STAGES if s in self._stages] + sorted(set(self._stages) - set(STAGES))
        return {
            "frames": self.frames,
            "rate_hz": self.rate_hz(),
            "total": _percentiles(self._totals),
            "stages": {s: _percentiles(self._stages[s]) for s in ordered},
        }

    def slow_warning(self, max_p99_ms: float = MAX_P99_MS, min_rate_hz: float = MIN_RATE_HZ,
                     min_frames: int = 10) -> str | None:
        """A warning line when p99 frame latency or the loop rate is too poor to steer by
        (None until `min_frames` frames make the figures meaningful)."""
        if self.frames < min_frames:
            return None
        summary = self.summary()
        problems = []
        p99 = summary["total"]["p99_ms"]
        if p99 > max_p99_ms:
            problems.append(f"p99 frame latency {p99:.1f} ms > {max_p99_ms:.0f} ms")
        rate = summary["rate_hz"]
        if rate is not None and rate < min_rate_hz:
            problems.append(f"loop rate {rate:.1f} Hz < {min_rate_hz:.0f} Hz")
        if not problems:
            return None
        return ("WARNING: control loop too slow to steer (" + "; ".join(problems)
                + "); seed 000: at 0.35 s/frame the car weaved off the road")

    def report(self) -> str:
        summary = self.summary()
        if not summary["frames"]:
            return "latency: no frames"
        rate = summary["rate_hz"]
        lines = [f"latency over {summary['frames']} frames, loop rate "
                 + (f"{rate:.1f} Hz" if rate is not None else "n/a")]
        for name, pct in [("total", summary["total"]), *summary["stages"].items()]:
            lines.append(f"  {name:<11} p50 {pct['p50_ms']:7.2f} ms   p99 {pct['p99_ms']:7.2f} ms")
        warning = self.slow_warning()
        if warning:
            lines.append(warning)
        return "\n".join(lines)


def _percentiles(values: deque[float]) -> dict[str, float]:
    if not values:
        return {"p50_ms": 0.0, "p99_ms": 0.0}
    p50, p99 = np.percentile(np.fromiter(values, dtype=np.float64), [50, 99]) * 1000.0
    return {"p50_ms": float(p50), "p99_ms": float(p99)}
