"""Race operations: the timekeeper's actions on an attempt, the lap timer's crossings, undo and the
audit log. Views and the API stay thin and call these.

Every timekeeper action runs in one transaction that locks the attempt (select_for_update) and checks
the `expected_version` the console last saw: a second console acting on a state it has not seen gets
`StaleAttempt` (answer 409) instead of, say, a second lap. Every change writes an `AuditEntry` (who,
when, old, new, why) and calls `live.notify_event` once committed.

Lap numbers are the server's: 1, 2, 3... per event and team, across rounds and attempts.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Max, Q
from django.utils import timezone

from webapp.api.models import hash_token

from . import live, plausibility, ranking, selectors
from .models import Attempt, AuditEntry, Crossing, Event, Heat, LapResult, Round, TimerDevice

Action = AuditEntry.Action

# The attempt's state an undo restores: everything but identity and version.
STATE_FIELDS = ("status", "started_at", "paused_at", "paused_total_s", "ended_at", "throttle_percent",
                "lap_started_at", "lap_started_device_us", "lap_paused_s", "current_resets")
_DATETIME_FIELDS = {"started_at", "paused_at", "ended_at", "lap_started_at"}


class StaleAttempt(Exception):
    """The attempt changed since the console read it (HTTP 409): reload and try again."""

    status_code = 409

    def __init__(self, attempt: Attempt, expected: int):
        self.attempt = attempt
        self.expected = expected
        super().__init__(
            f"This attempt was changed on another console (now version {attempt.version}, you had "
            f"{expected}): nothing was recorded. Reload to see the current state."
        )


class NeedsConfirmation(ValidationError):
    """A lap below the event's plausible minimum: repeat with confirm=True to record it."""

    def __init__(self, lap_time_s: float, minimum_s: float):
        self.lap_time_s = lap_time_s
        self.minimum_s = minimum_s
        super().__init__(
            f"A {lap_time_s:.3f} s lap is faster than this event's plausible minimum ({minimum_s:.3f} s): "
            "confirm it to record it.", code="needs_confirmation",
        )


# -- who may act --------------------------------------------------------------------------------

def check_timekeeper(user, event: Event) -> None:
    """Organisers of the event's league and the event's timekeepers; PermissionDenied for others."""
    if not selectors.can_keep_time(user, event):
        raise PermissionDenied("Only the organisers of this league and the event's timekeepers can do this.")


def check_organiser(user, event: Event) -> None:
    if not selectors.is_organiser(user, event.league):
        raise PermissionDenied("Only the organisers of this league can do this.")


class TimingClosed(ValidationError):
    """The event takes no physical timing (HTTP 409 on the timer API): see `physical_timing_problem`."""

    status_code = 409

    def __init__(self, message: str):
        super().__init__(message, code="timing_closed")


def physical_timing_problem(event: Event, *, correction: bool = False) -> str | None:
    """Why laps cannot be timed at the track for this event (console attempts, timer devices, laps an
    organiser types in the admin), or None. THE rule for all three:

    - only a physical race day takes timed laps: a virtual race ranks evaluation runs on the platform;
    - a cancelled event takes nothing;
    - an open or racing event takes everything;
    - a draft or finished event takes no new attempt, lap, reset or crossing; a correction (end or DNF
      of an attempt left on track, invalidate/restore a lap, undo, ignore/restore a crossing, a lap an
      organiser types in from the paper sheet) stays possible for organisers (`correction=True`; the
      caller checks who) and is audited like any change."""
    name = f"“{event.name}”"
    if event.kind != Event.Kind.PHYSICAL:
        return (f"{name} is a virtual race: its results are evaluation runs on the platform, never laps timed "
                "at a track (console or timer device).")
    if event.status == Event.Status.CANCELLED:
        return f"{name} was cancelled: it takes no attempts or laps."
    if event.status == Event.Status.DRAFT and not correction:
        return f"{name} is a draft: open it before timing laps."
    if event.status == Event.Status.FINISHED and not correction:
        return (f"{name} is finished: it takes no new attempts, laps or crossings. Its organisers can still "
                "correct recorded laps (invalidate, restore, undo; audited), or set the event back to "
                "racing to run more.")
    return None


def check_timing_open(user, event: Event, *, correction: bool = False) -> None:
    """TimingClosed unless `physical_timing_problem` allows it; on a finished event only organisers correct."""
    problem = physical_timing_problem(event, correction=correction)
    if problem:
        raise TimingClosed(problem)
    closed = event.status in (Event.Status.FINISHED, Event.Status.DRAFT)
    if closed and (user is None or not selectors.is_organiser(user, event.league)):
        raise TimingClosed(f"“{event.name}” is {event.get_status_display().lower()}: only its organisers can "
                           "correct its laps now.")


# -- state, audit and locking helpers -----------------------------------------------------------

