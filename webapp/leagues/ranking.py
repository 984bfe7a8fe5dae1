"""Leaderboard rules as plain functions over laps, so they are tested without a database.

A lap counts as `lap_time_s + resets * penalty_s` (the event's off-track penalty). Laps are
"consecutive" when their lap numbers follow one another without a gap; an invalid lap breaks a run.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

BEST_LAP = "best_lap"
BEST_AVERAGE = "best_average"
FIRST_CONSECUTIVE = "first_consecutive"


class LapLike(Protocol):
    lap_number: int
    lap_time_s: float
    resets: int
    valid: bool


@dataclass(frozen=True)
class Score:
    """A team's result under a rule: the time that ranks it and the laps that made it."""

    time_s: float
    laps: tuple[int, ...]


def lap_is_valid(valid: bool, resets: int, max_resets_per_lap: int) -> bool:
    """Race rules: a lap with more resets than the event allows is invalid, whatever was recorded;
    within the limit a lap stays as recorded (an organiser may still mark it invalid)."""
    return valid and resets <= max_resets_per_lap


def effective_time(lap: LapLike, penalty_s: float) -> float:
    return lap.lap_time_s + lap.resets * penalty_s


def _in_order(laps: Iterable[LapLike]) -> list[LapLike]:
    return sorted(laps, key=lambda lap: lap.lap_number)


def consecutive_windows(laps: Iterable[LapLike], n: int) -> list[list[LapLike]]:
    """Every run of n valid laps with consecutive lap numbers, earliest first."""
    if n < 1:
        raise ValueError("n must be at least 1")
    windows: list[list[LapLike]] = []
    run: list[LapLike] = []
    for lap in _in_order(laps):
        if not lap.valid or (run and lap.lap_number != run[-1].lap_number + 1):
            run = []
        if lap.valid:
            run.append(lap)
            if len(run) >= n:
                windows.append(run[-n:])
    return windows


def best_lap(laps: Iterable[LapLike], penalty_s: float = 0.0) -> Score | None:
    valid = [lap for lap in _in_order(laps) if lap.valid]
    if not valid:
        return None
    fastest = min(valid, key=lambda lap: effective_time(lap, penalty_s))
    return Score(effective_time(fastest, penalty_s), (fastest.lap_number,))


def _average(window: Sequence[LapLike], penalty_s: float) -> Score:
    total = sum(effective_time(lap, penalty_s) for lap in window)
    return Score(total / len(window), tuple(lap.lap_number for lap in window))


def best_average(laps: Iterable[LapLike], n: int, penalty_s: float = 0.0) -> Score | None:
    """The fastest average over any n consecutive valid laps."""
    scores = [_average(window, penalty_s) for window in consecutive_windows(laps, n)]
    return min(scores, key=lambda score: score.time_s) if scores else None


def first_consecutive(laps: Iterable[LapLike], n: int, penalty_s: float = 0.0) -> Score | None:
    """The average of the first run of n consecutive valid laps: consistency from the start counts."""
    windows = consecutive_windows(laps, n)
    return _average(windows[0], penalty_s) if windows else None


def score(rule: str, laps: Iterable[LapLike], n: int, penalty_s: float = 0.0) -> Score | None:
    if rule == BEST_LAP:
        return best_lap(laps, penalty_s)
    if rule == BEST_AVERAGE:
        return best_average(laps, n, penalty_s)
    if rule == FIRST_CONSECUTIVE:
        return first_consecutive(laps, n, penalty_s)
    raise ValueError(f"Unknown ranking rule: {rule}")


@dataclass
class Standing:
    rank: int | None
    team: object
    score: Score | None
    lap_count: int
    valid_lap_count: int
    best_lap_s: float | None


def rank_teams(laps_by_team: dict, rule: str, n: int, penalty_s: float = 0.0) -> list[Standing]:
    """Teams with a score first (fastest first, ties share a rank), then teams without one."""
    standings = []
    for team, laps in laps_by_team.items():
        laps = list(laps)
        fastest = best_lap(laps, penalty_s)
        standings.append(Standing(
            rank=None, team=team, score=score(rule, laps, n, penalty_s), lap_count=len(laps),
            valid_lap_count=sum(1 for lap in laps if lap.valid),
            best_lap_s=fastest.time_s if fastest else None,
        ))
    standings.sort(key=lambda s: (s.score is None, s.score.time_s if s.score else 0.0, str(s.team)))
    previous = None
    for position, standing in enumerate(standings, start=1):
        if standing.score is None:
            break
        if previous is not None and previous.score is not None \
                and abs(standing.score.time_s - previous.score.time_s) < 1e-9:
            standing.rank = previous.rank
        else:
            standing.rank = position
        previous = standing
    return standings
