"""Read-side queries for evaluations, always scoped to a team. The models themselves (one of a
team, the ready ones) come from webapp.garage.selectors, which owns them."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from django.utils import timezone

from webapp.garage.selectors import ready_models_of_team
from webapp.leagues.models import Event
from webapp.leagues.selectors import visible_leagues

from .models import Evaluation
from .tracks import profile_for_card, track_facts


def evaluations_of_team(team, *, limit: int = 100):
    return (Evaluation.objects.filter(team=team).select_related("model", "job", "team")
            .order_by("-created")[:limit])


def evaluations_of_model(model, *, limit: int = 50):
    return (Evaluation.objects.filter(model=model).select_related("job", "team", "model")
            .order_by("-created")[:limit])


def latest_done_evaluations(team) -> dict[int, Evaluation]:
    """{model id: its latest finished evaluation (one with results)} for a team's model list."""
    latest: dict[int, Evaluation] = {}
    for evaluation in Evaluation.objects.filter(team=team).exclude(summary={}).order_by("-created", "-pk"):
        latest.setdefault(evaluation.model_id, evaluation)
    return latest


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


def events_to_register_for(evaluation: Evaluation, user):
    """Open virtual events on the evaluation's track and direction, in leagues the user can see,
    that the team has not registered for (registering makes them take this evaluation)."""
    return (
        Event.objects.filter(
            kind=Event.Kind.VIRTUAL, status=Event.Status.OPEN, ends__gte=timezone.now(),
            league__in=visible_leagues(user), track=evaluation.track, direction=evaluation.direction,
        )
        .exclude(registrations__team=evaluation.team)
        .select_related("league")
        .order_by("ends")
    )


def models_for_event(team, event: Event) -> list:
    """The team's ready models that can race a virtual event: those whose car (from the card's
    camera) is at the scale of the event's built-in track; RL models first. Empty for physical
    events and for tracks the simulator does not have."""
    facts = track_facts(event.track)
    if event.kind != Event.Kind.VIRTUAL or facts is None:
        return []
    fitting = [model for model in ready_models_of_team(team) if profile_for_card(model.card) == facts[0]]
    return sorted(fitting, key=lambda model: model.kind != model.Kind.REINFORCEMENT)