def _json_value(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def snapshot(attempt: Attempt) -> dict[str, Any]:
    return {name: _json_value(getattr(attempt, name)) for name in STATE_FIELDS}


def _restore(attempt: Attempt, state: dict[str, Any]) -> None:
    for name in STATE_FIELDS:
        value = state.get(name)
        if name in _DATETIME_FIELDS and value is not None:
            value = datetime.fromisoformat(value)
        setattr(attempt, name, value)


def lap_values(lap: LapResult) -> dict[str, Any]:
    return {"id": lap.pk, "lap_number": lap.lap_number, "lap_time_s": lap.lap_time_s, "resets": lap.resets,
            "valid": lap.valid, "invalidated_reason": lap.invalidated_reason, "team": lap.team_id,
            "source": lap.source, "confirmed_implausible": lap.confirmed_implausible}


def actor_label(user=None, device: TimerDevice | None = None) -> str:
    if device is not None:
        return f"timer device {device.name}"
    if user is None:
        return "system"
    return user.get_username()


def _audit(event: Event, action: str, *, user=None, device: TimerDevice | None = None,
           attempt: Attempt | None = None, lap: LapResult | None = None, old=None, new=None,
           reason: str = "") -> AuditEntry:
    return AuditEntry.objects.create(
        event=event, action=action, actor=user if getattr(user, "pk", None) else None,
        actor_label=actor_label(user, device), attempt=attempt, lap=lap, old=old, new=new, reason=reason,
    )


def _lock(attempt: Attempt, expected_version: int | None, user=None, *, device: TimerDevice | None = None,
          correction: bool = False) -> Attempt:
    """The attempt, locked for this transaction, after checking who acts (a device acts only on its
    own event), that the event takes this timing (`check_timing_open`; `correction` for ends and
    fixes) and the version the caller saw."""
    # of=self: PostgreSQL cannot lock the nullable side of the round's outer join.
    locked = (Attempt.objects.select_for_update(of=("self",))
              .select_related("event", "event__league", "team", "round").get(pk=attempt.pk))
    if device is not None:
        if device.event_id != locked.event_id:
            raise PermissionDenied("This timer device belongs to another event.")
    else:
        check_timekeeper(user, locked.event)
        check_timing_open(user, locked.event, correction=correction)
    if expected_version is not None and locked.version != expected_version:
        raise StaleAttempt(locked, expected_version)
    return locked


def _save(attempt: Attempt) -> None:
    attempt.version += 1
    try:
        with transaction.atomic():
            attempt.save()
    except IntegrityError:
        raise ValidationError("Another team is already on track in this event: end its attempt first.") from None
    live.notify_event(attempt.event_id)


def _require(attempt: Attempt, *statuses: str, doing: str) -> None:
    if attempt.status not in statuses:
        raise ValidationError(f"Cannot {doing}: the attempt is {attempt.get_status_display().lower()}.")


def next_lap_number(event_id: int, team_id: int) -> int:
    top = LapResult.objects.filter(event_id=event_id, team_id=team_id).aggregate(top=Max("lap_number"))["top"]
    return (top or 0) + 1


def renumber_laps(event_id: int, team_id: int, ordered: list[LapResult] | None = None) -> None:
    """Number the team's laps 1..n in the given order (their current order when None), so that no
    number is missing or repeated; two passes keep the unique constraint true at every step."""
    laps = ordered if ordered is not None else list(
        LapResult.objects.filter(event_id=event_id, team_id=team_id).order_by("lap_number", "pk"))
    if [lap.lap_number for lap in laps] == list(range(1, len(laps) + 1)):
        return
    offset = max([lap.lap_number for lap in laps] + [len(laps)]) + 1
    for index, lap in enumerate(laps, start=1):
        LapResult.objects.filter(pk=lap.pk).update(lap_number=offset + index)
    for index, lap in enumerate(laps, start=1):
        LapResult.objects.filter(pk=lap.pk).update(lap_number=index)
        lap.lap_number = index


# -- attempts -----------------------------------------------------------------------------------

@transaction.atomic
def create_attempt(*, user, event: Event, team, race_round: Round | None = None,
                   heat: Heat | None = None) -> Attempt:
    """A new attempt of a team with an approved registration, within the event's attempts per team
    (counted per round), in an event that takes physical timing (`physical_timing_problem`), never in
    a finished round or a decided heat (their results seeded the next round)."""
    check_timekeeper(user, event)
    check_timing_open(user, event)
    problem = _lap_problem(event, team)
    if problem:
        raise ValidationError(problem)
    if race_round is not None:
        _check_round_entry(race_round, event, team, heat)
    if heat is not None:
        if race_round is None or heat.round_id != race_round.pk:
            raise ValidationError("That heat belongs to another round.")
        if team.pk not in (heat.team_a_id, heat.team_b_id):
            raise ValidationError(f"“{team.name}” does not race in heat {heat.key}.")
        if Heat.objects.filter(pk=heat.pk, winner__isnull=False).exists():
            raise ValidationError(
                f"Heat {heat.key} is decided already: a new attempt would change a result the bracket has "
                "advanced on. To correct it, invalidate or restore the heat's laps (audited) and ask an organiser "
                "to re-seed the round.")
    previous = Attempt.objects.filter(event=event, round=race_round, team=team)
    if heat is None and previous.count() >= event.attempts_per_team:
        raise ValidationError(f"“{team.name}” has had its {event.attempts_per_team} attempt(s) in this round.")
    number = (previous.aggregate(top=Max("number"))["top"] or 0) + 1
    attempt = Attempt.objects.create(event=event, round=race_round, heat=heat, team=team, number=number,
                                     time_limit_s=event.attempt_time_s)
    live.notify_event(event.pk)
    return attempt


def _check_round_entry(race_round: Round, event: Event, team, heat: Heat | None) -> None:
    """A bracket round races in heats; a seeded round races only its field."""
    if race_round.event_id != event.pk:
        raise ValidationError("That round belongs to another event.")
    if race_round.is_bracket and heat is None:
        raise ValidationError(f"{race_round.name} is a knockout round: pick the heat “{team.name}” races in.")
    if race_round.seeding and team.pk not in race_round.seeding:
        raise ValidationError(f"“{team.name}” is not in the field of {race_round.name}.")
    finished = Round.objects.filter(pk=race_round.pk, status=Round.Status.FINISHED).exists()
    if finished and not race_round.is_bracket:
        raise ValidationError(
            f"{race_round.name} is finished (its standings seeded the next round): it takes no new attempts. "
            "To correct it, invalidate or restore its laps (audited); an organiser re-seeds the next round "
            "while it has no results.")


def _lap_problem(event: Event, team) -> str | None:
    from .services import lap_problem

    return lap_problem(event, team)


def _state_change(attempt: Attempt, expected_version: int | None, user, action: str, change, reason: str = "",
                  device: TimerDevice | None = None, correction: bool = False) -> Attempt:
    with transaction.atomic():
        attempt = _lock(attempt, expected_version, user, device=device, correction=correction)
        old = snapshot(attempt)
        change(attempt)
        _save(attempt)
        _audit(attempt.event, action, user=user, device=device, attempt=attempt, old=old, new=snapshot(attempt),
               reason=reason)
    return attempt


def start(*, user, attempt: Attempt, expected_version: int | None, now: datetime | None = None) -> Attempt:
    """Start the race timer; the first lap starts now (or at the timer device's first crossing)."""
    def change(a: Attempt) -> None:
        _require(a, Attempt.Status.READY, doing="start")
        moment = now or timezone.now()
        a.status, a.started_at, a.lap_started_at = Attempt.Status.RUNNING, moment, moment
        a.lap_started_device_us, a.lap_paused_s, a.current_resets = None, 0.0, 0

    return _state_change(attempt, expected_version, user, Action.ATTEMPT_STARTED, change)


def pause(*, user, attempt: Attempt, expected_version: int | None, now: datetime | None = None) -> Attempt:
    def change(a: Attempt) -> None:
        _require(a, Attempt.Status.RUNNING, doing="pause")
        a.status, a.paused_at = Attempt.Status.PAUSED, now or timezone.now()

    return _state_change(attempt, expected_version, user, Action.ATTEMPT_PAUSED, change)


def _fold_pause(a: Attempt, moment: datetime) -> None:
    if a.paused_at is not None:
        paused = max(0.0, (moment - a.paused_at).total_seconds())
        a.paused_total_s += paused
        a.lap_paused_s += paused
        a.paused_at = None


def resume(*, user, attempt: Attempt, expected_version: int | None, now: datetime | None = None) -> Attempt:
    def change(a: Attempt) -> None:
        _require(a, Attempt.Status.PAUSED, doing="resume")
        _fold_pause(a, now or timezone.now())
        a.status = Attempt.Status.RUNNING

    return _state_change(attempt, expected_version, user, Action.ATTEMPT_RESUMED, change)


def end(*, user, attempt: Attempt, expected_version: int | None, now: datetime | None = None) -> Attempt:
    """End the attempt; the lap in progress does not count."""
    def change(a: Attempt) -> None:
        _require(a, *Attempt.ON_TRACK, doing="end")
        moment = now or timezone.now()
        _fold_pause(a, moment)
        a.status, a.ended_at = Attempt.Status.FINISHED, moment

    return _state_change(attempt, expected_version, user, Action.ATTEMPT_ENDED, change, correction=True)


def dnf(*, user, attempt: Attempt, expected_version: int | None, reason: str = "",
        now: datetime | None = None) -> Attempt:
    """Did not finish: the attempt ends; its laps stay as recorded."""
    def change(a: Attempt) -> None:
        _require(a, Attempt.Status.READY, *Attempt.ON_TRACK, doing="mark it DNF")
        moment = now or timezone.now()
        _fold_pause(a, moment)
        a.status, a.ended_at = Attempt.Status.DNF, moment

    return _state_change(attempt, expected_version, user, Action.DNF, change, reason=reason, correction=True)


def add_reset(*, user, attempt: Attempt, expected_version: int | None) -> Attempt:
    """An off-track reset on the lap in progress."""
    def change(a: Attempt) -> None:
        _require(a, *Attempt.ON_TRACK, doing="add a reset")
        a.current_resets += 1

    return _state_change(attempt, expected_version, user, Action.RESET_ADDED, change)


def remove_reset(*, user, attempt: Attempt, expected_version: int | None) -> Attempt:
    def change(a: Attempt) -> None:
        _require(a, *Attempt.ON_TRACK, doing="remove a reset")
        if a.current_resets == 0:
            raise ValidationError("The lap in progress has no reset to remove.")
        a.current_resets -= 1

    return _state_change(attempt, expected_version, user, Action.RESET_REMOVED, change)


def set_throttle(*, user, attempt: Attempt, expected_version: int | None, percent: int | None) -> Attempt:
    """Note the throttle (speed) percentage the team races with (0-100; None clears it)."""
    if percent is not None and not 0 <= percent <= 100:
        raise ValidationError("The throttle is a percentage from 0 to 100.")

    def change(a: Attempt) -> None:
        a.throttle_percent = percent

    return _state_change(attempt, expected_version, user, Action.THROTTLE_SET, change)


# -- laps ---------------------------------------------------------------------------------------

def _new_lap(attempt: Attempt, lap_time_s: float, *, source: str, user=None, moment: datetime,
             crossing: Crossing | None = None, confirmed: bool = False) -> LapResult:
    event = attempt.event
    lap = LapResult(
        event=event, team=attempt.team, attempt=attempt, round=attempt.round,
        lap_number=next_lap_number(event.pk, attempt.team_id), lap_time_s=lap_time_s,
        resets=attempt.current_resets, source=source, recorded_by=user if getattr(user, "pk", None) else None,
        recorded=moment, ends_at_s=round(attempt.elapsed_s(moment), 3), crossing=crossing,
        confirmed_implausible=confirmed,
    )
    lap.valid = ranking.lap_is_valid(True, lap.resets, event.max_resets_per_lap)
    if after_race_time(lap, attempt):
        lap.valid, lap.invalidated_reason = False, late_reason(attempt)
    lap.save()
    return lap


LATE_REASON = "completed after the"


def late_reason(attempt: Attempt) -> str:
    return f"{LATE_REASON} {attempt.time_limit_s:g} s race time"


def after_race_time(lap: LapResult, attempt: Attempt | None) -> bool:
    """DeepRacer's rule: a lap counts only if completed within the race time (a lap ending exactly at
    the limit counts, as in `ranking.laps_that_count`)."""
    return attempt is not None and lap.ends_at_s is not None and lap.ends_at_s > attempt.time_limit_s + 1e-9


def _below_minimum(event: Event, lap_time_s: float) -> bool:
    return plausibility.is_implausible(event, lap_time_s)


def capture_lap(*, user, attempt: Attempt, expected_version: int | None, confirm: bool = False,
                now: datetime | None = None) -> LapResult:
    """The car crossed the line: the lap in progress ends now (server time, pauses excluded) and the
    next one starts. A lap below the plausible minimum raises NeedsConfirmation unless confirm."""
    with transaction.atomic():
        attempt = _lock(attempt, expected_version, user)
        event = attempt.event
        _require(attempt, Attempt.Status.RUNNING, doing="capture a lap")
        if attempt.lap_started_at is None:
            raise ValidationError("No lap is in progress.")
        moment = now or timezone.now()
        lap_time_s = round((moment - attempt.lap_started_at).total_seconds() - attempt.lap_paused_s, 3)
        if lap_time_s <= 0:
            raise ValidationError("A lap must take some time.")
        implausible = _below_minimum(event, lap_time_s)
        if implausible and not confirm:
            raise NeedsConfirmation(lap_time_s, plausibility.plausible_minimum_s(event))
        old = snapshot(attempt)
        lap = _new_lap(attempt, lap_time_s, source=LapResult.Source.TIMEKEEPER, user=user, moment=moment,
                       confirmed=implausible)
        attempt.lap_started_at, attempt.lap_paused_s, attempt.current_resets = moment, 0.0, 0
        _save(attempt)
        _audit(event, Action.LAP_ADDED, user=user, attempt=attempt, lap=lap, old=old,
               new={"lap": lap_values(lap), "attempt": snapshot(attempt)},
               reason="confirmed below the plausible minimum" if implausible else "")
    return lap


def _lap_in_event(lap: LapResult) -> tuple[LapResult, Attempt | None]:
    lap = (LapResult.objects.select_for_update(of=("self",))
           .select_related("event", "event__league", "attempt").get(pk=lap.pk))
    return lap, lap.attempt


def invalidate_lap(*, user, lap: LapResult, reason: str, expected_version: int | None = None) -> LapResult:
    """Mark a recorded lap invalid afterwards; the reason is required and kept."""
    if not reason.strip():
        raise ValidationError("Say why the lap is invalid.")
    with transaction.atomic():
        lap, attempt = _lap_in_event(lap)
        check_timekeeper(user, lap.event)
        if attempt is not None:
            attempt = _lock(attempt, expected_version, user, correction=True)
        else:
            check_timing_open(user, lap.event, correction=True)
        if not lap.valid:
            raise ValidationError(f"Lap {lap.lap_number} is already invalid.")
        old = lap_values(lap)
        lap.valid, lap.invalidated_reason = False, reason.strip()[:200]
        lap.save(update_fields=["valid", "invalidated_reason"])
        _touch(attempt, lap.event_id)
        _audit(lap.event, Action.LAP_INVALIDATED, user=user, attempt=attempt, lap=lap, old=old, new=lap_values(lap),
               reason=reason.strip())
    return lap


def restore_lap(*, user, lap: LapResult, reason: str, expected_version: int | None = None) -> LapResult:
    """Make an invalidated lap count again, unless the race rules (its resets) keep it invalid. A lap
    below the plausible minimum becomes confirmed; a lap completed after the race time counts as the
    organisers' decision (its end moment moves to the audit entry)."""
    if not reason.strip():
        raise ValidationError("Say why the lap counts again.")
    with transaction.atomic():
        lap, attempt = _lap_in_event(lap)
        check_timekeeper(user, lap.event)
        if attempt is not None:
            attempt = _lock(attempt, expected_version, user, correction=True)
        else:
            check_timing_open(user, lap.event, correction=True)
        if lap.valid:
            raise ValidationError(f"Lap {lap.lap_number} is valid already.")
        if not ranking.lap_is_valid(True, lap.resets, lap.event.max_resets_per_lap):
            raise ValidationError(f"Lap {lap.lap_number} has {lap.resets} resets, more than the event allows "
                                  f"({lap.event.max_resets_per_lap}): it stays invalid.")
        old = {**lap_values(lap), "ends_at_s": lap.ends_at_s}
        lap.valid, lap.invalidated_reason = True, ""
        if _below_minimum(lap.event, lap.lap_time_s):
            lap.confirmed_implausible = True
        if after_race_time(lap, attempt):
            # An organiser decision to count a lap completed after the race time: the ranking leaves out laps
            # ending past the limit, so the lap no longer carries its end moment (kept in the audit entry).
            lap.ends_at_s = None
        lap.save(update_fields=["valid", "invalidated_reason", "confirmed_implausible", "ends_at_s"])
        _touch(attempt, lap.event_id)
        _audit(lap.event, Action.LAP_RESTORED, user=user, attempt=attempt, lap=lap, old=old,
               new={**lap_values(lap), "ends_at_s": lap.ends_at_s}, reason=reason.strip())
    return lap


def _touch(attempt: Attempt | None, event_id: int) -> None:
    if attempt is not None:
        _save(attempt)
    else:
        live.notify_event(event_id)


# -- undo ---------------------------------------------------------------------------------------

UNDOABLE = {Action.LAP_ADDED, Action.LAP_INVALIDATED, Action.LAP_RESTORED, Action.RESET_ADDED,
            Action.RESET_REMOVED, Action.ATTEMPT_STARTED, Action.ATTEMPT_PAUSED, Action.ATTEMPT_RESUMED,
            Action.ATTEMPT_ENDED, Action.DNF, Action.THROTTLE_SET, Action.CROSSING_IGNORED,
            Action.CROSSING_RESTORED}


def undo_last(*, user, attempt: Attempt, expected_version: int | None) -> AuditEntry:
    """Revert the attempt's latest console or timer change not undone yet (undos themselves are not
    undone: pressing undo again walks further back). Returns the "undo" audit entry."""
    with transaction.atomic():
        attempt = _lock(attempt, expected_version, user, correction=True)
        event = attempt.event
        # Admin edits of a lap (lap_edited / lap_removed) change no console state and are not undone here.
        # Laps a recomputation made (no "old" state) go back by undoing the crossing change instead.
        entry = (AuditEntry.objects.select_for_update().filter(attempt=attempt, undone_by__isnull=True,
                                                               action__in=UNDOABLE)
                 .exclude(action=Action.LAP_ADDED, old__isnull=True)
                 .order_by("-at", "-pk").first())
        if entry is None:
            raise ValidationError("Nothing to undo on this attempt.")
        lap = entry.lap
        if entry.action == Action.LAP_ADDED:
            lap_id = (entry.new or {}).get("lap", {}).get("id")
            lap = LapResult.objects.filter(pk=lap_id).first()
            if lap is not None:
                if lap.crossing_id:
                    Crossing.objects.filter(pk=lap.crossing_id).update(status=Crossing.Status.IGNORED, lap=None)
                lap.delete()
                lap = None
                renumber_laps(event.pk, attempt.team_id)
            _restore(attempt, entry.old or {})
        elif entry.action in (Action.LAP_INVALIDATED, Action.LAP_RESTORED):
            if lap is None:
                raise ValidationError("That lap no longer exists.")
            old = entry.old or {}
            lap.valid, lap.invalidated_reason = old.get("valid", lap.valid), old.get("invalidated_reason", "")
            lap.confirmed_implausible = old.get("confirmed_implausible", lap.confirmed_implausible)
            lap.ends_at_s = old.get("ends_at_s", lap.ends_at_s)
            lap.save(update_fields=["valid", "invalidated_reason", "confirmed_implausible", "ends_at_s"])
        elif entry.action in (Action.CROSSING_IGNORED, Action.CROSSING_RESTORED):
            crossing = Crossing.objects.get(pk=(entry.old or {})["crossing"])
            crossing.status = (entry.old or {})["status"]
            crossing.save(update_fields=["status"])
            rebuild_device_laps(attempt, user=user, reason="undo")
        else:
            _restore(attempt, entry.old or {})
        _save(attempt)
        undo = _audit(event, Action.UNDO, user=user, attempt=attempt, lap=lap, old=entry.new, new=entry.old,
                      reason=f"undo of “{entry.get_action_display()}” (entry {entry.pk})")
        entry.undone_by = undo
        entry.save(update_fields=["undone_by"])
    return undo


# -- lap timer devices --------------------------------------------------------------------------

DEVICE_TOKEN_PREFIX = "pld_"
# Crossings of one attempt closer than this (from any sensor) are one passage: a lap is timed to the ms.
SAME_INSTANT_US = 1000


def issue_device(*, user, event: Event, name: str, debounce_s: float = 2.0) -> tuple[TimerDevice, str]:
    """A new timer device of the event and its token (returned once; only its hash is stored, as for
    team API tokens: `webapp.api.models.hash_token`)."""
    check_organiser(user, event)
    raw = DEVICE_TOKEN_PREFIX + secrets.token_urlsafe(32)
    device = TimerDevice.objects.create(event=event, name=name.strip() or "lap timer", prefix=raw[:12],
                                        token_hash=hash_token(raw), debounce_s=debounce_s, created_by=user)
    return device, raw


def revoke_device(*, user, device: TimerDevice) -> bool:
    """Stop accepting the device's token; False when it already was."""
    check_organiser(user, device.event)
    if not device.active:
        return False
    device.active = False
    device.save(update_fields=["active"])
    return True


def device_for_token(raw: str) -> TimerDevice | None:
    """The active device with this token, or None."""
    if not raw.startswith(DEVICE_TOKEN_PREFIX):
        return None
    return TimerDevice.objects.select_related("event").filter(token_hash=hash_token(raw), active=True).first()


# A device clock that leaps ahead of the server's by more than this is a clock jump, not a device
# whose clock runs a little fast (its offset estimate then starts again: a new clock epoch).
CLOCK_JUMP_US = 600 * 1_000_000
# How fast a device clock may run slow against the server's (parts per million): the smallest offset
# seen ages by this much, so a slow clock's crossings are not placed seconds too early after hours.
CLOCK_DRIFT_PPM = 100
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)


