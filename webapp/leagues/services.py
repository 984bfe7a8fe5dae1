"""League workflows: team registration (and its approval), organiser appointment, and recording laps
under race rules with server-assigned numbers and an audit entry for every change. The timekeeper
console and the lap timer are in `race`."""

from __future__ import annotations

import csv
import io

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from webapp.accounts.selectors import is_member

from . import live, plausibility, ranking, selectors
from .models import AuditEntry, Event, LapResult, League, Registration
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
            registration = Registration.objects.create(event=event, team=team, registered_by=user,
                                                       approved=not event.requires_approval)
            live.notify_event(event.pk)  # the board lists registered teams
            return registration
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
    live.notify_event(event.pk)


@transaction.atomic
def approve_registration(*, user, registration: Registration, approved: bool = True) -> Registration:
    """An organiser of the event's league approves (or withdraws approval of) a registration."""
    event = registration.event
    if not selectors.is_organiser(user, event.league):
        raise PermissionDenied("Only the organisers of this league can approve its registrations.")
    if registration.approved != approved:
        registration.approved = approved
        registration.save(update_fields=["approved"])
        live.notify_event(event.pk)
    return registration


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


def physical_lap_problem(event: Event, source: str) -> str | None:
    """Why a new lap from the track cannot go into this event, or None. Laps said to come from the
    timekeeper console or a timer device follow `race.physical_timing_problem` (never a virtual or
    cancelled event; a finished one takes them as a correction); laps an organiser types in go into
    any event but a cancelled one (a virtual race's typed results rank as before:
    `selectors.counting_submission_laps`)."""
    from .race import physical_timing_problem

    if source in (LapResult.Source.TIMEKEEPER, LapResult.Source.LAP_TIMER):
        return physical_timing_problem(event, correction=True)
    if source == LapResult.Source.ORGANISER and event.status == Event.Status.CANCELLED:
        return physical_timing_problem(event)
    return None


def implausible_problem(event: Event, lap_time_s: float, source: str, confirmed: bool) -> str | None:
    """Why a lap cannot be stored as it is: faster than the event's plausible minimum and not
    confirmed. Evaluation laps come from the simulator and are never implausible."""
    if confirmed or source == LapResult.Source.EVALUATION:
        return None
    minimum = plausibility.plausible_minimum_s(event)
    if lap_time_s >= minimum:
        return None
    return (f"A {lap_time_s:.3f} s lap is faster than this event's plausible minimum ({minimum:.3f} s): "
            "confirm it (“confirmed implausible”) to record it.")


def _lap_audit_values(lap: LapResult) -> dict:
    return {"lap_number": lap.lap_number, "lap_time_s": lap.lap_time_s, "resets": lap.resets, "valid": lap.valid,
            "team": lap.team_id, "source": lap.source, "note": lap.note}


def _audit_lap(lap: LapResult, action: str, *, user=None, old=None, new=None, reason: str = "") -> None:
    AuditEntry.objects.create(
        event_id=lap.event_id, lap=lap if lap.pk else None, attempt_id=lap.attempt_id,
        actor=user if getattr(user, "pk", None) else None,
        actor_label=user.get_username() if getattr(user, "pk", None) else "system",
        action=action, old=old, new=new, reason=reason,
    )
    live.notify_event(lap.event_id)


