"""The timekeeper console (issue 12): its page, its JSON endpoints and the organisers' audit log.

Thin views over `race` (every rule, lock and audit entry lives there). The console reads the
attempt's state with GET .../console/state/ and acts with POST .../console/attempts/<id>/action/,
sending the `expected_version` it last saw: a second console that acted first makes the service
raise `StaleAttempt`, answered 409 with the current state, so two consoles pressing "lap" at the same
moment record ONE lap and a retried request whose answer was lost never counts twice.

Answers: 200 with the state; 400 {"error": ...} for a refused action (ValidationError), with
`needs_confirmation` and a signed `capture` for a lap below the plausible minimum (resent with
confirm, the lap keeps the moment of the first press); 409 {"error", "state"} for a stale version;
404 for anyone who may not time the event (another league's organiser too) or a record of another
event. POSTs are CSRF protected (the page sends the token in X-CSRFToken).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core import signing
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from webapp.accounts.models import Team

from . import race, selectors, services
from .models import Attempt, AuditEntry, Crossing, Event, Heat, LapResult, Round

# A lap below the plausible minimum is confirmed within this long of the press, or pressed again.
CONFIRM_MAX_AGE_S = 300
_CAPTURE_SALT = "leagues.console.capture"
RECENT_ATTEMPTS = 12
# A second LAP press by the same user this soon after a recorded lap is a double press, not a lost answer.
DOUBLE_PRESS_S = 1.5


def _epoch(moment: datetime | None) -> float | None:
    return moment.timestamp() if moment is not None else None


def _timed_event_or_404(request: HttpRequest, slug: str, event_id: int) -> Event:
    """The event, for its league's organisers and its timekeepers; 404 for everyone else."""
    event = get_object_or_404(Event.objects.select_related("league"), pk=event_id, league__slug=slug)
    if not selectors.can_keep_time(request.user, event):
        raise Http404("No such event.")
    return event


def _organised_event_or_404(request: HttpRequest, slug: str, event_id: int) -> Event:
    event = get_object_or_404(Event.objects.select_related("league"), pk=event_id, league__slug=slug)
    if not selectors.is_organiser(request.user, event.league):
        raise Http404("No such event.")
    return event


# -- the state the console shows ----------------------------------------------------------------

def _lap_json(lap: LapResult) -> dict[str, Any]:
    return {"id": lap.pk, "number": lap.lap_number, "time_s": lap.lap_time_s, "resets": lap.resets,
            "valid": lap.valid, "reason": lap.invalidated_reason, "source": lap.source,
            "source_label": lap.get_source_display(), "confirmed_implausible": lap.confirmed_implausible,
            "ends_at_s": lap.ends_at_s}


def _crossing_json(crossing: Crossing) -> dict[str, Any]:
    return {"id": crossing.pk, "crossing_id": crossing.crossing_id, "device": crossing.device.name,
            "sensor": crossing.sensor, "device_time_us": crossing.device_time_us,
            "received": _epoch(crossing.received), "status": crossing.status,
            "status_label": crossing.get_status_display(), "lap": crossing.lap.lap_number if crossing.lap else None}


def _last_entry(attempt: Attempt) -> AuditEntry | None:
    return (AuditEntry.objects.filter(attempt=attempt).exclude(action=AuditEntry.Action.UNDO)
            .filter(undone_by__isnull=True).order_by("-at", "-pk").first())


def _attempt_json(attempt: Attempt) -> dict[str, Any]:
    laps = LapResult.objects.filter(attempt=attempt).order_by("lap_number")
    crossings = (Crossing.objects.filter(attempt=attempt).select_related("device", "lap")
                 .order_by("clock_epoch", "device_time_us", "pk"))
    last = _last_entry(attempt)
    return {
        "id": attempt.pk, "version": attempt.version, "status": attempt.status,
        "status_label": attempt.get_status_display(), "number": attempt.number,
        "team": {"id": attempt.team_id, "name": attempt.team.name},
        "round": {"id": attempt.round_id, "name": attempt.round.name} if attempt.round else None,
        "heat": attempt.heat.key if attempt.heat else None,
        "started_at": _epoch(attempt.started_at), "paused_at": _epoch(attempt.paused_at),
        "paused_total_s": attempt.paused_total_s, "ended_at": _epoch(attempt.ended_at),
        "time_limit_s": attempt.time_limit_s, "elapsed_s": round(attempt.elapsed_s(), 3),
        "remaining_s": round(attempt.remaining_s(), 3),
        "lap_started_at": _epoch(attempt.lap_started_at), "lap_paused_s": attempt.lap_paused_s,
        "timed_by_device": attempt.lap_started_device_us is not None,
        "current_resets": attempt.current_resets, "throttle_percent": attempt.throttle_percent,
        "laps": [_lap_json(lap) for lap in laps],
        "crossings": [_crossing_json(c) for c in crossings],
        "undo": ({"action": last.get_action_display(), "by": last.actor_label} if last else None),
    }


