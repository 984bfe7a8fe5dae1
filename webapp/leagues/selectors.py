"""Read-side queries for leagues: who may see what, and the leaderboards (rules in ranking.py)."""

from __future__ import annotations

from django.db.models import Count, Q
from django.shortcuts import get_object_or_404
from django.utils import timezone

from webapp.accounts.models import Team
from webapp.accounts.selectors import team_ids_of

from . import ranking
from .models import Attempt, AuditEntry, Event, LapResult, League, Registration, Round


def visible_leagues(user):
    """Public leagues, plus invite-only ones that invited one of the user's teams or that they organise."""
    leagues = League.objects.all()
    if user.is_authenticated and user.is_superuser:
        return leagues
    condition = Q(visibility=League.Visibility.PUBLIC)
    if user.is_authenticated:
        condition |= Q(invited_teams__in=team_ids_of(user)) | Q(organisers=user)
    return leagues.filter(condition).distinct()


def is_organiser(user, league: League) -> bool:
    if not user.is_authenticated:
        return False
    return user.is_superuser or league.organisers.filter(pk=user.pk).exists()


def league_or_404(user, slug: str) -> League:
    return get_object_or_404(visible_leagues(user), slug=slug)


def visible_events(user, league: League):
    """Drafts stay with the organisers until they open the event."""
    events = league.events.annotate(team_count=Count("registrations", distinct=True))
    if not is_organiser(user, league):
        events = events.exclude(status=Event.Status.DRAFT)
    return events


def event_or_404(user, league_slug: str, event_id: int) -> Event:
    league = league_or_404(user, league_slug)
    return get_object_or_404(visible_events(user, league).select_related("league"), pk=event_id)


def upcoming_events(user, *, limit: int = 6):
    """Events of leagues the user can see that have not ended, soonest first."""
    return (
        Event.objects.filter(league__in=visible_leagues(user), ends__gte=timezone.now())
        .exclude(status__in=[Event.Status.DRAFT, Event.Status.CANCELLED])
        .select_related("league")
        .annotate(team_count=Count("registrations", distinct=True))
        .order_by("starts")[:limit]
    )


def registrations_of_event(event: Event):
    return event.registrations.select_related("team").order_by("created")


def registration_of(event: Event, team) -> Registration | None:
    if team is None:
        return None
    return event.registrations.filter(team=team).first()


def registrations_of_team(team):
    return (
        Registration.objects.filter(team=team)
        .select_related("event", "event__league")
        .order_by("event__starts")
    )


def leaderboard(event: Event) -> list[ranking.Standing]:
    """The event's standings under its ranking rule and tie-break chain; registered teams without laps
    appear unranked. A physical event ranks only laps from organisers, the console or a timer device."""
    laps_by_team: dict = {registration.team: [] for registration in registrations_of_event(event)}
    for lap in ranked_laps(event).select_related("team"):
        laps_by_team.setdefault(lap.team, []).append(lap)
    return rank_laps(event, laps_by_team, event.ranking_rule, event.consecutive_laps)


def league_list_rows(user):
    return visible_leagues(user).annotate(
        event_count=Count("events", filter=~Q(events__status=Event.Status.DRAFT), distinct=True)
    )


def _organised_leagues(user):
    return League.objects.all() if user.is_superuser else League.objects.filter(organisers=user)


def lap_team_choices(user, event: Event | None = None):
    """The teams a lap may be recorded for in the admin: those with an approved registration for the
    event (for any event the user organises while no event is chosen). The rule itself is
    `services.lap_problem`; this only keeps other teams out of the dropdown."""
    registrations = Registration.objects.filter(approved=True)
    if event is not None:
        registrations = registrations.filter(event=event)
    else:
        registrations = registrations.filter(event__league__in=_organised_leagues(user))
    return Team.objects.filter(pk__in=registrations.values("team_id")).order_by("name")


def registration_team_choices(user, league: League | None = None, current_team_id: int | None = None):
    """The teams an organiser may register in the admin: those invited to the league and those
    already registered for one of its events (for every league they organise while none is chosen),
    plus the registration's current team. Superusers may register any team."""
    if user.is_superuser:
        return Team.objects.order_by("name")
    leagues = _organised_leagues(user)
    if league is not None:
        leagues = leagues.filter(pk=league.pk)
    condition = Q(league_invitations__in=leagues) | Q(registrations__event__league__in=leagues)
    if current_team_id is not None:
        condition |= Q(pk=current_team_id)
    return Team.objects.filter(pk__in=Team.objects.filter(condition).values("pk")).order_by("name")


# --- Race operations (issue 12): who may time an event, laps that rank, rounds, the audit log ---------

def can_keep_time(user, event: Event) -> bool:
    """Organisers of the event's league and the timekeepers the organisers appointed for the event."""
    if not getattr(user, "is_authenticated", False) or getattr(user, "pk", None) is None:
        return False
    return is_organiser(user, event.league) or event.timekeepers.filter(pk=user.pk).exists()


def timed_events(user):
    """Events the user may run the timekeeper console of."""
    if not getattr(user, "is_authenticated", False) or getattr(user, "pk", None) is None:
        return Event.objects.none()
    events = Event.objects.select_related("league")
    if user.is_superuser:
        return events
    return events.filter(Q(league__organisers=user) | Q(timekeepers=user)).distinct()