def _server_us(moment: datetime) -> int:
    return (moment - _EPOCH) // _US


def _place_on_server_clock(device: TimerDevice, crossing: Crossing) -> str:
    """Estimate when the crossing happened on the server's clock; update the device's clock (saved by
    the caller). The offset server - device is the smallest seen in the clock epoch: a crossing that
    arrives at once gives it within the network delay, one replayed from the device's queue gives
    more, and gets placed at its true moment. A device time below the epoch's lowest by more than the
    debounce window is a clock reset (the device rebooted); one ahead of what the offset allows by
    more than CLOCK_JUMP_US is a jump: both start a new epoch. The smallest offset ages by
    CLOCK_DRIFT_PPM of the time since it was seen. Returns a note when the clock jumped."""
    received_us = _server_us(crossing.received)
    sample = received_us - crossing.device_time_us
    offset = device.clock_offset_us
    if offset is not None and device.clock_offset_at is not None:
        offset += max(0, received_us - _server_us(device.clock_offset_at)) * CLOCK_DRIFT_PPM // 1_000_000
    note = ""
    if offset is None or device.clock_epoch_first_us is None:
        note = "first"
    elif crossing.device_time_us < device.clock_epoch_first_us - device.debounce_s * 1_000_000:
        note = "the device clock went back (reset)"
    elif sample < offset - CLOCK_JUMP_US:
        note = "the device clock jumped ahead"
    elif sample <= offset:
        device.clock_offset_us, device.clock_offset_at, offset = sample, crossing.received, sample
    device.clock_epoch_first_us = min(device.clock_epoch_first_us or crossing.device_time_us, crossing.device_time_us)
    if note:
        device.clock_epoch += 0 if note == "first" else 1
        device.clock_offset_us, device.clock_offset_at, offset = sample, crossing.received, sample
        device.clock_epoch_first_us = crossing.device_time_us
    crossing.clock_epoch = device.clock_epoch
    assert offset is not None
    crossing.at = _EPOCH + timedelta(microseconds=min(received_us, crossing.device_time_us + offset))
    return "" if note == "first" else note


