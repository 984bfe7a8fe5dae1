"""Latency statistics: per-stage p50/p99, loop rate, and the too-slow-to-steer warning."""

from __future__ import annotations

import pytest

from drive_agent.latency import LatencyStats


def feed(stats: LatencyStats, n: int, period: float, total: float, stages: dict[str, float]) -> None:
    for i in range(n):
        stats.add(i * period, total, stages)


def test_percentiles_and_rate() -> None:
    stats = LatencyStats()
    for i in range(100):
        stats.add(i * 0.05, (i + 1) / 1000, {"decode": 0.001, "inference": (i + 1) / 2000})
    summary = stats.summary()
    assert summary["frames"] == 100
    assert summary["rate_hz"] == pytest.approx(20.0)
    assert summary["total"]["p50_ms"] == pytest.approx(50.5)
    assert summary["total"]["p99_ms"] == pytest.approx(99.01)
    assert list(summary["stages"]) == ["decode", "inference"]
    assert summary["stages"]["decode"]["p99_ms"] == pytest.approx(1.0)
    assert stats.slow_warning() is None
    assert "loop rate 20.0 Hz" in stats.report()


def test_warns_when_too_slow_to_steer() -> None:
    slow = LatencyStats()
    feed(slow, 20, 0.35, 0.35, {"inference": 0.35})
    warning = slow.slow_warning()
    assert "p99 frame latency 350.0 ms > 100 ms" in warning and "loop rate 2.9 Hz < 10 Hz" in warning
    assert warning in slow.report()


def test_no_verdict_on_too_few_frames_and_timer_laps() -> None:
    stats = LatencyStats()
    feed(stats, 3, 1.0, 0.5, {})
    assert stats.slow_warning() is None
    timer = stats.frame()
    timer.lap("decode")
    timer.lap("send")
    timer.lap("decode")
    timer.done()
    assert stats.frames == 4 and set(timer.durations) == {"decode", "send"}
    assert LatencyStats().report() == "latency: no frames"
