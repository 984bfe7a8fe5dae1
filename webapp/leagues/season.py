"""Season standings across a league's events, as a plain function (no database), like `ranking`.

Each event's result is its finishing order, best first; an entry is a team or a list of teams that
share the place (a tie, or the shared 3rd place of a bracket without a third-place match). A place
earns the points of the organiser's points table (1st -> table[0], ...; places past the table earn 0).
Teams sharing a place share the points of the places they span, averaged (the usual rule for dead
heats): with 25-18-15-12, A, [B, C], D gives B and C (18 + 15) / 2 = 16.5 each, so a tie never hands
out more points than the places it covers (four teams sharing 5th under 10-8-6-4 get 7 each, not 10).
The next place skips past them (A, [B, C], D: places 1, 2, 2, 4). Shared points are rounded to 2
decimals; whole numbers stay ints.

Standings rank by points, then countback (more 1st places, then more 2nd places, ...: the count of
better finishes), then the best single finish; teams equal on all of these share a rank.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass
class SeasonStanding:
    """A team's line in the season table. `finishes`: its place in each event it was placed in, in
    event order; `points_by_event`: what each of those earned (same order); `events`: how many."""

    rank: int
    team: Any
    points: float
    events: int
    best_finish: int
    wins: int
    finishes: list[int] = field(default_factory=list)
    points_by_event: list[float] = field(default_factory=list)


def event_places(result: Sequence[Any]) -> list[tuple[int, list[Any]]]:
    """(place, teams) per entry of one event's finishing order: [A, [B, C], D] ->
    [(1, [A]), (2, [B, C]), (4, [D])]. A team placed twice in one event is an error."""
    places: list[tuple[int, list[Any]]] = []
    seen: list[Any] = []
    place = 1
    for entry in result:
        teams = list(entry) if isinstance(entry, (list, tuple)) else [entry]
        if not teams:
            continue
        for team in teams:
            if team in seen:
                raise ValueError(f"{team} is placed twice in one event")
            seen.append(team)
        places.append((place, teams))
        place += len(teams)
    return places


def check_points_table(points_table: Sequence[int]) -> None:
    """Raises ValueError unless the table is non-empty, never negative and never rises down the places."""
    if not points_table:
        raise ValueError("the points table needs at least one place")
    if any(points < 0 for points in points_table):
        raise ValueError("points cannot be negative")
    if any(later > earlier for earlier, later in zip(points_table, points_table[1:], strict=False)):
        raise ValueError("a lower place cannot earn more points than a higher one")


def points_for(place: int, points_table: Sequence[int]) -> int:
    return points_table[place - 1] if 1 <= place <= len(points_table) else 0


def _tidy(points: float) -> float:
    value = round(points, 2)
    return int(value) if value == int(value) else value


def shared_points(place: int, sharing: int, points_table: Sequence[int]) -> float:
    """What each of `sharing` teams tied at `place` earns: the points of places place .. place+sharing-1,
    averaged (places past the table count 0). shared_points(5, 4, [.., 10, 8, 6, 4]) == 7."""
    if sharing < 1:
        raise ValueError("at least one team shares a place")
    return _tidy(sum(points_for(p, points_table) for p in range(place, place + sharing)) / sharing)


def season_standings(event_results: Sequence[Sequence[Any]], points_table: Sequence[int]) -> list[SeasonStanding]:
    """The season table from each event's finishing order (see the module docstring for the rules).
    The points table is used as given; `check_points_table` is the rule for the form that sets it."""
    lines: dict[Any, SeasonStanding] = {}
    order: list[Any] = []
    for result in event_results:
        for place, teams in event_places(result):
            for team in teams:
                if team not in lines:
                    lines[team] = SeasonStanding(rank=0, team=team, points=0, events=0, best_finish=place, wins=0)
                    order.append(team)
                line = lines[team]
                earned = shared_points(place, len(teams), points_table)
                line.points = _tidy(line.points + earned)
                line.events += 1
                line.finishes.append(place)
                line.points_by_event.append(earned)
                line.best_finish = min(line.best_finish, place)
                line.wins += place == 1
    deepest = max((place for line in lines.values() for place in line.finishes), default=0)

    def key(line: SeasonStanding) -> tuple[Any, ...]:
        countback = tuple(-line.finishes.count(place) for place in range(1, deepest + 1))
        return (-line.points, countback, line.best_finish)

    standings = sorted((lines[team] for team in order), key=lambda line: (key(line), str(line.team)))
    for position, line in enumerate(standings, start=1):
        previous = standings[position - 2] if position > 1 else None
        line.rank = previous.rank if previous is not None and key(previous) == key(line) else position
    return standings
