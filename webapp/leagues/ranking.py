"""Leaderboard rules as plain functions over laps, so they are tested without a database.

A lap counts as `lap_time_s + resets * penalty_s` (the event's off-track penalty). A lap with more
resets than the event allows is invalid (`lap_is_valid`; pass `max_resets_per_lap` to apply it here
too). Laps are "consecutive" when their lap numbers follow one another without a gap *within one
attempt* (a lap may carry `attempt`, any id; laps without one form a single attempt); an invalid lap
breaks a run.

Duplicates: records sharing (attempt, lap_number) are one lap. That lap is valid if any record of it
is, and counts the fastest valid record. So a duplicate never makes a lap slower or invalid: it cannot
make a best-lap or best-average score worse, nor any score when the lap it duplicates was valid (the
bug of issue 12, where a faster second "lap 3" broke the run). Laps are ordered by
(attempt, lap_number, recorded).

Rules (`score`): BEST_LAP, BEST_AVERAGE (best average of N consecutive valid laps), FIRST_CONSECUTIVE
(average of the first run of N consecutive valid laps), TOTAL_TIME (total of the first N valid laps;
fewer than N: no score). `rank_teams` ranks teams by score, then by an explicit tie-break chain
(`TIE_BREAKS`), and says on each standing which tie-break put the team above it ahead.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

BEST_LAP = "best_lap"
BEST_AVERAGE = "best_average"
FIRST_CONSECUTIVE = "first_consecutive"
TOTAL_TIME = "total_time"
RULES = (BEST_LAP, BEST_AVERAGE, FIRST_CONSECUTIVE, TOTAL_TIME)

NEXT_BEST_LAP = "next_best_lap"
FEWER_RESETS = "fewer_resets"
EARLIEST = "earliest"
MORE_LAPS = "more_laps"
# Tie-break name -> what it compares, for forms and help texts.
TIE_BREAKS: dict[str, str] = {
    NEXT_BEST_LAP: "next best lap: compare the best, 2nd best, 3rd best... valid lap times",
    FEWER_RESETS: "fewer off-track resets over the laps that made the score, then over all laps",
    EARLIEST: "who set the deciding score first (when the last lap of the scoring laps was recorded)",
    MORE_LAPS: "more valid laps",
}
DEFAULT_TIE_BREAK: tuple[str, ...] = (NEXT_BEST_LAP, FEWER_RESETS, EARLIEST)

# Scores and lap times compare at microsecond resolution (a timer device's clock), so float noise in
# a sum or an average never splits a tie.
_DIGITS = 6


class LapLike(Protocol):
    """What the rules read from a lap. Optional attributes, read with getattr: `attempt` (an id or an
    object with a pk; None = no attempt), `recorded` (when it was recorded: a datetime or a number),
    `ends_at_s` (race time into its attempt when the lap ended)."""

    lap_number: int
    lap_time_s: float
    resets: int
    valid: bool


@dataclass(frozen=True)
class Score:
    """A team's result under a rule: the time that ranks it and the laps that made it (lap numbers;
    `window` holds the lap records themselves, and does not take part in comparisons)."""

    time_s: float
    laps: tuple[int, ...]
    window: tuple[Any, ...] = field(default=(), compare=False, repr=False)


def lap_is_valid(valid: bool, resets: int, max_resets_per_lap: int) -> bool:
    """Race rules: a lap with more resets than the event allows is invalid, whatever was recorded;
    within the limit a lap stays as recorded (an organiser may still mark it invalid)."""
    return valid and resets <= max_resets_per_lap


def effective_time(lap: LapLike, penalty_s: float) -> float:
    return lap.lap_time_s + lap.resets * penalty_s


def attempt_key(lap: object) -> tuple[int, float, str]:
    """A sortable key for a lap's attempt, whatever the id is: None first, then numbers, then the rest
    by their text. A Django lap gives `attempt_id` without a query; an object with a pk gives its pk."""
    if hasattr(lap, "attempt_id"):
        value = lap.attempt_id
    else:
        value = getattr(lap, "attempt", None)
        value = getattr(value, "pk", value)
    if value is None:
        return (0, 0.0, "")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (1, float(value), "")
    return (2, 0.0, str(value))


def _recorded_key(lap: object) -> tuple[bool, Any]:
    recorded = getattr(lap, "recorded", None)
    return (recorded is None, recorded if recorded is not None else 0)


# A lap with its sort key computed once: (attempt key, lap number, recorded key, input index, lap).
# The index is unique, so sorting never compares two laps.
_Item = tuple[tuple[int, float, str], int, tuple[bool, Any], int, Any]


def _items(laps: Iterable[LapLike]) -> list[_Item]:
    items = [(attempt_key(lap), lap.lap_number, _recorded_key(lap), index, lap) for index, lap in enumerate(laps)]
    items.sort()
    return items


def _ordered(laps: Iterable[LapLike]) -> list[LapLike]:
    return [item[4] for item in _items(laps)]


class _Lap(NamedTuple):
    """One lap after duplicates are merged: the record that counts, its effective time (rounded to the
    microsecond) and validity."""

    record: Any
    attempt: tuple[int, float, str]
    number: int
    time_s: float
    resets: int
    valid: bool


def _merge(items: Sequence[_Item], penalty_s: float, max_resets_per_lap: int | None) -> list[_Lap]:
    """One _Lap per (attempt, lap number): the fastest valid record (the earliest of equally fast
    ones), or the first record when none is valid. `items` are sorted, so a lap's records are adjacent."""
    merged: list[_Lap] = []
    for attempt, number, _, _, lap in items:
        resets = lap.resets
        valid = bool(lap.valid) and (max_resets_per_lap is None or resets <= max_resets_per_lap)
        entry = _Lap(lap, attempt, number, round(lap.lap_time_s + resets * penalty_s, _DIGITS), resets, valid)
        if merged and merged[-1].attempt == attempt and merged[-1].number == number:
            kept = merged[-1]
            if valid and (not kept.valid or entry.time_s < kept.time_s):
                merged[-1] = entry
        else:
            merged.append(entry)
    return merged