def _attempt_at(event: Event, moment: datetime) -> Attempt | None:
    """The attempt on track at that moment (started by then and not ended before), locked."""
    return (Attempt.objects.select_for_update(of=("self",)).select_related("event", "team", "round")
            .filter(event=event, started_at__lte=moment)
            .filter(Q(status__in=Attempt.ON_TRACK) | Q(ended_at__gte=moment))
            .order_by("-started_at", "-pk").first())


def _crossing_key(crossing: Crossing) -> tuple[int, int, int]:
    return crossing.clock_epoch, crossing.device_time_us, crossing.pk or 0


def _lap_between(attempt: Attempt, previous: Crossing, crossing: Crossing) -> tuple[float | None, str]:
    """The lap time from one counted crossing to the next on the device clock, or None and why the
    crossing starts a new lap instead: another clock (device or epoch), or longer than the race time."""
    if previous.device_id != crossing.device_id or previous.clock_epoch != crossing.clock_epoch:
        return None, "the device clock was reset or jumped since the previous crossing: a new lap starts here"
    lap_time_s = round((crossing.device_time_us - previous.device_time_us) / 1_000_000, 3)
    if lap_time_s > attempt.time_limit_s:
        return None, (f"{lap_time_s:.3f} s after the previous crossing, longer than the attempt's time limit "
                      f"({attempt.time_limit_s:g} s): not a lap, a new lap starts here")
    return lap_time_s, ""


