"""Trials share one simulation clock (as AWS's metrics do), which adds dt step by step: a trial
started later reads its elapsed time a few ulps short after the same number of steps. Under a
time limit, every trial of a deterministic policy must still run the same steps (found by the
outside test of issue 13: an evaluation's first trial stopped at 60.0 s, the next ones one step
later at 60.067 s, while the page said that every trial repeats the first)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from simulator.car import Command
from simulator.episode import run_trials
from simulator.rules import EVALUATION_RULES, EpisodeStatus, time_is_up
from simulator.track import load_track


@pytest.mark.parametrize("limit", [3.0, 10.0, 60.0])
def test_every_trial_stops_at_the_same_step_under_a_time_limit(limit):
    track = load_track("reinvent_base")
    result = run_trials(lambda state: Command(0.0, 0.0), track, n_trials=3,
                        rules=replace(EVALUATION_RULES, time_limit_s=limit))
    assert [t.status for t in result.trials] == [EpisodeStatus.TIME_UP] * 3
    assert len({t.steps for t in result.trials}) == 1, [t.steps for t in result.trials]
    for trial in result.trials:
        # The limit is a whole number of steps (dt = 1/15 s): the trial ends on the step that reaches it.
        assert trial.elapsed_s == pytest.approx(limit, abs=1e-6)


def test_time_is_up_tolerates_float_drift_only():
    assert time_is_up(59.99999999999, 60.0)
    assert time_is_up(60.0, 60.0)
    assert not time_is_up(60.0 - 1 / 15, 60.0)