@transaction.atomic
def save_lap(lap: LapResult, *, user=None, reason: str = "") -> LapResult:
    """Store a new or edited lap under its event's race rules; a new lap, or one moved to another
    event or team, must belong to a team registered for the event (ValidationError otherwise). A new
    lap (or a moved one) gets the next number of its team in the event: numbers are the server's.
    Every change is audited."""
    stored = LapResult.objects.select_for_update().filter(pk=lap.pk).first() if lap.pk else None
    moved = stored is None or (stored.event_id, stored.team_id) != (lap.event_id, lap.team_id)
    if moved:
        problem = lap_problem(lap.event, lap.team)
        if problem:
            raise ValidationError({"team": problem})
    if stored is None:
        problem = physical_lap_problem(lap.event, lap.source)
        if problem:
            raise ValidationError({"event": problem})
        taken = LapResult.objects.filter(event_id=lap.event_id, team_id=lap.team_id).exclude(pk=lap.pk)
        if not lap.lap_number or taken.filter(lap_number=lap.lap_number).exists():
            lap.lap_number = (taken.aggregate(top=Max("lap_number"))["top"] or 0) + 1
    elif stored is not None:
        lap.lap_number = stored.lap_number  # never typed over
    if stored is None or stored.lap_time_s != lap.lap_time_s:
        problem = implausible_problem(lap.event, lap.lap_time_s, lap.source, lap.confirmed_implausible)
        if problem:
            raise ValidationError({"confirmed_implausible": problem}, code="needs_confirmation")
    apply_race_rules(lap)
    lap.save()
    if stored is not None and moved:
        from .race import renumber_laps

        renumber_laps(stored.event_id, stored.team_id)  # close the gap the lap left
    if stored is None:
        _audit_lap(lap, AuditEntry.Action.LAP_ADDED, user=user, new=_lap_audit_values(lap), reason=reason)
    elif _lap_audit_values(stored) != _lap_audit_values(lap):
        _audit_lap(lap, AuditEntry.Action.LAP_EDITED, user=user, old=_lap_audit_values(stored),
                   new=_lap_audit_values(lap), reason=reason)
    return lap


def record_lap(*, event: Event, team, lap_time_s: float, lap_number: int | None = None, resets: int = 0,
               valid: bool = True, source: str = LapResult.Source.ORGANISER, recorded_by=None,
               note: str = "", confirm: bool = False) -> LapResult:
    """A new lap of the team in the event; `valid` is what was recorded, the race rules may overrule it.
    The number is the team's next one (a `lap_number` already taken is not reused). A lap below the
    event's plausible minimum needs confirm=True."""
    return save_lap(LapResult(event=event, team=team, lap_number=lap_number or 0, lap_time_s=lap_time_s,
                              resets=resets, valid=valid, source=source, recorded_by=recorded_by, note=note,
                              confirmed_implausible=confirm), user=recorded_by)


@transaction.atomic
def delete_lap(lap: LapResult, *, user=None, reason: str = "") -> None:
    """Remove a lap (audited); the team's later laps move up so the numbers stay 1..n."""
    from .race import renumber_laps

    old = _lap_audit_values(lap)
    event_id, team_id = lap.event_id, lap.team_id
    _audit_lap(lap, AuditEntry.Action.LAP_REMOVED, user=user, old=old, reason=reason)
    lap.delete()
    renumber_laps(event_id, team_id)


def mark_laps(laps, *, valid: bool, user=None, reason: str = "") -> tuple[int, int]:
    """Mark laps valid or invalid (each change audited). A lap with more resets than its event allows
    stays invalid: returns (laps marked, laps the race rules kept invalid)."""
    with transaction.atomic():
        # Lock by id: the admin's scoped queryset is DISTINCT, which PostgreSQL cannot lock FOR UPDATE.
        rows = list(LapResult.objects.filter(pk__in=laps.values("pk")).select_related("event")
                    .select_for_update(of=("self",)))
        marked = [lap for lap in rows
                  if not valid or ranking.lap_is_valid(True, lap.resets, lap.event.max_resets_per_lap)]
        action = AuditEntry.Action.LAP_RESTORED if valid else AuditEntry.Action.LAP_INVALIDATED
        for lap in marked:
            if lap.valid == valid:
                continue
            old = _lap_audit_values(lap)
            lap.valid = valid
            lap.invalidated_reason = "" if valid else (reason or "marked invalid by an organiser")[:200]
            lap.save(update_fields=["valid", "invalidated_reason"])
            _audit_lap(lap, action, user=user, old=old, new=_lap_audit_values(lap), reason=reason)
    return len(marked), len(rows) - len(marked)


# Spreadsheet programs run a cell that starts with one of these as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value) -> str:
    """A CSV cell that no spreadsheet runs as a formula: a leading =, +, -, @, tab or CR gets a quote."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def csv_text(rows) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for row in rows:
        writer.writerow([csv_safe(cell) for cell in row])
    return buffer.getvalue()


def audit_csv(user, event: Event) -> str:
    """The event's audit log as CSV, for its organisers."""
    if not selectors.is_organiser(user, event.league):
        raise PermissionDenied("Only the organisers of this league can export its audit log.")
    return csv_text(selectors.audit_rows(event))