def _counted_neighbours(attempt: Attempt, crossing: Crossing) -> tuple[Crossing | None, Crossing | None]:
    """The attempt's counted crossings just before and just after this one (device clock order)."""
    counted = Crossing.objects.filter(attempt=attempt, status=Crossing.Status.COUNTED).exclude(pk=crossing.pk)
    epoch, time_us = crossing.clock_epoch, crossing.device_time_us
    before = (counted.filter(Q(clock_epoch__lt=epoch) | Q(clock_epoch=epoch, device_time_us__lte=time_us))
              .order_by("-clock_epoch", "-device_time_us", "-pk").first())
    after = (counted.filter(Q(clock_epoch__gt=epoch) | Q(clock_epoch=epoch, device_time_us__gt=time_us))
             .order_by("clock_epoch", "device_time_us", "pk").first())
    return before, after


def _shift_lap_numbers(event_id: int, team_id: int, from_number: int, by: int) -> None:
    """Move the team's laps numbered from_number and up by `by` (+1 or -1) in two statements (the
    unique lap number holds after each)."""
    laps = LapResult.objects.filter(event_id=event_id, team_id=team_id)
    top = laps.aggregate(top=Max("lap_number"))["top"] or 0
    far = top + 2
    laps.filter(lap_number__gte=from_number).update(lap_number=F("lap_number") + far)
    laps.filter(lap_number__gte=from_number + far).update(lap_number=F("lap_number") - far + by)


