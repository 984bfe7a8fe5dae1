"""Rounds of an event: qualifying, groups, a seeded knockout bracket and the final. The bracket rules
are `brackets` (pure); this stores its matches as `Heat`s, decides a heat from the two teams'
attempts (`brackets.head_to_head` under the round's rule and the event's tie-break chain) and
advances the bracket. A round is seeded from a finished round's standings."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max

from webapp.accounts.models import Team

from . import brackets, live, ranking, selectors
from .models import Event, Heat, LapResult, Round
from .race import check_organiser, check_timekeeper

BRACKET_KINDS = (Round.Kind.SINGLE_ELIMINATION, Round.Kind.DOUBLE_ELIMINATION)


@transaction.atomic
def create_round(*, user, event: Event, name: str, kind: str = Round.Kind.QUALIFYING, ranking_rule: str = "",
                 consecutive_laps: int | None = None, group_count: int | None = None) -> Round:
    check_organiser(user, event)
    if kind not in Round.Kind.values:
        raise ValidationError(f"Unknown kind of round: {kind}.")
    if ranking_rule and ranking_rule not in Event.RankingRule.values:
        raise ValidationError(f"Unknown ranking rule: {ranking_rule}.")
    if kind == Round.Kind.GROUPS and not group_count:
        raise ValidationError("Say how many groups.")
    order = (event.rounds.aggregate(top=Max("order"))["top"] or 0) + 1
    race_round = Round.objects.create(event=event, name=name.strip() or f"Round {order}", order=order, kind=kind,
                                      ranking_rule=ranking_rule, consecutive_laps=consecutive_laps,
                                      group_count=group_count)
    live.notify_event(event.pk)
    return race_round


def qualified_teams(from_round: Round, *, per_group: int = 2, best_of_rest: int = 0) -> list:
    """Teams in seed order from a round: its ranked teams best first (a group round: the top
    `per_group` of every group, `brackets.group_qualifiers`). A team without a score is not seeded."""
    if from_round.kind == Round.Kind.GROUPS:
        return brackets.group_qualifiers(group_standings(from_round), per_group, best_of_rest)
    if from_round.kind in BRACKET_KINDS:
        return [team for place in round_ranking(from_round) for team in place]
    return [standing.team for standing in selectors.round_standings(from_round) if standing.rank is not None]


@transaction.atomic
def seed_round(*, user, race_round: Round, from_round: Round | None = None, teams: list | None = None,
               size: int | None = None, per_group: int = 2, third_place_match: bool = False) -> list[Heat]:
    """Seed a round from a finished round's standings (or from `teams` in seed order), keeping the top
    `size`: a bracket round stores its matches (byes to the top seeds), a group round its groups (snake
    seeding), a qualifying or final round its field. The source round is marked finished."""
    event = race_round.event
    check_organiser(user, event)
    if race_round.heats.filter(winner__isnull=False).exists() or race_round.laps.exists():
        raise ValidationError("This round has results already: it cannot be seeded again.")
    if from_round is not None:
        if from_round.event_id != event.pk or from_round.pk == race_round.pk:
            raise ValidationError("Seed from an earlier round of the same event.")
        teams = qualified_teams(from_round, per_group=per_group)
    if teams is None:
        raise ValidationError("Seed from a round or a list of teams.")
    if size is not None:
        teams = teams[:size]
    if len(teams) < 2 and race_round.kind in BRACKET_KINDS:
        raise ValidationError("A bracket needs at least two teams.")
    race_round.heats.all().delete()
    race_round.seeding = [team.pk for team in teams]
    race_round.seeded_from = from_round
    race_round.save(update_fields=["seeding", "seeded_from"])
    if from_round is not None and from_round.status != Round.Status.FINISHED:
        from_round.status = Round.Status.FINISHED
        from_round.save(update_fields=["status"])
    heats: list[Heat] = []
    if race_round.kind in BRACKET_KINDS:
        if race_round.kind == Round.Kind.SINGLE_ELIMINATION:
            matches = brackets.single_elimination(teams, third_place_match=third_place_match)
        else:
            matches = brackets.double_elimination(teams)
        heats = _store(race_round, brackets.advance(matches, {}))
    elif race_round.kind == Round.Kind.GROUPS:
        seed_of = {team.pk: seed for seed, team in enumerate(teams, start=1)}
        for number, group in enumerate(brackets.groups(teams, race_round.group_count or 1), start=1):
            for position, team in enumerate(group, start=1):
                heats.append(Heat.objects.create(round=race_round, key=f"G{number}-{position}", group=number,
                                                 position=position, team_a=team, seed_a=seed_of[team.pk]))
    live.notify_event(event.pk)
    return heats


def seeded_teams(race_round: Round) -> list:
    teams = Team.objects.in_bulk(race_round.seeding)
    return [teams[pk] for pk in race_round.seeding if pk in teams]


def _bracket(race_round: Round, teams: list) -> list[brackets.Match]:
    if race_round.kind == Round.Kind.DOUBLE_ELIMINATION:
        return brackets.double_elimination(teams)
    third_place = race_round.heats.filter(key="3P").exists()
    return brackets.single_elimination(teams, third_place_match=third_place)


def results_of(race_round: Round) -> dict:
    return {heat.key: heat.winner for heat in race_round.heats.select_related("winner") if heat.winner_id}


def matches_of(race_round: Round) -> list[brackets.Match]:
    """The round's bracket, advanced from the stored heat winners."""
    return brackets.advance(_bracket(race_round, seeded_teams(race_round)), results_of(race_round))


