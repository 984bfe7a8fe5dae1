"""League workflows: team registration, organiser appointment and recording laps under race rules."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from webapp.accounts.selectors import is_member

from . import ranking
from .models import Event, LapResult, League, Registration
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


def apply_race_rules(lap: LapResult) -> bool:
    """Set the lap's `valid` by its event's race rules (more resets than the event allows make it
    invalid); True when that overrode a lap recorded as valid."""
    valid = ranking.lap_is_valid(lap.valid, lap.resets, lap.event.max_resets_per_lap)
    overridden = lap.valid and not valid
    lap.valid = valid
    return overridden


def lap_problem(event: Event, team) -> str | None:
    """Why a lap cannot be recorded for this team in this event, or None when it can: only teams
    with an approved registration for the event race in it."""
    if not Registration.objects.filter(event=event, team=team, approved=True).exists():
        return (f"“{team.name}” is not a registered (approved) team of {event.name}: "
                "register the team for the event before recording its laps.")
    return None


def save_lap(lap: LapResult) -> LapResult:
    """Store a new or edited lap under its event's race rules; a new lap, or one moved to another
    event or team, must belong to a team registered for the event (ValidationError otherwise)."""
    stored = LapResult.objects.filter(pk=lap.pk).values_list("event_id", "team_id").first() if lap.pk else None
    if stored != (lap.event_id, lap.team_id):
        problem = lap_problem(lap.event, lap.team)
        if problem:
            raise ValidationError({"team": problem})
    apply_race_rules(lap)
    lap.save()
    return lap


def record_lap(*, event: Event, team, lap_number: int, lap_time_s: float, resets: int = 0, valid: bool = True,
               source: str = LapResult.Source.ORGANISER, recorded_by=None, note: str = "") -> LapResult:
    """A new lap of the team in the event; `valid` is what was recorded, the race rules may overrule it."""
    return save_lap(LapResult(event=event, team=team, lap_number=lap_number, lap_time_s=lap_time_s, resets=resets,
                              valid=valid, source=source, recorded_by=recorded_by, note=note))


def mark_laps(laps, *, valid: bool) -> tuple[int, int]:
    """Mark laps valid or invalid. A lap with more resets than its event allows stays invalid:
    returns (laps marked, laps the race rules kept invalid)."""
    rows = list(laps.select_related("event"))
    marked = [lap.pk for lap in rows
              if not valid or ranking.lap_is_valid(True, lap.resets, lap.event.max_resets_per_lap)]
    LapResult.objects.filter(pk__in=marked).update(valid=valid)
    return len(marked), len(rows) - len(marked)