def _recent_attempts(event: Event) -> list[dict[str, Any]]:
    return [{"id": a.pk, "team": a.team.name, "number": a.number, "round": a.round.name if a.round else None,
             "heat": a.heat.key if a.heat else None, "status": a.status, "status_label": a.get_status_display()}
            for a in selectors.attempts_of_event(event)[:RECENT_ATTEMPTS]]


def _default_attempt(event: Event) -> Attempt | None:
    """What a console opened without naming an attempt shows: the team on track, else the latest."""
    return selectors.attempt_on_track(event) or selectors.attempts_of_event(event).first()


def console_state(event: Event, attempt: Attempt | None) -> dict[str, Any]:
    on_track = selectors.attempt_on_track(event)
    return {
        "server_time": timezone.now().timestamp(),
        "event": {"id": event.pk, "board_version": Event.objects.filter(pk=event.pk)
                  .values_list("board_version", flat=True).first()},
        "attempt": _attempt_json(attempt) if attempt is not None else None,
        "on_track_id": on_track.pk if on_track else None,
        "attempts": _recent_attempts(event),
    }


def setup_choices(event: Event) -> dict[str, Any]:
    """Rounds (with their heats or teams) and the event's approved teams, for "who is on track"."""
    def team_json(team) -> dict[str, Any]:
        return {"id": team.pk, "name": team.name}

    rounds = []
    for race_round in selectors.rounds_of_event(event):
        heats = [{"id": h.pk, "key": h.key, "group": h.group,
                  "teams": [team_json(t) for t in (h.team_a, h.team_b) if t is not None]}
                 for h in race_round.heats.select_related("team_a", "team_b")
                 if h.winner_id is None and (h.team_a_id or h.team_b_id)]
        rounds.append({"id": race_round.pk, "name": race_round.name, "kind": race_round.get_kind_display(),
                       "status": race_round.status, "heats": heats,
                       "teams": [team_json(t) for t in selectors.round_teams(race_round)]})
    teams = [team_json(r.team) for r in selectors.registrations_of_event(event).filter(approved=True)]
    return {"rounds": rounds, "teams": teams}


def _shown(value: Any) -> str:
    if value is None or value == "":
        return "–"
    if isinstance(value, str) and len(value) >= 19 and value[4] == "-" and value[10] == "T":
        try:
            return timezone.localtime(datetime.fromisoformat(value)).strftime("%H:%M:%S.%f")[:-3]
        except ValueError:
            return value
    return str(value)


def audit_changes(old: Any, new: Any) -> list[str]:
    """What an audit entry changed, for people: "field: old → new" for each value that differs (a new
    lap summed up in one line), instead of two JSON documents of which most is the same."""
    lines: list[str] = []
    if isinstance(new, dict) and isinstance(new.get("lap"), dict) and "attempt" in new:
        lap = new["lap"]
        lines.append(f"lap #{lap.get('lap_number')}: {lap.get('lap_time_s')} s, {lap.get('resets')} resets, "
                     + ("valid" if lap.get("valid") else "invalid"))
        new = new["attempt"]
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new)):
            if key == "id" or old.get(key) == new.get(key):
                continue
            lines.append(f"{key.replace('_', ' ')}: {_shown(old.get(key))} → {_shown(new.get(key))}")
    return lines


# -- pages --------------------------------------------------------------------------------------

@login_required
def timed_event_list(request: HttpRequest) -> HttpResponse:
    """The physical events the user may run the console of (not cancelled or drafts), latest first."""
    events = (selectors.timed_events(request.user).filter(kind=Event.Kind.PHYSICAL)
              .exclude(status__in=(Event.Status.CANCELLED, Event.Status.DRAFT)).order_by("-starts"))
    return render(request, "leagues/console_events.html", {"events": events})


@login_required
def event_console(request: HttpRequest, slug: str, event_id: int) -> HttpResponse:
    event = _timed_event_or_404(request, slug, event_id)
    attempt = _default_attempt(event)
    context = {
        "league": event.league, "event": event,
        "is_organiser": selectors.is_organiser(request.user, event.league),
        # Why this event takes no new attempts or laps (virtual, draft, cancelled, finished), or None.
        "timing_closed": race.physical_timing_problem(event),
        "initial_state": console_state(event, attempt),
        "setup": setup_choices(event),
    }
    return render(request, "leagues/console.html", context)