def _merged(laps: Iterable[LapLike], penalty_s: float, max_resets_per_lap: int | None) -> list[_Lap]:
    return _merge(_items(laps), penalty_s, max_resets_per_lap)


def _window_ends(merged: Sequence[_Lap], n: int) -> Iterator[int]:
    """The index just past each run of n valid laps with consecutive numbers in one attempt, in order."""
    if n < 1:
        raise ValueError("n must be at least 1")
    run = 0
    previous: _Lap | None = None
    for index, lap in enumerate(merged):
        if not lap.valid:
            run = 0
        elif run and previous is not None and lap.attempt == previous.attempt and lap.number == previous.number + 1:
            run += 1
        else:
            run = 1
        previous = lap
        if run >= n:
            yield index + 1


def consecutive_windows(laps: Iterable[LapLike], n: int, *, max_resets_per_lap: int | None = None,
                        penalty_s: float = 0.0) -> list[list[LapLike]]:
    """Every run of n valid laps with consecutive lap numbers in one attempt, earliest first (the lap
    records; of duplicates, the fastest valid one)."""
    merged = _merged(laps, penalty_s, max_resets_per_lap)
    return [[lap.record for lap in merged[end - n:end]] for end in _window_ends(merged, n)]


def _score(window: Sequence[_Lap], total: bool = False) -> Score:
    time_s = sum(lap.time_s for lap in window)
    return Score(time_s if total else time_s / len(window), tuple(lap.number for lap in window),
                 tuple(lap.record for lap in window))


def _best_lap(merged: Sequence[_Lap]) -> Score | None:
    best: _Lap | None = None
    for lap in merged:
        if lap.valid and (best is None or lap.time_s < best.time_s):
            best = lap
    return _score([best]) if best is not None else None


