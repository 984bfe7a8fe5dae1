"""The live leaderboard of an event as one JSON-ready document: what the event page, the venue's big
screen, the streaming overlay and their websocket (webapp.leagues.consumers) all show.

`board(event, private=...)` reads the standings (selectors: the ranking rule, tie-break chain and
physical-lap sources live there and in ranking.py), the team on track with its race timer, and the
event's facts. `cached_board` keeps one per (event, private) and per web process, keyed on
`Event.board_version`, which `live.notify_event` bumps with every change: a page or socket asking
for the same version gets the same document without a database read of the laps.

Private boards (organisers) include results an organiser has not revealed yet (a hidden final
track); public ones say the results are hidden and carry no rows.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from django.template.loader import render_to_string

from . import brackets, ranking, selectors
from .models import Event, Heat, LapResult, Round


def _epoch(moment) -> float | None:
    return moment.timestamp() if moment is not None else None


def _round_in_play(event: Event) -> Round | None:
    """The round the board ranks: the round of the attempt on track, else the running round, else
    the latest round that has laps or teams seeded; None when the event has no rounds."""
    rounds = list(selectors.rounds_of_event(event))
    if not rounds:
        return None
    on_track = selectors.attempt_on_track(event)
    if on_track is not None and on_track.round_id:
        return next((r for r in rounds if r.pk == on_track.round_id), rounds[-1])
    running = [r for r in rounds if r.status == Round.Status.RUNNING]
    if running:
        return running[-1]
    started = [r for r in rounds if r.status != Round.Status.PENDING or r.seeding]
    return started[-1] if started else rounds[0]


def _on_track(event: Event) -> dict[str, Any] | None:
    attempt = selectors.attempt_on_track(event)
    if attempt is None:
        return None
    laps = list(LapResult.objects.filter(attempt=attempt).order_by("lap_number")
                .values("lap_number", "lap_time_s", "resets", "valid"))
    # A counted device crossing moves the lap start to its moment on the server's clock (race.py), so
    # the lap in progress is timed from the last crossing on both kinds of attempt.
    lap_started_at = attempt.lap_started_at
    return {
        "attempt_id": attempt.pk,
        "team_id": attempt.team_id,
        "team": attempt.team.name,
        "number": attempt.number,
        "round": attempt.round.name if attempt.round else None,
        "heat": attempt.heat.key if attempt.heat else None,
        "status": attempt.status,
        "started_at": _epoch(attempt.started_at),
        "paused_at": _epoch(attempt.paused_at),
        "paused_total_s": attempt.paused_total_s,
        "time_limit_s": attempt.time_limit_s,
        "lap_started_at": _epoch(lap_started_at),
        "lap_paused_s": attempt.lap_paused_s,
        "current_resets": attempt.current_resets,
        "throttle_percent": attempt.throttle_percent,
        "laps": [{"n": lap["lap_number"], "time_s": lap["lap_time_s"], "resets": lap["resets"],
                  "valid": lap["valid"]} for lap in laps],
    }


def _rows(standings) -> list[dict[str, Any]]:
    rows = []
    for standing in standings:
        score = standing.score
        rows.append({
            "rank": standing.rank,
            "team_id": standing.team.pk,
            "team": standing.team.name,
            "score_s": score.time_s if score else None,
            "counting": list(score.laps) if score else [],
            "gap_s": standing.gap_s,
            "best_lap_s": standing.best_lap_s,
            "laps": standing.lap_count,
            "valid_laps": standing.valid_lap_count,
            "resets": standing.resets,
            "tie_break": standing.tie_break,
        })
    return rows


def _heat_in_play(race_round: Round) -> Heat | None:
    """A bracket round's heat the board shows: the one on track, else the latest raced, else the
    first with both teams and no winner."""
    on_track = selectors.attempt_on_track(race_round.event)
    if on_track is not None and on_track.heat_id and on_track.round_id == race_round.pk:
        return on_track.heat
    latest = (race_round.attempts.filter(heat__isnull=False).select_related("heat")
              .order_by("-created", "-pk").first())
    if latest is not None and latest.heat is not None and latest.heat.winner_id is None:
        return latest.heat
    return (race_round.heats.filter(winner__isnull=True, team_a__isnull=False, team_b__isnull=False)
            .order_by("round_index", "position").first())


def _heat_standings(heat: Heat) -> list:
    """The heat's two teams ranked as the heat is decided (rounds.decide_heat's rules)."""
    from .rounds import heat_attempt_rules, heat_laps

    event = heat.round.event
    teams = [team for team in (heat.team_a, heat.team_b) if team is not None]
    laps_by_team = {team: heat_laps(heat, team) for team in teams}
    rules = heat_attempt_rules(event, heat.attempts.values("team", "number").count())
    return ranking.rank_teams(laps_by_team, heat.round.rule, heat.round.n, event.off_track_penalty_s,
                              event.tie_break_chain, max_resets_per_lap=event.max_resets_per_lap,
                              attempt_rules=rules)


def _bracket_places(race_round: Round) -> list[dict[str, Any]]:
    """A decided bracket's final places as board rows (no score: the bracket decided them)."""
    from .rounds import round_ranking

    places = round_ranking(race_round)
    rows = []
    for place, teams in zip(brackets.place_numbers(places), places, strict=True):
        for team in teams:
            rows.append({"rank": place, "team_id": team.pk, "team": team.name, "score_s": None, "counting": [],
                         "gap_s": None, "best_lap_s": None, "laps": 0, "valid_laps": 0, "resets": 0,
                         "tie_break": None, "place_text": "winner" if place == 1 else f"place {place}"})
    return rows


