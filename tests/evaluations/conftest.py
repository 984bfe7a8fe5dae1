"""Fixtures for evaluation tests: a ready tiny model and a finished evaluation run in-process."""

from __future__ import annotations

import pytest

from tests.support.model_fixtures import make_ready_model, tiny_steering_model  # noqa: F401

#: A made-up cached limit, so page tests do not spend seconds in the solver (the worker test does).
FAKE_LIMIT_S = 9.5


@pytest.fixture
def run_evaluation_now(make_ready_model):
    """run(team, **fields) -> an Evaluation driven in this process by the real runner."""
    from webapp.evaluations.models import Evaluation, TrackLimit
    from webapp.evaluations.runner import run_evaluation

    def run(team, *, model=None, track="pitlane_loop", direction="counterclockwise", trials=2, **fields):
        model = model or make_ready_model(team)
        TrackLimit.objects.get_or_create(track=track, direction=direction, profile="deepracer",
                                         defaults={"lap_time_s": FAKE_LIMIT_S, "line_length_m": 20.0})
        evaluation = Evaluation.objects.create(team=team, model=model, track=track, direction=direction,
                                               trials=trials, profile="deepracer", time_limit_s=60, **fields)
        run_evaluation(evaluation, lambda *args, **kwargs: None, lambda: False)
        return evaluation

    return run
