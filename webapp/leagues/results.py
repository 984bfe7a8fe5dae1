"""Organiser and team actions on an event's results (issue 12): reveal the results of a hidden final,
pick the submission that counts in a virtual event, approve or reject a registration. Each change
goes through `live.notify_event`, so open leaderboards (and every process's cached board) update."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from webapp.accounts.selectors import is_member

from . import live, selectors, services
from .models import Event, Registration


def _check_organiser(user, event: Event) -> None:
    if not selectors.is_organiser(user, event.league):
        raise PermissionDenied("Only the organisers of this league can do this.")


@transaction.atomic
def set_results_revealed(*, user, event: Event, revealed: bool = True) -> Event:
    """An organiser reveals (or hides again) the event's results: the public pages, CSV exports,
    podium and the live board's socket show them from then on (or stop showing them)."""
    _check_organiser(user, event)
    event = Event.objects.select_for_update().get(pk=event.pk)
    if event.results_revealed != revealed:
        event.results_revealed = revealed
        event.save(update_fields=["results_revealed"])
        live.notify_event(event.pk)
    return event


@transaction.atomic
def choose_submission(*, user, submission) -> None:
    """A member of the submitting team picks this submission as its entry in the event: only its
    laps rank (the team's other submissions stay stored, and can be picked instead while the event
    takes submissions)."""
    team = submission.evaluation.team
    event = submission.event
    if not is_member(user, team):
        raise PermissionDenied("Only members of the team can choose its entry.")
    if event.status not in (Event.Status.OPEN, Event.Status.RUNNING):
        raise ValidationError("This event is closed: its entries can no longer change.")
    siblings = type(submission).objects.select_for_update().filter(event=event, evaluation__team=team)
    list(siblings)  # lock the team's submissions to the event
    siblings.exclude(pk=submission.pk).update(counts=False)
    siblings.filter(pk=submission.pk).update(counts=True)
    live.notify_event(event.pk)


def decide_registration(*, user, registration: Registration, approve: bool) -> Registration | None:
    """An organiser approves a pending registration (the team may race), or rejects it: the
    registration is removed (the team may register again while the event is open). Returns the
    registration, or None when it was rejected."""
    event = registration.event
    _check_organiser(user, event)
    if approve:
        return services.approve_registration(user=user, registration=registration, approved=True)
    with transaction.atomic():
        if registration.event.laps.filter(team=registration.team).exists():
            raise ValidationError(f"“{registration.team.name}” has laps in this event already: "
                                  "mark its laps invalid instead of rejecting the team.")
        registration.delete()
        live.notify_event(event.pk)
    return None