def _standings_in_play(event: Event, race_round: Round | None) -> tuple[list[dict[str, Any]], str | None]:
    """Board rows and the heat they are of (None: the round's or event's standings)."""
    if race_round is None:
        return _rows(selectors.leaderboard(event)), None
    if race_round.kind in (Round.Kind.SINGLE_ELIMINATION, Round.Kind.DOUBLE_ELIMINATION):
        heat = _heat_in_play(race_round)
        if heat is not None:
            return _rows(_heat_standings(heat)), heat.key
        if race_round.status == Round.Status.FINISHED:
            return _bracket_places(race_round), None
        return [], None
    return _rows(selectors.round_standings(race_round)), None


def board(event: Event, *, private: bool = False) -> dict[str, Any]:
    """The leaderboard document of the event (see the module docstring)."""
    race_round = _round_in_play(event)
    hidden = not event.results_revealed and not private
    rows, heat_key = ([], None) if hidden else _standings_in_play(event, race_round)
    rule = race_round.rule if race_round is not None else event.ranking_rule
    n = race_round.n if race_round is not None else event.consecutive_laps
    return {
        "type": "board",
        "event_id": event.pk,
        "version": event.board_version,
        "name": event.name,
        "kind": event.kind,
        "status": event.status,
        "round": race_round.name if race_round is not None else None,
        "heat": heat_key,
        "rule": dict(Event.RankingRule.choices).get(rule, rule),
        "rule_key": rule,
        "n": n,
        "penalty_s": event.off_track_penalty_s,
        "tie_break": [name.replace("_", " ") for name in event.tie_break_chain],
        "hidden": hidden,
        "rows": rows,
        "on_track": None if hidden else _on_track(event),
        "built_at": time.time(),
    }


#: The event's own fields a board depends on: an organiser changing one (the rule, revealing a
#: hidden final) makes a new board even though no lap changed.
BOARD_FIELDS = ("name", "kind", "status", "ranking_rule", "consecutive_laps", "off_track_penalty_s",
                "max_resets_per_lap", "tie_break", "attempt_time_s", "attempts_per_team", "laps_per_attempt",
                "results_revealed")


def _stamp(event: Event) -> tuple:
    return (event.board_version, *(getattr(event, name) for name in BOARD_FIELDS))


class _BoardCache:
    """Per process: the latest board document and its JSON per (event, private), by version."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._boards: dict[tuple[int, bool], tuple[tuple, dict[str, Any], str]] = {}
        self._html: dict[tuple[int, bool], tuple[tuple, str]] = {}

    def html(self, event: Event, *, private: bool) -> str:
        """The board rendered by templates/leagues/_board.html (no row marked as the viewer's: the
        page's script marks it), for the event page: rendering 64 rows costs more than the rest of
        the page, so a process renders each version once."""
        key, stamp = (event.pk, private), _stamp(event)
        with self._lock:
            cached = self._html.get(key)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        document = self.get(event, private=private)[0]
        text = render_to_string("leagues/_board.html", {"board": document, "event": event, "league": event.league,
                                                        "my_team_id": 0})
        with self._lock:
            self._html[key] = (stamp, text)
        return text

    def get(self, event: Event, *, private: bool) -> tuple[dict[str, Any], str]:
        key, stamp = (event.pk, private), _stamp(event)
        with self._lock:
            cached = self._boards.get(key)
        if cached is not None and cached[0] == stamp:
            return cached[1], cached[2]
        document = board(event, private=private)
        text = json.dumps(document, separators=(",", ":"))
        with self._lock:
            current = self._boards.get(key)
            if current is None or current[0][0] <= event.board_version:
                self._boards[key] = (stamp, document, text)
        return document, text

    def clear(self) -> None:
        with self._lock:
            self._boards.clear()
            self._html.clear()


board_cache = _BoardCache()


def cached_board(event: Event, *, private: bool = False) -> dict[str, Any]:
    return board_cache.get(event, private=private)[0]


def cached_board_html(event: Event, *, private: bool = False) -> str:
    return board_cache.html(event, private=private)


def cached_board_json(event_id: int, *, private: bool) -> str | None:
    """The board's JSON for the event as the database has it now (None if the event is gone)."""
    event = Event.objects.select_related("league").filter(pk=event_id).first()
    if event is None:
        return None
    return board_cache.get(event, private=private)[1]
