"""Fixtures for evaluation tests: a finished evaluation run in-process, on a ready tiny model
(`make_ready_model`, tests/support/model_fixtures.py, registered in tests/conftest.py)."""

from __future__ import annotations

import pytest

from simulator.limit import physics_fingerprint
from tests.evaluations.helpers import FAKE_LIMIT_S


@pytest.fixture
def run_evaluation_now(make_ready_model):
    """run(team, **fields) -> an Evaluation driven in this process by the real runner."""
    from webapp.evaluations.models import Evaluation, TrackLimit
    from webapp.evaluations.runner import run_evaluation

    def run(team, *, model=None, track="pitlane_loop", direction="counterclockwise", trials=2, **fields):
        model = model or make_ready_model(team)
        TrackLimit.objects.get_or_create(track=track, direction=direction, profile="deepracer",
        physics=physics_fingerprint("deepracer"),
                                         defaults={"lap_time_s": FAKE_LIMIT_S, "line_length_m": 20.0})
        evaluation = Evaluation.objects.create(team=team, model=model, track=track, direction=direction,
                                               trials=trials, profile="deepracer", time_limit_s=60, **fields)
        run_evaluation(evaluation, lambda *args, **kwargs: None, lambda: False)
        return evaluation

    return run