def _note_new_lap(device: TimerDevice, attempt: Attempt, crossing: Crossing, why: str) -> None:
    crossing.note = why[:200]
    Crossing.objects.filter(pk=crossing.pk).update(note=crossing.note)
    _audit(attempt.event, Action.TIMER_NEW_LAP, device=device, attempt=attempt,
           new={"crossing": crossing.crossing_id, "device_time_us": crossing.device_time_us}, reason=why)


def ingest_crossing(device: TimerDevice, crossing_id: str, device_time_us: int, sensor: str = "",
                    now: datetime | None = None) -> tuple[Crossing, bool]:
    """Store one line crossing and turn it into a lap of the team that was on track WHEN IT HAPPENED.
    Idempotent on the id: a repeated id answers the first crossing (created False).

    The crossing's moment on the server's clock is estimated from the device's clock offset
    (`_place_on_server_clock`), so one replayed from the device's queue after the next team started
    still goes to the team that crossed the line, and one from no attempt's time is kept as
    no_attempt. While the attempt is paused a crossing is kept as paused and makes no lap. Crossings
    of a sensor within the device's debounce time of its last counted one are kept as debounced. The
    first crossing of an attempt starts its lap; each later one closes a lap measured on the DEVICE's
    clock, unless the clock was reset or the gap is longer than the attempt's time limit: then it
    starts a new lap (audited). A crossing that arrives out of order splits the lap it falls in."""
    crossing_id = str(crossing_id).strip()[:64]
    if not crossing_id:
        raise ValidationError("A crossing needs an id.")
    received = now or timezone.now()
    with transaction.atomic():
        device = TimerDevice.objects.select_for_update().select_related("event").get(pk=device.pk)
        if not device.active:
            raise PermissionDenied("This timer device has been revoked.")
        first = Crossing.objects.filter(device=device, crossing_id=crossing_id).select_related("lap").first()
        if first is not None:
            return first, False
        closed = physical_timing_problem(device.event)  # virtual, draft, cancelled or finished: HTTP 409
        if closed:
            raise TimingClosed(closed)
        crossing = Crossing(device=device, crossing_id=crossing_id, sensor=sensor[:40], device_time_us=device_time_us,
                            received=received)
        clock_note = _place_on_server_clock(device, crossing)
        device.last_seen = received
        device.save(update_fields=["last_seen", "clock_offset_us", "clock_offset_at", "clock_epoch",
                                   "clock_epoch_first_us"])
        assert crossing.at is not None
        attempt = _attempt_at(device.event, crossing.at)
        if attempt is None:
            crossing.status = Crossing.Status.NO_ATTEMPT
            crossing.save()
            return crossing, True
        crossing.attempt = attempt
        paused_at = attempt.paused_at if attempt.status == Attempt.Status.PAUSED else None
        if paused_at is not None and crossing.at >= paused_at:
            crossing.status = Crossing.Status.PAUSED
            crossing.save()
            return crossing, True
        debounce_us = device.debounce_s * 1_000_000
        counted = Crossing.objects.filter(status=Crossing.Status.COUNTED, clock_epoch=crossing.clock_epoch)
        last = (counted.filter(device=device, sensor=crossing.sensor)
                .filter(device_time_us__gt=device_time_us - debounce_us,
                        device_time_us__lt=device_time_us + debounce_us)
                .first())
        if last is not None:
            crossing.status = Crossing.Status.DEBOUNCED
            crossing.save()
            return crossing, True
        same = (counted.filter(attempt=attempt, device_time_us__gt=device_time_us - SAME_INSTANT_US,
                               device_time_us__lt=device_time_us + SAME_INSTANT_US).first())
        if same is not None:
            crossing.status = Crossing.Status.DEBOUNCED  # another sensor saw the same passage
            crossing.save()
            return crossing, True
        crossing.status = Crossing.Status.COUNTED
        crossing.save()
        previous, following = _counted_neighbours(attempt, crossing)
        if following is not None:
            _insert_crossing(attempt, device, previous, crossing, following)
            return crossing, True
        old = snapshot(attempt)
        lap_time_s, why = (None, "") if previous is None else _lap_between(attempt, previous, crossing)
        if previous is not None and lap_time_s is None:
            _note_new_lap(device, attempt, crossing, f"{clock_note}; {why}" if clock_note else why)
        lap = None
        if lap_time_s is not None:
            lap = _new_lap(attempt, lap_time_s, source=LapResult.Source.LAP_TIMER, moment=crossing.at,
                           crossing=crossing)
            if _hold_if_implausible(lap):
                lap.save(update_fields=["valid", "invalidated_reason"])
            crossing.lap = lap
            crossing.save(update_fields=["lap"])
            attempt.current_resets = 0
        # The lap in progress starts at this crossing, on the device's clock and on the server's (a lap
        # the console captures next is timed from here).
        attempt.lap_started_device_us, attempt.lap_started_at, attempt.lap_paused_s = device_time_us, crossing.at, 0.0
        _save(attempt)
        if lap is not None:
            _audit(attempt.event, Action.LAP_ADDED, device=device, attempt=attempt, lap=lap, old=old,
                   new={"lap": lap_values(lap), "attempt": snapshot(attempt), "crossing": crossing.crossing_id})
    return crossing, True


