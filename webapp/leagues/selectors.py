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
    timekeeper console or a timer device, never a team's own report; a virtual event never ranks laps
    timed at a track (console or timer device: `race.physical_timing_problem` refuses them now, this
    keeps any recorded before out of its board and the league's best virtual lap)."""
    laps = LapResult.objects.filter(event=event)
    if event.kind == Event.Kind.PHYSICAL:
        laps = laps.filter(source__in=LapResult.PHYSICAL_SOURCES)
    else:
        laps = (laps.exclude(source__in=(LapResult.Source.TIMEKEEPER, LapResult.Source.LAP_TIMER))
                .filter(counting_submission_laps(event)))  # a virtual event: the entry each team picked
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


# --- League page, virtual entries, hidden results, exports, podium, approval (issue 12) ----------------

def counting_submissions(event: Event) -> dict[int, int]:
    """team id -> the submission (pk) whose laps rank in a virtual event: the one the team picked,
    else its latest."""
    best: dict[int, tuple[tuple, int]] = {}
    for pk, team_id, counts, created in event.evaluation_submissions.values_list(
            "pk", "evaluation__team_id", "counts", "created"):
        key = (counts, created, pk)
        if team_id not in best or key > best[team_id][0]:
            best[team_id] = (key, pk)
    return {team_id: pk for team_id, (_, pk) in best.items()}


def counting_submission_laps(event: Event) -> Q:
    """Laps of a virtual event that may rank: a team with submissions ranks only the evaluation laps
    of its counting submission (laps typed by organisers, and teams without submissions, as before)."""
    counting = counting_submissions(event)
    if not counting:
        return Q()
    through = LapResult.submissions.through  # type: ignore[attr-defined]
    chosen_laps = through.objects.filter(submission_id__in=list(counting.values())).values("lapresult_id")
    return (~Q(source=LapResult.Source.EVALUATION) | ~Q(team_id__in=list(counting))
            | Q(pk__in=chosen_laps))


def sees_private_results(user, event: Event) -> bool:
    """Organisers of the event's league (and its timekeepers) see results not revealed yet."""
    return can_keep_time(user, event)


def results_visible(user, event: Event) -> bool:
    return event.results_revealed or sees_private_results(user, event)


def events_by_date(user, league: League):
    """The league's events the user may see, by start (then name), never by creation."""
    return visible_events(user, league).order_by("starts", "name", "pk")


def best_laps(event: Event) -> dict[int, float]:
    """team id -> the team's best valid ranked lap in the event (with the off-track penalty per reset)."""
    best: dict[int, float] = {}
    for team_id, lap_time_s, resets, valid in ranked_laps(event).values_list("team_id", "lap_time_s", "resets",
                                                                             "valid"):
        if not ranking.lap_is_valid(valid, resets, event.max_resets_per_lap):
            continue
        time_s = lap_time_s + resets * event.off_track_penalty_s
        if team_id not in best or time_s < best[team_id]:
            best[team_id] = time_s
    return best


def event_places(event: Event) -> list[list]:
    """The event's finishing order (teams in one list share the place): its rounds' final ranking
    (webapp.leagues.rounds.event_ranking), or the leaderboard for an event without rounds."""
    from .rounds import event_ranking

    if event.rounds.exists():
        return event_ranking(event)
    return ranking.places(leaderboard(event))


def podium(event: Event) -> list[dict]:
    """The top three places of the event: [{"place", "teams": [{"team", "best_lap_s"}]}], shared places kept."""
    from .season import event_places as numbered

    best = best_laps(event)
    return [{"place": place, "teams": [{"team": team, "best_lap_s": best.get(team.pk)} for team in teams]}
            for place, teams in numbered(event_places(event)) if place <= 3]


def league_results(user, league: League) -> dict:
    """What the league page shows of results, for this viewer (events whose results are hidden from
    them left out): per team its best virtual and physical laps and the sim-to-real gap (physical best /
    virtual best), and the season standings from the organisers' points table."""
    from .season import season_standings

    events = [event for event in events_by_date(user, league).exclude(status=Event.Status.CANCELLED)
              if results_visible(user, event)]
    teams: dict[int, Team] = {}
    virtual: dict[int, float] = {}
    physical: dict[int, float] = {}
    results, counted = [], []
    for event in events:
        into = physical if event.kind == Event.Kind.PHYSICAL else virtual
        for team_id, time_s in best_laps(event).items():
            if team_id not in into or time_s < into[team_id]:
                into[team_id] = time_s
        places = event_places(event)
        if places:
            results.append(places)
            counted.append(event)
    for team in Team.objects.filter(pk__in=set(virtual) | set(physical)):
        teams[team.pk] = team
    rows = []
    for team_id, team in teams.items():
        v, p = virtual.get(team_id), physical.get(team_id)
        rows.append({"team": team, "virtual_best_s": v, "physical_best_s": p,
                     "gap": round(p / v, 4) if v and p else None})
    rows.sort(key=lambda row: (row["gap"] is None, row["gap"] or 0.0, row["team"].name))
    season = []
    for line in season_standings(results, league.points_table or []):
        earned = iter(line.points_by_event)  # one per event the team was placed in, in event order
        season.append({"line": line, "by_event": [next(earned) if any(line.team in place for place in result)
                                                  else None for result in results]})
    return {"teams": rows, "season": season, "season_events": counted}


def pending_registrations(event: Event):
    return event.registrations.filter(approved=False).select_related("team", "registered_by").order_by("created")


def team_submissions(event: Event, team) -> list:
    """The team's submissions to the event, newest first, each with `best_lap_s` (valid laps, penalty
    added) and `counting` (its laps are the ones that rank)."""
    if team is None:
        return []
    counting = counting_submissions(event).get(team.pk)
    rows = list(event.evaluation_submissions.filter(evaluation__team=team)
                .select_related("evaluation", "evaluation__model").prefetch_related("laps")
                .order_by("-created", "-pk"))
    for submission in rows:
        times = [lap.lap_time_s + lap.resets * event.off_track_penalty_s for lap in submission.laps.all()
                 if ranking.lap_is_valid(lap.valid, lap.resets, event.max_resets_per_lap)]
        submission.best_lap_s = min(times) if times else None
        submission.counting = submission.pk == counting
    return rows
