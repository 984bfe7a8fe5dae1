"""An event's rounds (issue 12): the public page (each round's kind and status, qualifying and group
standings, the bracket drawn as columns of matches, the final ranking) and, on the same page, the
organisers' race-day controls: create a round, seed it from a finished round (top N), decide a raced
heat with one button.

Thin views over `rounds` (every rule lives there and in `brackets`). Results the organisers have not
revealed (`Event.results_revealed` False) stay hidden from everyone but the organisers and the event's
timekeepers (`selectors.results_visible`): the page then lists the rounds without standings, draws
or winners. The POST actions answer 404 to anyone who may not do them (another league's organiser
too), are CSRF protected, and redirect back to the page with a message.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from . import brackets, ranking, rounds, selectors
from .models import Attempt, Event, Heat, Round

SEED_SIZES = (2, 4, 8, 16, 32, 64)


@dataclass
class Column:
    """One column of a drawn bracket: the matches of one round of one side of the bracket."""

    title: str
    bracket: str
    matches: list[dict[str, Any]] = field(default_factory=list)


def _column_title(match: brackets.Match, size: int, double: bool) -> str:
    if match.key == "3P":
        return "Third place"
    if match.key == "GF":
        return "Grand final"
    if match.key == "GF2":
        return "Grand final reset (if needed)"
    if match.bracket == brackets.LOSERS:
        return f"Losers round {match.round_index}"
    name = brackets.round_name(size // 2 ** (match.round_index - 1))
    return f"Winners {name[0].lower()}{name[1:]}" if double else name


def _side(match: brackets.Match, slot: str, standing: Any = None) -> dict[str, Any]:
    team = getattr(match, f"team_{slot}")
    score = standing.score.time_s if standing is not None and standing.score is not None else None
    return {"team": team, "seed": getattr(match, f"seed_{slot}"), "source": getattr(match, f"source_{slot}"),
            "laps": standing.lap_count if standing is not None else 0, "score_s": score,
            "bye": getattr(match, f"bye_{slot}") and team is None,
            "won": team is not None and match.winner is not None and match.winner == team,
            "lost": team is not None and match.winner is not None and match.winner != team}


def heat_results(race_round: Round) -> dict[int, dict[int, ranking.Standing]]:
    """heat id -> team id -> the team's standing in the heat: its laps in the heat's attempts ranked as
    `rounds.decide_heat` compares them (the round's rule, `rounds.heat_attempt_rules`, the event's
    penalty and tie-break chain), from one read of the round's heat laps."""
    event = race_round.event
    by_heat: dict[int, dict[Any, list]] = {}
    for heat in race_round.heats.select_related("team_a", "team_b"):
        by_heat[heat.pk] = {team: [] for team in (heat.team_a, heat.team_b) if team is not None}
    attempts = dict(Attempt.objects.filter(heat__round=race_round).order_by().values_list("heat")
                    .annotate(n=Count("pk")))
    laps = (selectors.ranked_laps(event).filter(attempt__heat__round=race_round)
            .select_related("team", "attempt").order_by("pk"))
    for lap in laps:
        teams = by_heat.get(lap.attempt.heat_id if lap.attempt is not None else -1, {})
        for team, team_laps in teams.items():
            if team.pk == lap.team_id:
                team_laps.append(lap)
    results: dict[int, dict[int, ranking.Standing]] = {}
    for heat_id, laps_by_team in by_heat.items():
        if laps_by_team:
            standings = ranking.rank_teams(
                laps_by_team, race_round.rule, race_round.n, event.off_track_penalty_s, event.tie_break_chain,
                max_resets_per_lap=event.max_resets_per_lap,
                attempt_rules=rounds.heat_attempt_rules(event, attempts.get(heat_id, 0)))
            results[heat_id] = {standing.team.pk: standing for standing in standings}
    return results


def bracket_columns(race_round: Round) -> list[Column]:
    """The round's bracket (advanced from the stored winners) as columns, first round first; a
    double-elimination bracket's losers side and the finals come after the winners side. Matches
    that can never hold a team (the reset match once the grand final made it unneeded) are left out."""
    matches = rounds.matches_of(race_round)
    if not matches:
        return []
    heats = {heat.key: heat for heat in race_round.heats.all()}
    results = heat_results(race_round)
    size = brackets.bracket_size(len(race_round.seeding))
    columns: dict[tuple[str, int, str], Column] = {}
    order = {brackets.WINNERS: 0, brackets.LOSERS: 1, brackets.FINAL: 2}
    for match in matches:
        if match.is_empty:
            continue
        title = _column_title(match, size, race_round.kind == Round.Kind.DOUBLE_ELIMINATION)
        key = (match.bracket, match.round_index, title)
        column = columns.setdefault(key, Column(title=title, bracket=match.bracket))
        heat = heats.get(match.key)
        in_heat = results.get(heat.pk, {}) if heat is not None else {}
        sides = [_side(match, slot, in_heat.get(getattr(team, "pk", None)))
                 for slot, team in (("a", match.team_a), ("b", match.team_b))]
        column.matches.append({
            "key": match.key, "heat": heat, "sides": sides,
            "is_bye": match.is_bye, "ready": match.is_ready, "decided": match.winner is not None,
        })
    return [columns[key] for key in sorted(columns, key=lambda k: (order.get(k[0], 3), k[1], k[2]))]


def _numbered(places: list[list]) -> list[dict[str, Any]]:
    numbers = brackets.place_numbers(places)
    return [{"place": number, "teams": teams} for number, teams in zip(numbers, places, strict=True)]


