"""Read-side queries for evaluations, always scoped to a team. The models themselves (one of a
team, the ready ones) come from webapp.garage.selectors, which owns them."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from django.utils import timezone

from webapp.leagues.models import Event

from .models import Evaluation


def evaluations_of_team(team, *, limit: int = 100):
    return (Evaluation.objects.filter(team=team).select_related("model", "job", "team")
            .order_by("-created")[:limit])


def evaluations_of_model(model, *, limit: int = 50):
    return (Evaluation.objects.filter(model=model).select_related("job", "team", "model")
            .order_by("-created")[:limit])


def evaluation_of_team_or_404(team, evaluation_id: int) -> Evaluation:
    return get_object_or_404(Evaluation.objects.select_related("model", "job", "team"), team=team,
                             pk=evaluation_id)


def submittable_events(evaluation: Evaluation):
    """Open virtual events the team is registered for, on the evaluation's track and direction."""
    return (
        Event.objects.filter(
            kind=Event.Kind.VIRTUAL, status__in=[Event.Status.OPEN, Event.Status.RUNNING],
            ends__gte=timezone.now(), registrations__team=evaluation.team, registrations__approved=True,
            track=evaluation.track, direction=evaluation.direction,
        )
        .exclude(evaluation_submissions__evaluation=evaluation)
        .select_related("league")
        .distinct()
    )