def _store(race_round: Round, matches: list[brackets.Match]) -> list[Heat]:
    stored = {heat.key: heat for heat in race_round.heats.all()}
    heats = []
    for match in matches:
        heat = stored.get(match.key) or Heat(round=race_round, key=match.key)
        heat.bracket, heat.round_index, heat.position = match.bracket, match.round_index, match.position
        heat.team_a, heat.team_b = match.team_a, match.team_b
        heat.seed_a, heat.seed_b = match.seed_a, match.seed_b
        heat.source_a, heat.source_b = match.source_a[:40], match.source_b[:40]
        heat.winner = match.winner
        heat.save()
        heats.append(heat)
    return heats


def heat_laps(heat: Heat, team) -> list[LapResult]:
    return list(selectors.ranked_laps(heat.round.event).filter(attempt__heat=heat, team=team))


def heat_attempt_rules(event: Event, attempts_in_heat: int) -> ranking.AttemptRules:
    """The attempt rules a heat is compared under: the event's, with every attempt raced in the heat
    counting (a re-run after a tie is not cut by the event's attempts per team)."""
    rules = selectors.attempt_rules(event)
    return ranking.AttemptRules(time_limit_s=rules.time_limit_s, attempts_per_team=max(1, attempts_in_heat),
                                laps_per_attempt=rules.laps_per_attempt)


@transaction.atomic
def decide_heat(*, user, heat: Heat) -> Heat:
    """Decide a bracket heat from its two teams' attempts and advance the bracket. A tie after the
    whole tie-break chain (or no score for either) is a ValidationError: race it again."""
    heat = (Heat.objects.select_for_update(of=("self",))
            .select_related("round", "round__event", "team_a", "team_b").get(pk=heat.pk))
    race_round = heat.round
    event = race_round.event
    check_timekeeper(user, event)
    if race_round.kind not in BRACKET_KINDS:
        raise ValidationError("Only bracket heats have a winner; group rounds rank by standings.")
    if heat.team_a is None or heat.team_b is None:
        raise ValidationError(f"Heat {heat.key} does not have both teams yet.")
    if heat.winner_id:
        raise ValidationError(f"Heat {heat.key} is decided already.")
    laps_a, laps_b = heat_laps(heat, heat.team_a), heat_laps(heat, heat.team_b)
    rules = heat_attempt_rules(event, heat.attempts.values("team", "number").count())
    side = brackets.head_to_head(laps_a, laps_b, race_round.rule, race_round.n, event.off_track_penalty_s,
                                 event.tie_break_chain, max_resets_per_lap=event.max_resets_per_lap,
                                 attempt_rules=rules)
    if side is None:
        raise ValidationError(f"Heat {heat.key} is tied (or has no score): race it again.")
    results = results_of(race_round)
    results[heat.key] = heat.team_a if side == "a" else heat.team_b
    matches = brackets.advance(_bracket(race_round, seeded_teams(race_round)), results)
    _store(race_round, matches)
    try:
        brackets.final_ranking(matches, results)
    except ValueError:
        race_round.status = Round.Status.RUNNING  # matches left to race
    else:
        race_round.status = Round.Status.FINISHED
    race_round.save(update_fields=["status"])
    live.notify_event(event.pk)
    heat.refresh_from_db()
    return heat


def group_standings(race_round: Round) -> list[list[ranking.Standing]]:
    """Each group's standings, group 1 first."""
    by_group: dict[int, list] = {}
    for heat in race_round.heats.filter(group__isnull=False).select_related("team_a").order_by("group", "position"):
        by_group.setdefault(heat.group or 0, []).append(heat.team_a)
    return [selectors.round_standings(race_round, teams=teams) for _, teams in sorted(by_group.items())]


def round_ranking(race_round: Round) -> list[list]:
    """Places of a round, best first (teams in one list share the place): a bracket's final ranking,
    else the standings (equal ranks share)."""
    if race_round.kind in BRACKET_KINDS:
        return brackets.final_ranking(_bracket(race_round, seeded_teams(race_round)), results_of(race_round))
    return ranking.places(selectors.round_standings(race_round))


def event_ranking(event: Event) -> list[list]:
    """The event's final places: the last round's places first, then the teams that went out in earlier
    rounds, in those rounds' order (latest first)."""
    placed: set[int] = set()
    places: list[list] = []
    for race_round in reversed(list(selectors.rounds_of_event(event))):
        if not race_round.seeding and not race_round.laps.exists():
            continue
        try:
            ranking_of_round = round_ranking(race_round)
        except ValueError:
            continue  # a bracket not decided yet
        for place in ranking_of_round:
            fresh = [team for team in place if team.pk not in placed]
            if fresh:
                places.append(fresh)
                placed.update(team.pk for team in fresh)
    return places