def _rule_score(rule: str, merged: Sequence[_Lap], n: int) -> Score | None:
    if rule == BEST_LAP:
        return _best_lap(merged)
    if rule == BEST_AVERAGE:
        best_end, best_key = 0, math.inf
        for end in _window_ends(merged, n):
            key = round(sum(lap.time_s for lap in merged[end - n:end]) / n, _DIGITS)
            if key < best_key:  # the earliest of equally fast windows
                best_end, best_key = end, key
        return _score(merged[best_end - n:best_end]) if best_end else None
    if rule == FIRST_CONSECUTIVE:
        end = next(_window_ends(merged, n), 0)
        return _score(merged[end - n:end]) if end else None
    if rule == TOTAL_TIME:
        if n < 1:
            raise ValueError("n must be at least 1")
        valid = [lap for lap in merged if lap.valid]
        return _score(valid[:n], total=True) if len(valid) >= n else None
    raise ValueError(f"Unknown ranking rule: {rule}")


def best_lap(laps: Iterable[LapLike], penalty_s: float = 0.0, *,
             max_resets_per_lap: int | None = None) -> Score | None:
    return _best_lap(_merged(laps, penalty_s, max_resets_per_lap))


def best_average(laps: Iterable[LapLike], n: int, penalty_s: float = 0.0, *,
                 max_resets_per_lap: int | None = None) -> Score | None:
    """The fastest average over any n consecutive valid laps."""
    return _rule_score(BEST_AVERAGE, _merged(laps, penalty_s, max_resets_per_lap), n)


def first_consecutive(laps: Iterable[LapLike], n: int, penalty_s: float = 0.0, *,
                      max_resets_per_lap: int | None = None) -> Score | None:
    """The average of the first run of n consecutive valid laps: consistency from the start counts."""
    return _rule_score(FIRST_CONSECUTIVE, _merged(laps, penalty_s, max_resets_per_lap), n)


def total_time(laps: Iterable[LapLike], n: int, penalty_s: float = 0.0, *,
               max_resets_per_lap: int | None = None) -> Score | None:
    """The total of the first n valid laps (across attempts, in order; they need not be consecutive).
    Fewer than n valid laps: no score."""
    return _rule_score(TOTAL_TIME, _merged(laps, penalty_s, max_resets_per_lap), n)


def score(rule: str, laps: Iterable[LapLike], n: int, penalty_s: float = 0.0, *,
          max_resets_per_lap: int | None = None) -> Score | None:
    return _rule_score(rule, _merged(laps, penalty_s, max_resets_per_lap), n)


# --- Attempts ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AttemptRules:
    """Race time per attempt, attempts per team and laps per attempt (None: unlimited)."""

    time_limit_s: float = 120.0
    attempts_per_team: int = 1
    laps_per_attempt: int | None = None

    def __post_init__(self) -> None:
        if self.time_limit_s <= 0:
            raise ValueError("time_limit_s must be positive")
        if self.attempts_per_team < 1:
            raise ValueError("attempts_per_team must be at least 1")
        if self.laps_per_attempt is not None and self.laps_per_attempt < 1:
            raise ValueError("laps_per_attempt must be at least 1 (or None for unlimited)")


def laps_that_count(laps: Iterable[LapLike], rules: AttemptRules) -> list[LapLike]:
    """The laps of one team that count, in (attempt, lap_number, recorded) order: those of its first
    `attempts_per_team` attempts (attempt ids in order), completed within the attempt's time limit
    (`ends_at_s`, when the lap has it; a lap ending exactly at the limit counts), and among the first
    `laps_per_attempt` laps of the attempt. Invalid laps use up a place in `laps_per_attempt` (they were
    driven); duplicates of a lap number share one. Laps without an attempt (typed in the admin,
    imported, evaluation laps) belong to no attempt: only the time limit applies to them."""
    return [item[4] for item in _counted(_items(laps), rules)]