def _insert_crossing(attempt: Attempt, device: TimerDevice, previous: Crossing | None, crossing: Crossing,
                     following: Crossing) -> None:
    """A counted crossing that arrived after later ones (replayed from the device's queue): the lap it
    falls in (previous -> following) becomes two. Only those two laps change, whatever the number of
    laps (the lap closed by `following` keeps its resets)."""
    event = attempt.event
    reason = "a crossing arrived late (replayed from the device's queue)"
    after = LapResult.objects.filter(pk=following.lap_id).first() if following.lap_id else None
    if after is None:
        # The following crossing started a lap: the new lap goes before the attempt's next lap in
        # driving order, or after its last one.
        later = (Crossing.objects.filter(attempt=attempt, status=Crossing.Status.COUNTED, lap__isnull=False)
                 .filter(Q(clock_epoch__gt=crossing.clock_epoch)
                         | Q(clock_epoch=crossing.clock_epoch, device_time_us__gt=crossing.device_time_us))
                 .order_by("clock_epoch", "device_time_us", "pk").values_list("lap__lap_number", flat=True).first())
        number = later
    else:
        number = after.lap_number
    if number is None:
        top = LapResult.objects.filter(attempt=attempt).aggregate(top=Max("lap_number"))["top"]
        number = (top + 1) if top is not None else next_lap_number(event.pk, attempt.team_id)
    lap_time_s, why = (None, "") if previous is None else _lap_between(attempt, previous, crossing)
    if previous is not None and lap_time_s is None:
        _note_new_lap(device, attempt, crossing, why)
    if lap_time_s is not None:
        _shift_lap_numbers(event.pk, attempt.team_id, number, +1)
        lap = LapResult(
            event=event, team=attempt.team, attempt=attempt, round=attempt.round, lap_number=number,
            lap_time_s=lap_time_s, resets=0, valid=ranking.lap_is_valid(True, 0, event.max_resets_per_lap),
            source=LapResult.Source.LAP_TIMER, recorded=crossing.received, crossing=crossing,
            ends_at_s=round(attempt.elapsed_s(crossing.at), 3),
        )
        _hold_timer_lap(lap, attempt)
        lap.save()
        Crossing.objects.filter(pk=crossing.pk).update(lap=lap)
        crossing.lap = lap
        _audit(event, Action.LAP_ADDED, device=device, attempt=attempt, lap=lap, old=None,
               new={"lap": lap_values(lap), "crossing": crossing.crossing_id}, reason=reason)
    if after is not None:
        after.refresh_from_db()
        before = lap_values(after)
        split_s, split_why = _lap_between(attempt, crossing, following)
        if split_s is None:
            Crossing.objects.filter(pk=following.pk).update(lap=None)
            _audit(event, Action.LAP_REMOVED, device=device, attempt=attempt, lap=after, old=before, new=None,
                   reason=f"{reason}: {split_why}")
            removed = after.lap_number
            after.delete()
            _shift_lap_numbers(event.pk, attempt.team_id, removed + 1, -1)
        else:
            after.lap_time_s = split_s
            if after.invalidated_reason.startswith(IMPLAUSIBLE_REASON):
                after.invalidated_reason = ""
            after.valid = ranking.lap_is_valid(not after.invalidated_reason, after.resets, event.max_resets_per_lap)
            _hold_if_implausible(after)
            after.save(update_fields=["lap_time_s", "valid", "invalidated_reason"])
            _audit(event, Action.LAP_EDITED, device=device, attempt=attempt, lap=after, old=before,
                   new=lap_values(after), reason=reason)
    else:
        split_s, _ = _lap_between(attempt, crossing, following)
        if split_s is not None:
            # The following crossing started a new lap only because the gap was too long: it now closes one.
            _shift_lap_numbers(event.pk, attempt.team_id, number + (1 if lap_time_s is not None else 0), +1)
            lap = LapResult(
                event=event, team=attempt.team, attempt=attempt, round=attempt.round,
                lap_number=number + (1 if lap_time_s is not None else 0), lap_time_s=split_s, resets=0,
                valid=ranking.lap_is_valid(True, 0, event.max_resets_per_lap), source=LapResult.Source.LAP_TIMER,
                recorded=following.received, crossing=following,
                ends_at_s=round(attempt.elapsed_s(following.at or following.received), 3),
            )
            _hold_timer_lap(lap, attempt)
            lap.save()
            Crossing.objects.filter(pk=following.pk).update(lap=lap)
            _audit(event, Action.LAP_ADDED, device=device, attempt=attempt, lap=lap, old=None,
                   new={"lap": lap_values(lap), "crossing": following.crossing_id}, reason=reason)
    _save(attempt)


IMPLAUSIBLE_REASON = "faster than the plausible minimum"


def _hold_timer_lap(lap: LapResult, attempt: Attempt) -> bool:
    """The rules a new timer-device lap is held by, as a console lap is (`_new_lap`): completed after
    the race time (invalid, with the reason), else below the plausible minimum."""
    if after_race_time(lap, attempt):
        lap.valid, lap.invalidated_reason = False, late_reason(attempt)
        return True
    return _hold_if_implausible(lap)


def _hold_if_implausible(lap: LapResult) -> bool:
    """A timer lap below the plausible minimum is stored invalid until a timekeeper restores (confirms) it."""
    minimum = plausibility.plausible_minimum_s(lap.event)
    if lap.lap_time_s >= minimum or lap.confirmed_implausible:
        return False
    lap.valid = False
    lap.invalidated_reason = f"{IMPLAUSIBLE_REASON} ({minimum} s): restore it to confirm"[:200]
    return True


