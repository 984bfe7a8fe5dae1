"""Helpers for the results tests (league page, virtual events, exports, approval): events with
registered teams, laps recorded through the services, and finished evaluations submitted to a
virtual event without running the simulator (their trials are written as the runner writes them)."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from webapp.leagues.models import Event, LapResult, Registration
from webapp.leagues.services import record_lap


def make_race(league, name: str, *, kind: str = Event.Kind.PHYSICAL, days: float = -1, teams=(), **extra) -> Event:
    """An event `days` from now (negative: it started already) with the teams registered and approved."""
    starts = timezone.now() + timedelta(days=days)
    fields = {"track": "pitlane_loop", "direction": "counterclockwise", "starts": starts,
              "ends": starts + timedelta(days=3), "status": Event.Status.OPEN, "kind": kind,
              "off_track_penalty_s": 2.0, **extra}
    event = Event.objects.create(league=league, name=name, **fields)
    for team in teams:
        Registration.objects.create(event=event, team=team, registered_by=team.captain)
    return event


def laps(event: Event, team, *times: float, source: str = LapResult.Source.ORGANISER, resets: int = 0):
    return [record_lap(event=event, team=team, lap_time_s=t, resets=resets, source=source) for t in times]


def finished_evaluation(team, times, *, track: str = "pitlane_loop", direction: str = "counterclockwise",
                        resets=None):
    """An Evaluation of a (file-less) model whose trials finished in `times` (None: not completed)."""
    from webapp.evaluations.models import Evaluation
    from webapp.garage.models import TrainedModel

    model = TrainedModel.objects.create(team=team, name=f"Model {TrainedModel.objects.count() + 1}",
                                        status=TrainedModel.Status.READY, card={}, config={})
    trials = []
    for index, time_s in enumerate(times, start=1):
        trials.append({"trial": index, "lap_time": time_s, "raw_lap_time": time_s,
                       "reset_count": (resets or [0] * len(times))[index - 1],
                       "elapsed_s": time_s if time_s is not None else 9.0,
                       "completion_pct": 100.0 if time_s is not None else 40.0})
    done = [t for t in times if t is not None]
    return Evaluation.objects.create(team=team, model=model, track=track, direction=direction, trials=len(times),
                                     profile="deepracer", time_limit_s=60,
                                     summary={"trials": trials, "best_lap_time": min(done) if done else None})


def submit(event: Event, team, times, **kwargs):
    from webapp.evaluations.services import submit_to_event

    return submit_to_event(evaluation=finished_evaluation(team, times, **kwargs), event=event, user=team.captain)