def _counted(items: Sequence[_Item], rules: AttemptRules) -> list[_Item]:
    no_attempt = attempt_key(None)
    counted: list[_Item] = []
    attempts_seen: list[tuple[int, float, str]] = []
    numbers: list[int] = []  # lap numbers seen in the current attempt
    for item in items:
        key, number, _, _, lap = item
        if key != no_attempt and (not attempts_seen or attempts_seen[-1] != key):
            attempts_seen.append(key)  # items are ordered by attempt: a new key is a new attempt
            numbers = []
            if len(attempts_seen) > rules.attempts_per_team:
                break  # every later lap belongs to an attempt beyond the allowance
        ends_at_s = getattr(lap, "ends_at_s", None)
        if ends_at_s is not None and ends_at_s > rules.time_limit_s + 1e-9:
            continue
        if key != no_attempt and number not in numbers:
            if rules.laps_per_attempt is not None and len(numbers) >= rules.laps_per_attempt:
                continue
            numbers.append(number)
        counted.append(item)
    return counted


# --- Ranking ---------------------------------------------------------------------------------------


@dataclass
class Standing:
    """A team's line on the leaderboard. `rank` None: no score yet. `gap_s`: score behind the leader's.
    `tie_break`: when the team's score equals the team above's, the text saying which tie-break put
    that team ahead (e.g. "Amber ahead on next best lap (7.812 s vs 7.905 s)"); `tie_break_key` its
    name in TIE_BREAKS. Teams still equal after the whole chain share a rank (and have no text)."""

    rank: int | None
    team: Any
    score: Score | None
    lap_count: int
    valid_lap_count: int
    best_lap_s: float | None
    resets: int = 0
    gap_s: float | None = None
    tie_break: str | None = None
    tie_break_key: str | None = None


def check_tie_breaks(tie_breaks: Iterable[str]) -> tuple[str, ...]:
    chain = tuple(tie_breaks)
    unknown = [name for name in chain if name not in TIE_BREAKS]
    if unknown:
        raise ValueError(f"Unknown tie-break(s): {', '.join(unknown)}")
    return chain


@dataclass
class _Entry:
    team: Any
    merged: list[_Lap]
    score: Score | None
    keys: tuple[Any, ...] = ()


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _seconds(value: float) -> str:
    return "none" if math.isinf(value) else f"{value:.3f} s"


def _when(value: Any) -> str:
    if value is None:
        return "unknown"
    if hasattr(value, "strftime"):
        return str(value.strftime("%H:%M:%S.%f")[:-3])
    return str(value)


def _tie_break_key(name: str, entry: _Entry, width: int) -> Any:
    valid_times = sorted(lap.time_s for lap in entry.merged if lap.valid)
    if name == NEXT_BEST_LAP:
        return tuple(valid_times + [math.inf] * (width - len(valid_times)))
    window = entry.score.window if entry.score else ()
    if name == FEWER_RESETS:
        return (sum(lap.resets for lap in window), sum(lap.resets for lap in entry.merged))
    if name == EARLIEST:
        # When the score was complete: the latest `recorded` of the laps that made it (unknown last).
        keys = [_recorded_key(lap) for lap in window]
        return (True, 0) if not keys or any(k[0] for k in keys) else max(keys)
    if name == MORE_LAPS:
        return -len(valid_times)
    raise ValueError(f"Unknown tie-break: {name}")


def _explain(name: str, above: _Entry, below: _Entry, key_above: Any, key_below: Any) -> str:
    who = str(above.team)
    if name == NEXT_BEST_LAP:
        i = next(i for i, (a, b) in enumerate(zip(key_above, key_below, strict=True)) if a != b)
        label = "best lap" if i == 0 else "next best lap" if i == 1 else f"{_ordinal(i + 1)} best lap"
        return f"{who} ahead on {label} ({_seconds(key_above[i])} vs {_seconds(key_below[i])})"
    if name == FEWER_RESETS:
        if key_above[0] != key_below[0]:
            return f"{who} ahead on fewer resets ({key_above[0]} vs {key_below[0]})"
        return f"{who} ahead on fewer resets over all laps ({key_above[1]} vs {key_below[1]})"
    if name == EARLIEST:
        return (f"{who} ahead on setting the time first "
                f"({_when(None if key_above[0] else key_above[1])} vs {_when(None if key_below[0] else key_below[1])})")
    return f"{who} ahead on more valid laps ({-key_above} vs {-key_below})"


