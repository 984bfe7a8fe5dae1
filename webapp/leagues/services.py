"""League workflows: team registration and organiser appointment."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from webapp.accounts.selectors import is_member

from .models import Event, League, Registration
from .permissions import organiser_group


def registration_problem(team, event: Event) -> str | None:
    """Why this team cannot register for the event now, or None when it can."""
    if event.status != Event.Status.OPEN:
        return "Registration for this event is closed."
    if event.ends < timezone.now():
        return "This event is over."
    league = event.league
    if not league.is_public and not league.invited_teams.filter(pk=team.pk).exists():
        return "This league is invite-only and has not invited your team."
    return None


def register_team(*, user, team, event: Event) -> Registration:
    if not is_member(user, team):
        raise PermissionDenied("Only members of a team can register it.")
    problem = registration_problem(team, event)
    if problem:
        raise ValidationError(problem)
    try:
        with transaction.atomic():
            return Registration.objects.create(event=event, team=team, registered_by=user)
    except IntegrityError:
        raise ValidationError(f"“{team.name}” is already registered for this event.") from None


def unregister_team(*, user, team, event: Event) -> None:
    if not is_member(user, team):
        raise PermissionDenied("Only members of a team can withdraw it.")
    if event.status != Event.Status.OPEN:
        raise ValidationError("Registration is closed; ask the organisers to withdraw your team.")
    deleted, _ = Registration.objects.filter(event=event, team=team).delete()
    if not deleted:
        raise ValidationError(f"“{team.name}” is not registered for this event.")


@transaction.atomic
def make_organiser(user, league: League) -> None:
    """Give the user the admin pages, scoped to this league (and any others they already run)."""
    league.organisers.add(user)
    if not user.is_staff:
        user.is_staff = True
        user.save(update_fields=["is_staff"])
    user.groups.add(organiser_group())