def rebuild_device_laps(attempt: Attempt, *, user=None, device: TimerDevice | None = None,
                        reason: str = "") -> None:
    """Recompute the attempt's timer laps from its counted crossings (after one is ignored, restored
    or undone): consecutive counted crossings make a lap (`_lap_between`: same clock, not longer than
    the time limit). A lap whose closing crossing no longer closes one hands its resets to the next lap
    that remains (or back to the lap in progress); numbers stay 1..n in driving order. Only laps that
    change are written; each removed, changed or made lap is audited (not undoable one by one: undo
    the crossing's change)."""
    event = attempt.event

    def audit(action: str, lap: LapResult, old, new) -> None:
        _audit(event, action, user=user, device=device, attempt=attempt, lap=lap, old=old, new=new,
               reason=reason or "recomputed from the timer's crossings")

    crossings = sorted(Crossing.objects.filter(attempt=attempt, status=Crossing.Status.COUNTED), key=_crossing_key)
    wanted: dict[int, float] = {}
    for previous, crossing in zip(crossings, crossings[1:], strict=False):
        lap_time_s, _ = _lap_between(attempt, previous, crossing)
        if lap_time_s is not None:
            wanted[crossing.pk] = lap_time_s
    position = {c.pk: index for index, c in enumerate(crossings)}
    closing_order = [c.pk for c in crossings if c.pk in wanted]
    laps = list(LapResult.objects.filter(attempt=attempt, crossing__isnull=False).order_by("lap_number"))
    by_closing = {lap.crossing_id: lap for lap in laps}
    anchor = min((lap.lap_number for lap in laps), default=None)
    # Resets of laps that disappear move to the next lap that survives (or back to the lap in progress).
    carried: dict[int | None, int] = {}
    closing_times = dict(Crossing.objects.filter(pk__in=[lap.crossing_id for lap in laps])
                         .values_list("pk", "device_time_us"))
    for lap in laps:
        if lap.crossing_id in wanted:
            continue
        # The next lap that remains after this one's closing crossing, in driving order.
        at = position.get(lap.crossing_id)
        if at is not None:
            later = next((pk for pk in closing_order if position[pk] > at), None)
        else:  # its crossing is no longer counted: by device time
            time_us = closing_times.get(lap.crossing_id, 0)
            later = next((c.pk for c in crossings if c.pk in wanted and c.device_time_us > time_us), None)
        carried[later] = carried.get(later, 0) + lap.resets
        Crossing.objects.filter(pk=lap.crossing_id).update(lap=None)
        audit(Action.LAP_REMOVED, lap, lap_values(lap), None)
        lap.delete()
    kept: list[LapResult] = []
    for crossing in crossings:
        if crossing.pk not in wanted:
            continue
        lap_time_s = wanted[crossing.pk]
        lap = by_closing.get(crossing.pk)
        extra = carried.get(crossing.pk, 0)
        if lap is not None and lap.pk is not None:
            before = lap_values(lap)
            lap.lap_time_s, lap.resets = lap_time_s, lap.resets + extra
            if lap.invalidated_reason.startswith(IMPLAUSIBLE_REASON) and not _below_minimum(event, lap_time_s):
                lap.invalidated_reason = ""  # merged into a lap that is plausible now
            lap.valid = ranking.lap_is_valid(not lap.invalidated_reason, lap.resets, event.max_resets_per_lap)
            _hold_if_implausible(lap)
            if lap_values(lap) != before:
                lap.save(update_fields=["lap_time_s", "resets", "valid", "invalidated_reason"])
                audit(Action.LAP_EDITED, lap, before, lap_values(lap))
        else:
            moment = crossing.at or crossing.received
            lap = LapResult(
                event=event, team=attempt.team, attempt=attempt, round=attempt.round,
                lap_number=next_lap_number(event.pk, attempt.team_id), lap_time_s=lap_time_s, resets=extra,
                valid=ranking.lap_is_valid(True, extra, event.max_resets_per_lap), source=LapResult.Source.LAP_TIMER,
                recorded=moment, crossing=crossing, ends_at_s=round(attempt.elapsed_s(moment), 3),
            )
            _hold_timer_lap(lap, attempt)
            lap.save()
            Crossing.objects.filter(pk=crossing.pk).update(lap=lap)
            audit(Action.LAP_ADDED, lap, None, {"lap": lap_values(lap), "crossing": crossing.crossing_id})
        kept.append(lap)
    attempt.current_resets += carried.get(None, 0)
    if crossings:
        attempt.lap_started_device_us = crossings[-1].device_time_us
        attempt.lap_started_at, attempt.lap_paused_s = crossings[-1].at or attempt.lap_started_at, 0.0
    else:
        attempt.lap_started_device_us = None
    # Numbers: the attempt's laps in crossing order, where its first lap was (at the end if new).
    others = list(LapResult.objects.filter(event=event, team=attempt.team).exclude(pk__in=[lap.pk for lap in kept])
                  .order_by("lap_number", "pk"))
    if anchor is None:
        ordered = others + kept
    else:
        ordered = [lap for lap in others if lap.lap_number < anchor] + kept + \
                  [lap for lap in others if lap.lap_number >= anchor]
    renumber_laps(event.pk, attempt.team_id, ordered)
    _save(attempt)


def _crossing_status_change(*, user, crossing: Crossing, to: str, allowed: tuple[str, ...], action: str,
                            reason: str, expected_version: int | None) -> Crossing:
    with transaction.atomic():
        crossing = Crossing.objects.select_for_update().select_related("device", "device__event").get(pk=crossing.pk)
        event = crossing.device.event
        check_timekeeper(user, event)
        if crossing.attempt_id is None:
            raise ValidationError("This crossing came while no team was on track: there is no lap to change.")
        attempt = _lock(Attempt(pk=crossing.attempt_id), expected_version, user, correction=True)
        if crossing.status not in allowed:
            raise ValidationError(f"This crossing is {crossing.get_status_display().lower()}.")
        old = {"crossing": crossing.pk, "status": crossing.status}
        crossing.status = to
        crossing.save(update_fields=["status"])
        rebuild_device_laps(attempt, user=user, reason=reason)
        _audit(event, action, user=user, attempt=attempt, old=old, new={"crossing": crossing.pk, "status": to},
               reason=reason)
    return crossing


def ignore_crossing(*, user, crossing: Crossing, reason: str = "", expected_version: int | None = None) -> Crossing:
    """The timekeeper sets a crossing aside (a person walking through the beam): the laps around it
    become one, recomputed from the device times."""
    return _crossing_status_change(user=user, crossing=crossing, to=Crossing.Status.IGNORED,
                                   allowed=(Crossing.Status.COUNTED,), action=Action.CROSSING_IGNORED,
                                   reason=reason, expected_version=expected_version)


def restore_crossing(*, user, crossing: Crossing, reason: str = "", expected_version: int | None = None) -> Crossing:
    """Count an ignored (or debounced) crossing again: the lap it falls in splits in two."""
    return _crossing_status_change(user=user, crossing=crossing, to=Crossing.Status.COUNTED,
                                   allowed=(Crossing.Status.IGNORED, Crossing.Status.DEBOUNCED),
                                   action=Action.CROSSING_RESTORED, reason=reason, expected_version=expected_version)