def rank_teams(laps_by_team: Mapping[Any, Iterable[LapLike]], rule: str, n: int, penalty_s: float = 0.0,
               tie_breaks: Sequence[str] = DEFAULT_TIE_BREAK, *, max_resets_per_lap: int | None = None,
               attempt_rules: AttemptRules | None = None) -> list[Standing]:
    """Teams with a score first (best first; equal scores go through the tie-break chain in order, and
    teams still equal share a rank), then teams without one (by name). With `attempt_rules`, only the
    laps that count (`laps_that_count`) are ranked. `lap_count` counts laps (duplicates once),
    `resets` all their resets."""
    chain = check_tie_breaks(tie_breaks)
    if rule not in RULES:
        raise ValueError(f"Unknown ranking rule: {rule}")
    entries = []
    for team, team_laps in laps_by_team.items():
        items = _items(team_laps)
        merged = _merge(_counted(items, attempt_rules) if attempt_rules else items, penalty_s, max_resets_per_lap)
        entries.append(_Entry(team, merged, _rule_score(rule, merged, n)))
    width = max((sum(1 for lap in entry.merged if lap.valid) for entry in entries), default=0)
    equal_scores: dict[float, list[_Entry]] = {}
    for entry in entries:
        if entry.score is not None:
            equal_scores.setdefault(round(entry.score.time_s, _DIGITS), []).append(entry)
    for time_key, equal in equal_scores.items():
        for entry in equal:
            # The chain is only needed (and only computed) where scores are equal.
            entry.keys = (time_key, *(_tie_break_key(name, entry, width) for name in chain)) if len(equal) > 1 \
                else (time_key,)
    scored = sorted((e for e in entries if e.score is not None), key=lambda e: (e.keys, str(e.team)))
    unscored = sorted((e for e in entries if e.score is None), key=lambda e: str(e.team))

    standings: list[Standing] = []
    leader = scored[0].score.time_s if scored and scored[0].score else None
    previous: _Entry | None = None
    for position, entry in enumerate(scored + unscored, start=1):
        valid_times = [lap.time_s for lap in entry.merged if lap.valid]
        standing = Standing(
            rank=None, team=entry.team, score=entry.score, lap_count=len(entry.merged),
            valid_lap_count=len(valid_times), best_lap_s=min(valid_times) if valid_times else None,
            resets=sum(lap.resets for lap in entry.merged),
        )
        if entry.score is not None and leader is not None:
            standing.gap_s = round(entry.score.time_s - leader, _DIGITS)
            if previous is not None and previous.keys == entry.keys:
                standing.rank = standings[-1].rank
            else:
                standing.rank = position
                if previous is not None and previous.keys[0] == entry.keys[0]:
                    i = next(i for i in range(1, len(entry.keys)) if previous.keys[i] != entry.keys[i])
                    standing.tie_break_key = chain[i - 1]
                    standing.tie_break = _explain(chain[i - 1], previous, entry,
                                                  previous.keys[i], entry.keys[i])
            previous = entry
        standings.append(standing)
    return standings


def places(standings: Iterable[Standing]) -> list[list[Any]]:
    """The teams of ranked standings grouped by place, best first (teams of one rank share the place);
    standings without a rank end the list."""
    grouped: list[list[Any]] = []
    previous: int | None = None
    for standing in standings:
        if standing.rank is None:
            break
        if previous is not None and standing.rank == previous:
            grouped[-1].append(standing.team)
        else:
            grouped.append([standing.team])
        previous = standing.rank
    return grouped