def attempt_rules(event: Event) -> ranking.AttemptRules:
    return ranking.AttemptRules(time_limit_s=event.attempt_time_s, attempts_per_team=event.attempts_per_team,
                                laps_per_attempt=event.laps_per_attempt)


def ranked_laps(event: Event):
    """The laps a leaderboard of the event ranks: a physical event takes only laps from organisers, the
    timekeeper console or a timer device, never a team's own report."""
    laps = LapResult.objects.filter(event=event)
    if event.kind == Event.Kind.PHYSICAL:
        laps = laps.filter(source__in=LapResult.PHYSICAL_SOURCES)
    return laps


def rank_laps(event: Event, laps_by_team: dict, rule: str, n: int) -> list[ranking.Standing]:
    chain = event.tie_break_chain
    return ranking.rank_teams(laps_by_team, rule, n, event.off_track_penalty_s, chain,
                              max_resets_per_lap=event.max_resets_per_lap, attempt_rules=attempt_rules(event))


def round_teams(race_round: Round) -> list:
    """The teams of a round: its heats' teams (bracket and group rounds), else the event's approved ones."""
    heats = list(race_round.heats.select_related("team_a", "team_b"))
    if heats:
        teams: dict = {}
        for heat in heats:
            for team in (heat.team_a, heat.team_b):
                if team is not None:
                    teams.setdefault(team.pk, team)
        return list(teams.values())
    return [registration.team for registration
            in registrations_of_event(race_round.event).filter(approved=True)]


def round_standings(race_round: Round, teams=None) -> list[ranking.Standing]:
    """Standings of one round under its rule (the event's when blank) and the event's tie-break chain."""
    event = race_round.event
    laps_by_team: dict = {team: [] for team in (teams if teams is not None else round_teams(race_round))}
    by_pk = {team.pk: team for team in laps_by_team}
    for lap in ranked_laps(event).filter(round=race_round).select_related("team"):
        if teams is None or lap.team_id in by_pk:
            laps_by_team.setdefault(by_pk.get(lap.team_id, lap.team), []).append(lap)
    return rank_laps(event, laps_by_team, race_round.rule, race_round.n)


def rounds_of_event(event: Event):
    return event.rounds.order_by("order", "pk")


def attempt_on_track(event: Event) -> Attempt | None:
    return (Attempt.objects.filter(event=event, status__in=Attempt.ON_TRACK)
            .select_related("team", "round", "heat").first())


def attempts_of_event(event: Event):
    return event.attempts.select_related("team", "round", "heat").order_by("-created", "-pk")


def audit_entries(event: Event):
    return (AuditEntry.objects.filter(event=event)
            .select_related("actor", "lap", "lap__team", "attempt", "attempt__team")
            .order_by("at", "pk"))


AUDIT_CSV_HEADER = ("when", "who", "action", "team", "attempt", "lap", "old", "new", "reason", "undone")


def audit_rows(event: Event):
    """The audit log as rows of text (header first), for the CSV export."""
    import json

    yield AUDIT_CSV_HEADER
    for entry in audit_entries(event):
        team = entry.attempt.team.name if entry.attempt else (entry.lap.team.name if entry.lap else "")
        yield (
            entry.at.isoformat(), entry.actor_label, entry.get_action_display(), team,
            entry.attempt.number if entry.attempt else "", entry.lap.lap_number if entry.lap else "",
            json.dumps(entry.old, sort_keys=True) if entry.old is not None else "",
            json.dumps(entry.new, sort_keys=True) if entry.new is not None else "",
            entry.reason, "yes" if entry.undone_by_id else "",
        )


def attempt_state(attempt: Attempt, now=None) -> dict:
    """What a console shows of an attempt (JSON-ready): status, version (send it back with the next
    action), race time left, the lap in progress (server clock, pauses excluded) and its resets."""
    now = now or timezone.now()
    lap_running_s = None
    if attempt.status in Attempt.ON_TRACK and attempt.lap_started_at is not None \
            and attempt.lap_started_device_us is None:
        until = attempt.paused_at or now
        lap_running_s = max(0.0, (until - attempt.lap_started_at).total_seconds() - attempt.lap_paused_s)
    return {
        "id": attempt.pk, "event": attempt.event_id, "team": attempt.team_id, "team_name": attempt.team.name,
        "round": attempt.round_id, "heat": attempt.heat_id, "number": attempt.number, "status": attempt.status,
        "version": attempt.version, "time_limit_s": attempt.time_limit_s,
        "elapsed_s": round(attempt.elapsed_s(now), 3), "remaining_s": round(attempt.remaining_s(now), 3),
        "lap_running_s": None if lap_running_s is None else round(lap_running_s, 3),
        "timed_by_device": attempt.lap_started_device_us is not None,
        "current_resets": attempt.current_resets, "throttle_percent": attempt.throttle_percent,
        "laps": [{"id": lap.pk, "lap_number": lap.lap_number, "lap_time_s": lap.lap_time_s, "resets": lap.resets,
                  "valid": lap.valid, "invalidated_reason": lap.invalidated_reason}
                 for lap in attempt.laps.order_by("lap_number")],
    }