@login_required
def event_audit(request: HttpRequest, slug: str, event_id: int) -> HttpResponse:
    event = _organised_event_or_404(request, slug, event_id)
    def text(value: Any) -> str:
        return "" if value is None else json.dumps(value, sort_keys=True, ensure_ascii=False)

    rows = [(entry, audit_changes(entry.old, entry.new), text(entry.old), text(entry.new))
            for entry in selectors.audit_entries(event)]
    return render(request, "leagues/audit_log.html", {"league": event.league, "event": event, "rows": rows})


@login_required
def event_audit_csv(request: HttpRequest, slug: str, event_id: int) -> HttpResponse:
    event = _organised_event_or_404(request, slug, event_id)
    response = HttpResponse(services.audit_csv(request.user, event), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="audit-event-{event.pk}.csv"'
    return response


# -- JSON endpoints -----------------------------------------------------------------------------

def _json_state(event: Event, attempt: Attempt | None, status: int = 200, **extra) -> JsonResponse:
    response = JsonResponse({**extra, "state": console_state(event, attempt)}, status=status)
    response["Cache-Control"] = "no-store"
    return response


def _body(request: HttpRequest) -> dict[str, Any]:
    try:
        data = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: nesting deeper than the parser goes
        raise ValidationError("The request is not JSON.") from None
    if not isinstance(data, dict):
        raise ValidationError("The request is not a JSON object.")
    return data


def _int_or_none(value: Any, what: str) -> int | None:
    if value in (None, ""):
        return None
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):  # OverflowError: 1e400 parses as an infinite float
        raise ValidationError(f"{what} must be a whole number.") from None


@login_required
@require_GET
def console_state_json(request: HttpRequest, slug: str, event_id: int) -> JsonResponse:
    event = _timed_event_or_404(request, slug, event_id)
    attempt_id = request.GET.get("attempt")
    if attempt_id:
        try:
            attempt = get_object_or_404(Attempt.objects.select_related("team", "round", "heat"),
                                        pk=int(attempt_id), event=event)
        except ValueError:
            raise Http404("No such attempt.") from None
    else:
        attempt = _default_attempt(event)
    return _json_state(event, attempt)


def _stale_message(request: HttpRequest, attempt: Attempt, action: str = "", resent: bool = False) -> str:
    """Why a press was refused: another console's change, this user's second LAP press right after the
    first (a double press: one lap; not a request the page `resent`), or this user's own earlier press
    (a request resent after its answer was lost) that the server had recorded already."""
    last = _last_entry(attempt)
    if last is None:
        what = "a change"
    else:
        when = f"{timezone.localtime(last.at):%H:%M:%S}"
        # The lap's own moment (the server's clock when it was captured) tells a double press.
        recorded = last.lap.recorded if last.lap is not None and last.lap.recorded is not None else last.at
        if (action == "lap" and not resent and last.action == AuditEntry.Action.LAP_ADDED
                and last.actor_id == request.user.pk and (timezone.now() - recorded).total_seconds() <= DOUBLE_PRESS_S):
            number = ((last.new or {}).get("lap") or {}).get("lap_number")
            lap = f"lap {number}" if number else "the lap"
            return (f"Lap already recorded by your previous press ({lap}, {when}): this press recorded no "
                    "second lap.")
        if last.actor_id == request.user.pk:
            return (f"Already recorded: “{last.get_action_display()}” from your earlier press ({when}), whose "
                    "answer was lost on the way; it was not recorded twice. The console shows the current state.")
        what = f"“{last.get_action_display()}” ({last.actor_label}, {when})"
    return (f"Another console recorded {what} first, so nothing was recorded from this press. "
            "The console now shows the current state: check it and press again if needed.")


def _refused(exc: ValidationError) -> str:
    return " ".join(exc.messages)


@login_required
@require_POST
def console_create_attempt(request: HttpRequest, slug: str, event_id: int) -> JsonResponse:
    """Put a team on track: a new attempt (ready) of the team in the round (and heat)."""
    event = _timed_event_or_404(request, slug, event_id)
    try:
        data = _body(request)
        team_id = _int_or_none(data.get("team_id"), "team_id")
        if team_id is None:
            raise ValidationError("Choose the team on track.")
        team = Team.objects.filter(pk=team_id).first()
        if team is None:
            raise ValidationError("No such team.")
        round_id, heat_id = _int_or_none(data.get("round_id"), "round_id"), _int_or_none(data.get("heat_id"), "heat_id")
        race_round = get_object_or_404(Round, pk=round_id, event=event) if round_id is not None else None
        heat = get_object_or_404(Heat, pk=heat_id, round__event=event) if heat_id is not None else None
        attempt = race.create_attempt(user=request.user, event=event, team=team, race_round=race_round, heat=heat)
    except ValidationError as exc:
        return JsonResponse({"error": _refused(exc)}, status=400)
    except PermissionDenied:
        raise Http404("No such event.") from None
    other = selectors.attempt_on_track(event)
    if other is not None and other.pk != attempt.pk:
        # The console stays on the team on track (it must be ended first); it follows the new one then.
        return _json_state(event, other, status=201, notice=_still_on_track(other, attempt), created=attempt.pk)
    return _json_state(event, attempt, status=201, created=attempt.pk)