def round_view(race_round: Round, *, show_results: bool, manage: bool) -> dict[str, Any]:
    """What the page shows of one round (results only when `show_results`)."""
    view: dict[str, Any] = {"round": race_round, "standings": None, "groups": None, "columns": None,
                            "ranking": None, "ready_heats": [], "seeded_from": race_round.seeded_from}
    if not show_results:
        return view
    if race_round.is_bracket:
        if race_round.seeding:
            view["columns"] = bracket_columns(race_round)
            if manage:
                view["ready_heats"] = [{"heat": m["heat"], "teams": m["sides"],
                                        "raced": any(side["laps"] for side in m["sides"])}
                                       for column in view["columns"] for m in column.matches
                                       if m["ready"] and m["heat"]]
    elif race_round.kind == Round.Kind.GROUPS:
        view["groups"] = rounds.group_standings(race_round)
    else:
        view["standings"] = selectors.round_standings(race_round)
    if race_round.is_bracket or race_round.kind == Round.Kind.GROUPS:
        try:
            places = rounds.round_ranking(race_round)
        except ValueError:
            places = []  # a bracket with heats left to race
        # A qualifying or final round's standings table is its ranking already.
        groups_done = race_round.kind == Round.Kind.GROUPS and race_round.status == Round.Status.FINISHED
        if places and (race_round.is_bracket or groups_done):
            view["ranking"] = _numbered(places)
    return view


def _rounds_url(event: Event) -> str:
    return reverse("event_rounds", args=[event.league.slug, event.pk])


def event_rounds(request: HttpRequest, slug: str, event_id: int) -> HttpResponse:
    event = selectors.event_or_404(request.user, slug, event_id)
    show_results = selectors.results_visible(request.user, event)
    is_organiser = selectors.is_organiser(request.user, event.league)
    can_decide = selectors.can_keep_time(request.user, event)
    round_list = list(selectors.rounds_of_event(event).select_related("seeded_from", "event"))
    views = [round_view(r, show_results=show_results, manage=can_decide) for r in round_list]
    event_places = None
    if show_results and round_list:
        places = rounds.event_ranking(event)
        finished = round_list[-1].status == Round.Status.FINISHED
        event_places = _numbered(places) if places and finished else None
    context = {
        "league": event.league, "event": event, "rounds": views, "show_results": show_results,
        "is_organiser": is_organiser, "can_decide": can_decide, "event_places": event_places,
        "kinds": Round.Kind.choices, "rules": Event.RankingRule.choices, "seed_sizes": SEED_SIZES,
        "seed_sources": [r for r in round_list if r.seeding or r.laps.exists()],
        "private_note": show_results and not event.results_revealed,
    }
    return render(request, "leagues/rounds.html", context)


def _organised_event_or_404(request: HttpRequest, slug: str, event_id: int) -> Event:
    event = get_object_or_404(Event.objects.select_related("league"), pk=event_id, league__slug=slug)
    if not selectors.is_organiser(request.user, event.league):
        raise Http404("No such event.")
    return event


def _timed_event_or_404(request: HttpRequest, slug: str, event_id: int) -> Event:
    event = get_object_or_404(Event.objects.select_related("league"), pk=event_id, league__slug=slug)
    if not selectors.can_keep_time(request.user, event):
        raise Http404("No such event.")
    return event


def _int(value: Any, what: str, *, required: bool = True) -> int | None:
    if value in (None, ""):
        if required:
            raise ValidationError(f"Choose {what}.")
        return None
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):
        raise ValidationError(f"{what.capitalize()} must be a whole number.") from None


def _act(request: HttpRequest, event: Event, action, success) -> HttpResponse:
    try:
        result = action()
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    except PermissionDenied:
        raise Http404("No such event.") from None
    else:
        messages.success(request, success(result))
    return redirect(_rounds_url(event))


@login_required
@require_POST
def round_create(request: HttpRequest, slug: str, event_id: int) -> HttpResponse:
    event = _organised_event_or_404(request, slug, event_id)
    data = request.POST

    def create() -> Round:
        return rounds.create_round(
            user=request.user, event=event, name=str(data.get("name", ""))[:80], kind=str(data.get("kind", "")),
            ranking_rule=str(data.get("ranking_rule", "")),
            consecutive_laps=_int(data.get("consecutive_laps"), "N", required=False),
            group_count=_int(data.get("group_count"), "the number of groups", required=False))

    return _act(request, event, create, lambda r: f"Round “{r.name}” created ({r.get_kind_display().lower()}).")


@login_required
@require_POST
def round_seed(request: HttpRequest, slug: str, event_id: int, round_id: int) -> HttpResponse:
    event = _organised_event_or_404(request, slug, event_id)
    race_round = get_object_or_404(Round, pk=round_id, event=event)
    data = request.POST

    def seed() -> list[Heat]:
        source_id = _int(data.get("from_round"), "the round to seed from")
        source = Round.objects.filter(pk=source_id, event=event).first()
        if source is None:
            raise ValidationError("Seed from a round of this event.")
        return rounds.seed_round(user=request.user, race_round=race_round, from_round=source,
                                 size=_int(data.get("size"), "how many teams go through", required=False),
                                 per_group=_int(data.get("per_group"), "teams per group", required=False) or 2,
                                 third_place_match=bool(data.get("third_place_match")))

    return _act(request, event, seed,
                lambda _: f"“{race_round.name}” seeded: {len(race_round.seeding)} teams.")


@login_required
@require_POST
def heat_decide(request: HttpRequest, slug: str, event_id: int, heat_id: int) -> HttpResponse:
    event = _timed_event_or_404(request, slug, event_id)
    heat = get_object_or_404(Heat, pk=heat_id, round__event=event)
    return _act(request, event, lambda: rounds.decide_heat(user=request.user, heat=heat),
                lambda decided: f"{decided.key}: {decided.winner.name if decided.winner else '?'} goes through.")