def _still_on_track(other: Attempt, attempt: Attempt) -> str:
    """What the timekeeper must know when a team is put on track while another one still runs."""
    return (f"“{other.team.name}” is still on track (attempt {other.number}, {other.get_status_display().lower()}): "
            f"end its attempt first. “{attempt.team.name}” is ready and waits: the console shows it once "
            f"“{other.team.name}” has ended.")


def _capture_token(attempt: Attempt, moment: datetime) -> str:
    return signing.dumps({"attempt": attempt.pk, "at": moment.isoformat()}, salt=_CAPTURE_SALT)


def _captured_moment(token: Any, attempt: Attempt) -> datetime | None:
    """The moment of the first press of a lap being confirmed (signed by us), or None (now)."""
    if not token:
        return None
    try:
        data = signing.loads(str(token), salt=_CAPTURE_SALT, max_age=CONFIRM_MAX_AGE_S)
    except signing.BadSignature:
        raise ValidationError("This confirmation has expired: capture the lap again.") from None
    if data.get("attempt") != attempt.pk:
        raise ValidationError("This confirmation belongs to another attempt.")
    return datetime.fromisoformat(data["at"])


def _run_action(request: HttpRequest, attempt: Attempt, data: dict[str, Any]) -> None:
    """Call the race service the action names (every rule and check is the service's)."""
    user, action = request.user, str(data.get("action") or "")
    version = _int_or_none(data.get("expected_version"), "expected_version")
    if version is None:
        raise ValidationError("expected_version is required: reload the console.")
    common = {"user": user, "attempt": attempt, "expected_version": version}
    reason = str(data.get("reason") or "")
    simple = {"start": race.start, "pause": race.pause, "resume": race.resume, "end": race.end,
              "add_reset": race.add_reset, "remove_reset": race.remove_reset}
    if action in simple:
        simple[action](**common)
    elif action == "dnf":
        race.dnf(**common, reason=reason)
    elif action == "undo":
        race.undo_last(**common)
    elif action == "lap":
        moment = _captured_moment(data.get("capture"), attempt) if data.get("confirm") else None
        moment = moment or timezone.now()
        try:
            race.capture_lap(**common, confirm=bool(data.get("confirm")), now=moment)
        except race.NeedsConfirmation as exc:
            exc.capture = _capture_token(attempt, moment)  # type: ignore[attr-defined]
            raise
    elif action == "throttle":
        race.set_throttle(**common, percent=_int_or_none(data.get("percent"), "The throttle"))
    elif action in ("invalidate_lap", "restore_lap"):
        lap_id = _int_or_none(data.get("lap_id"), "lap_id")
        lap = get_object_or_404(LapResult, pk=lap_id, event=attempt.event, attempt=attempt)
        service = race.invalidate_lap if action == "invalidate_lap" else race.restore_lap
        service(user=user, lap=lap, reason=reason, expected_version=version)
    elif action in ("ignore_crossing", "restore_crossing"):
        crossing_id = _int_or_none(data.get("crossing_id"), "crossing_id")
        crossing = get_object_or_404(Crossing, pk=crossing_id, attempt=attempt)
        service = race.ignore_crossing if action == "ignore_crossing" else race.restore_crossing
        service(user=user, crossing=crossing, reason=reason, expected_version=version)
    else:
        raise ValidationError(f"Unknown action “{action[:40]}”.")


@login_required
@require_POST
def console_action(request: HttpRequest, slug: str, event_id: int, attempt_id: int) -> JsonResponse:
    event = _timed_event_or_404(request, slug, event_id)
    attempt = get_object_or_404(Attempt, pk=attempt_id, event=event)
    data: dict[str, Any] = {}
    try:
        data = _body(request)
        _run_action(request, attempt, data)
    except race.StaleAttempt as exc:
        message = _stale_message(request, exc.attempt, str(data.get("action") or ""), data.get("resent") is True)
        return _json_state(event, exc.attempt, status=409, error=message, stale=True)
    except race.NeedsConfirmation as exc:
        return _json_state(event, attempt, status=400, error=_refused(exc), needs_confirmation=True,
                           lap_time_s=exc.lap_time_s, minimum_s=exc.minimum_s, capture=getattr(exc, "capture", ""))
    except ValidationError as exc:
        return _json_state(event, attempt, status=400, error=_refused(exc))
    except PermissionDenied:
        raise Http404("No such event.") from None
    attempt.refresh_from_db()
    return _json_state(event, attempt)
