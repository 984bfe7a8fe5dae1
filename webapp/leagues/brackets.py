"""Knockout rounds, groups and head-to-head heats as plain functions (no database), like `ranking`.

A bracket is a list of `Match`es in an order where every match comes after the matches that feed it.
Keys: "W<round>-<position>" in the winners bracket, "L<round>-<position>" in the losers bracket,
"3P" (third-place match), "GF" (grand final) and "GF2" (its reset match); rounds and positions count
from 1. Seeding is the standard one (1 v 16, 8 v 9, 4 v 13, 5 v 12, ...: if the better seed always
wins, every round pairs the best team left with the worst, and the top two seeds meet in the
final). When the field is not a power of two the missing seeds are byes, so the top seeds get them,
and a bye advances its team automatically.

Results are a mapping of match key -> winning team; `advance` fills the later matches from them (teams
are compared with ==, so model instances work) and checks every winner was in the match.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Generic, Literal, TypeVar

from . import ranking

T = TypeVar("T")

WINNERS = "winners"
LOSERS = "losers"
FINAL = "final"

Slot = tuple[str, str]  # (match key, "a" | "b")


@dataclass(frozen=True)
class Match(Generic[T]):
    """One match of a bracket. `team_a`/`team_b` None: a bye (`bye_a`/`bye_b` True: that slot can never
    hold a team) or not known yet. `seed_a`/`seed_b`: the seeds of the teams in the slots. `source_a`/
    `source_b`: where the slot's team comes from ("Seed 5", "Winner of W1-3", "Loser of W2-1", "Bye").
    `winner_to`/`loser_to`: the (key, slot) the winner/loser goes to; None: out (or, for the grand
    final, see `double_elimination`). `winner`: set by `advance` once decided (byes included)."""

    key: str
    bracket: str
    round_index: int
    position: int
    team_a: T | None = None
    team_b: T | None = None
    seed_a: int | None = None
    seed_b: int | None = None
    source_a: str = ""
    source_b: str = ""
    winner_to: Slot | None = None
    loser_to: Slot | None = None
    bye_a: bool = False
    bye_b: bool = False
    winner: T | None = None

    @property
    def is_bye(self) -> bool:
        """A walkover: one slot can never hold a team, so the other advances without racing."""
        return self.bye_a != self.bye_b

    @property
    def is_empty(self) -> bool:
        """Neither slot can hold a team (a reset match that is not needed, or a bye against a bye)."""
        return self.bye_a and self.bye_b

    @property
    def is_ready(self) -> bool:
        """Both teams known and no winner yet: this heat can be raced."""
        return self.team_a is not None and self.team_b is not None and self.winner is None

    @property
    def loser(self) -> T | None:
        if self.winner is None or self.team_a is None or self.team_b is None:
            return None
        return self.team_b if self.winner == self.team_a else self.team_a


def seed_order(size: int) -> list[int]:
    """Seeds in bracket order for a power-of-two size: [1, 16, 8, 9, 4, 13, 5, 12, 2, 15, 7, 10, 3, 14,
    6, 11] for 16, so adjacent pairs are the first-round matches."""
    if size < 1 or size & (size - 1):
        raise ValueError("the bracket size must be a power of two")
    order = [1]
    while len(order) < size:
        mirror = 2 * len(order) + 1
        order = [seed for top in order for seed in (top, mirror - top)]
    return order


def bracket_size(team_count: int) -> int:
    """The power of two a field of this many teams is drawn into (byes fill the rest)."""
    if team_count < 2:
        raise ValueError("a bracket needs at least two teams")
    return 1 << (team_count - 1).bit_length()


def bracket_sizes(team_count: int) -> list[int]:
    """Teams in each round of a single-elimination bracket, first round to final: 64 -> [64, 32, 16, 8,
    4, 2]; 13 -> [13, 8, 4, 2] (three byes in the first round)."""
    size = bracket_size(team_count)
    sizes = [team_count]
    while size > 2:
        size //= 2
        sizes.append(size)
    return sizes


def round_name(teams_in_round: int) -> str:
    return {2: "Final", 4: "Semi-finals", 8: "Quarter-finals"}.get(teams_in_round, f"Round of {teams_in_round}")


def _winners_bracket(seeded: Sequence[T], double: bool) -> list[Match[T]]:
    size = bracket_size(len(seeded))
    if any(team is None for team in seeded):
        raise ValueError("a seeded team cannot be None (None marks a bye)")
    if any(seeded[i] == seeded[j] for i in range(len(seeded)) for j in range(i)):
        raise ValueError("a team is seeded twice")
    rounds = int(math.log2(size))
    order = seed_order(size)
    matches: list[Match[T]] = []
    for r in range(1, rounds + 1):
        for p in range(1, size // 2**r + 1):
            fields: dict[str, Any] = {}
            if r == 1:
                for slot, seed in (("a", order[2 * p - 2]), ("b", order[2 * p - 1])):
                    present = seed <= len(seeded)
                    fields[f"team_{slot}"] = seeded[seed - 1] if present else None
                    fields[f"seed_{slot}"] = seed if present else None
                    fields[f"source_{slot}"] = f"Seed {seed}" if present else "Bye"
                    fields[f"bye_{slot}"] = not present
            else:
                fields["source_a"] = f"Winner of W{r - 1}-{2 * p - 1}"
                fields["source_b"] = f"Winner of W{r - 1}-{2 * p}"
            winner_to = (f"W{r + 1}-{(p + 1) // 2}", "a" if p % 2 else "b") if r < rounds else None
            loser_to = None
            if double:
                if rounds == 1:
                    loser_to = ("GF", "b")
                elif r == 1:
                    loser_to = (f"L1-{(p + 1) // 2}", "a" if p % 2 else "b")
                else:
                    j = r - 1  # losers of winners round r drop into losers round 2j
                    count = size // 2**r
                    position = count + 1 - p if j % 2 else p  # flipped every other round: fewer rematches
                    loser_to = (f"L{2 * j}-{position}", "b")
            matches.append(Match(key=f"W{r}-{p}", bracket=WINNERS, round_index=r, position=p,
                                 winner_to=winner_to, loser_to=loser_to, **fields))
    return matches


def _with_byes(matches: list[Match[T]]) -> list[Match[T]]:
    """Marks the slots that can never hold a team: fed by the winner of a match with two empty slots,
    or by the loser of a match with an empty slot (a walkover has no loser)."""
    feeds: dict[Slot, tuple[str, str]] = {}
    for match in matches:
        if match.winner_to:
            feeds[match.winner_to] = (match.key, "winner")
        if match.loser_to:
            feeds[match.loser_to] = (match.key, "loser")
    by_key = {match.key: match for match in matches}
    empty: dict[Slot, bool] = {}

    def is_empty(slot: Slot) -> bool:
        if slot not in empty:
            if slot not in feeds:
                match = by_key[slot[0]]
                empty[slot] = match.bye_a if slot[1] == "a" else match.bye_b
            else:
                source, kind = feeds[slot]
                a, b = is_empty((source, "a")), is_empty((source, "b"))
                empty[slot] = (a and b) if kind == "winner" else (a or b)
        return empty[slot]

    return [replace(match, bye_a=is_empty((match.key, "a")), bye_b=is_empty((match.key, "b")))
            if match.key != "GF2" else match for match in matches]


def single_elimination(seeded: Sequence[T], third_place_match: bool = False) -> list[Match[T]]:
    """A single-elimination bracket of the teams in seed order (best first): a field of n teams has
    n - 1 matches that are raced plus one walkover per bye (the bracket size - 1 matches in all), byes
    already advanced. With `third_place_match`, the semi-final losers race a "3P" match for 3rd place."""
    matches = _winners_bracket(seeded, double=False)
    rounds = matches[-1].round_index
    if third_place_match and rounds >= 2:
        semis = [m for m in matches if m.round_index == rounds - 1]
        matches = [replace(m, loser_to=("3P", "a" if m.position == 1 else "b")) if m in semis else m
                   for m in matches]
        matches.append(Match(key="3P", bracket=FINAL, round_index=rounds, position=2,
                             source_a=f"Loser of {semis[0].key}", source_b=f"Loser of {semis[1].key}"))
    return advance(_with_byes(matches), {})


def double_elimination(seeded: Sequence[T]) -> list[Match[T]]:
    """A double-elimination bracket: a team is out after its second loss. Losers of the winners bracket
    drop into the losers bracket ("L" keys: odd rounds pair the survivors, even rounds take the next
    winners-round losers, in flipped order every other round so early rematches are rare). The grand
    final "GF" is the winners-bracket winner (slot a) against the losers-bracket winner (slot b); if
    b wins, both have lost once and the reset match "GF2" decides (filled by `advance`; otherwise it
    stays empty). For a bracket of size S: S - 1 + S - 2 + 1 = 2S - 2 matches, plus "GF2"
    (64 teams: 126 + 1)."""
    matches = _winners_bracket(seeded, double=True)
    size = bracket_size(len(seeded))
    rounds = int(math.log2(size))
    losers_rounds = 2 * (rounds - 1)
    for lr in range(1, losers_rounds + 1):
        j = (lr + 1) // 2
        count = size // 2 ** (j + 1)
        for p in range(1, count + 1):
            if lr == losers_rounds:
                winner_to: Slot = ("GF", "b")
            elif lr % 2:  # odd round -> next even round, same position, slot a
                winner_to = (f"L{lr + 1}-{p}", "a")
            else:  # even round -> next odd round pairs them
                winner_to = (f"L{lr + 1}-{(p + 1) // 2}", "a" if p % 2 else "b")
            if lr == 1:
                sources = (f"Loser of W1-{2 * p - 1}", f"Loser of W1-{2 * p}")
            elif lr % 2:
                sources = (f"Winner of L{lr - 1}-{2 * p - 1}", f"Winner of L{lr - 1}-{2 * p}")
            else:
                feeder = next(m.key for m in matches if m.loser_to == (f"L{lr}-{p}", "b"))
                sources = (f"Winner of L{lr - 1}-{p}", f"Loser of {feeder}")
            matches.append(Match(key=f"L{lr}-{p}", bracket=LOSERS, round_index=lr, position=p,
                                 source_a=sources[0], source_b=sources[1], winner_to=winner_to))
    final_key = f"W{rounds}-1"
    matches = [replace(m, winner_to=("GF", "a")) if m.key == final_key else m for m in matches]
    losers_source = f"Winner of L{losers_rounds}-1" if losers_rounds else f"Loser of {final_key}"
    matches.append(Match(key="GF", bracket=FINAL, round_index=1, position=1,
                         source_a=f"Winner of {final_key}", source_b=losers_source))
    matches.append(Match(key="GF2", bracket=FINAL, round_index=2, position=1,
                         source_a="GF side a, if GF side b wins", source_b="GF side b, if it wins GF"))
    return advance(_with_byes(matches), {})


_Side = tuple[Any, int | None]  # (team, seed)


def advance(matches: Sequence[Match[T]], results: Mapping[str, T]) -> list[Match[T]]:
    """The bracket with every match filled from the results: teams of the seeded first round stay, every
    other slot is recomputed from the matches that feed it, byes advance on their own, and a decided
    grand final fills (or empties) the reset match. Raises ValueError for a result of an unknown match,
    of a match whose teams are not known yet (or that has none), or whose winner is not one of its two
    teams."""
    by_key = {match.key: match for match in matches}
    unknown = [key for key in results if key not in by_key]
    if unknown:
        raise ValueError(f"Unknown match(es): {', '.join(sorted(unknown))}")
    fed: dict[Slot, _Side | None] = {}  # None: the slot stays empty
    fed_slots = {m.winner_to for m in matches if m.winner_to} | {m.loser_to for m in matches if m.loser_to}
    if "GF2" in by_key:
        fed_slots |= {("GF2", "a"), ("GF2", "b")}
    done: dict[str, Match[T]] = {}
    pending = list(matches)
    while pending:
        progress = False
        for match in list(pending):
            sides: list[_Side | None] = []
            ready = True
            for slot in ("a", "b"):
                if (match.key, slot) in fed_slots:
                    if (match.key, slot) not in fed:
                        ready = False
                        break
                    sides.append(fed[(match.key, slot)])
                elif getattr(match, f"bye_{slot}"):
                    sides.append(None)
                else:
                    team = getattr(match, f"team_{slot}")
                    sides.append((team, getattr(match, f"seed_{slot}")) if team is not None else None)
            if not ready:
                continue
            pending.remove(match)
            progress = True
            done[match.key] = _decide(match, sides[0], sides[1], results, fed)
        if not progress:
            break
    for match in pending:
        if match.key in results:
            raise ValueError(f"{match.key} cannot have a result yet: its teams are not known")
        a = fed.get((match.key, "a")) if (match.key, "a") in fed_slots else (match.team_a, match.seed_a)
        b = fed.get((match.key, "b")) if (match.key, "b") in fed_slots else (match.team_b, match.seed_b)
        done[match.key] = replace(match, team_a=a[0] if a else None, seed_a=a[1] if a else None,
                                  team_b=b[0] if b else None, seed_b=b[1] if b else None, winner=None)
    return [done[match.key] for match in matches]


def _decide(match: Match[T], a: _Side | None, b: _Side | None, results: Mapping[str, T],
            fed: dict[Slot, _Side | None]) -> Match[T]:
    filled = replace(match, team_a=a[0] if a else None, seed_a=a[1] if a else None,
                     team_b=b[0] if b else None, seed_b=b[1] if b else None,
                     bye_a=a is None, bye_b=b is None, winner=None)
    result = results.get(match.key)
    winner: _Side | None
    loser: _Side | None = None
    if a is None and b is None:
        if match.key in results:
            raise ValueError(f"{match.key} has no teams: it cannot have a result")
        winner = None
    elif a is None or b is None:
        winner = a or b
        if match.key in results and (winner is None or result != winner[0]):
            raise ValueError(f"{match.key} is a bye: only its one team can win it")
    elif match.key not in results:
        return filled  # undecided: the slots it feeds stay unknown
    elif result == a[0]:
        winner, loser = a, b
    elif result == b[0]:
        winner, loser = b, a
    else:
        raise ValueError(f"The winner of {match.key} must be one of its two teams")
    if match.winner_to:
        fed[match.winner_to] = winner
    if match.loser_to:
        fed[match.loser_to] = loser
    if match.key == "GF":
        # The reset match is raced only when the losers-bracket team (slot b) wins the grand final.
        reset = a is not None and b is not None and winner is b
        fed[("GF2", "a")] = a if reset else None
        fed[("GF2", "b")] = b if reset else None
    return replace(filled, winner=winner[0] if winner else None)


def final_ranking(matches: Sequence[Match[T]], results: Mapping[str, T]) -> list[list[T]]:
    """Places once the bracket is decided: a list of groups, best first; teams in one group share the
    place (the next group's place skips past them). 1st and 2nd come from the final (or the grand final
    and its reset). Then the teams that went out in the same round share a place, later rounds first:
    in a single-elimination bracket the two semi-final losers share 3rd unless a third-place match
    ("3P", `single_elimination(third_place_match=True)`) decides 3rd and 4th; in a double-elimination
    bracket the losers-bracket final's loser is 3rd alone, its semi-final's 4th, and so on. Within a
    group, teams are listed by seed. Raises ValueError while a deciding match is not decided."""
    played = advance(matches, results)
    by_key = {match.key: match for match in played}

    def decided(key: str) -> Match[T]:
        match = by_key[key]
        if match.winner is None:
            raise ValueError(f"{key} is not decided yet")
        return match

    def losers_of(bracket: str, round_index: int) -> list[T]:
        out = [m for m in played if m.bracket == bracket and m.round_index == round_index
               and m.key not in ("3P",)]
        for m in out:
            if not m.is_bye and not m.is_empty:
                decided(m.key)
        ordered = sorted((m for m in out if m.loser is not None), key=lambda m: _seed_of_loser(m))
        return [m.loser for m in ordered if m.loser is not None]

    places: list[list[T]] = []
    if "GF" in by_key:
        grand = decided("GF")
        final = grand if grand.winner == grand.team_a else decided("GF2")
        places += [[_known(final.winner)], [_known(final.loser)]]
        losers_rounds = max((m.round_index for m in played if m.bracket == LOSERS), default=0)
        for lr in range(losers_rounds, 0, -1):
            places.append(losers_of(LOSERS, lr))
    else:
        rounds = max(m.round_index for m in played if m.bracket == WINNERS)
        final = decided(f"W{rounds}-1")
        places += [[_known(final.winner)], [_known(final.loser)]]
        if "3P" in by_key and not by_key["3P"].is_empty:
            third = by_key["3P"]
            if third.is_bye:
                places.append([_known(third.winner)])
            else:
                decided("3P")
                places += [[_known(third.winner)], [_known(third.loser)]]
            first = rounds - 2
        else:
            first = rounds - 1
        for r in range(first, 0, -1):
            places.append(losers_of(WINNERS, r))
    return [group for group in places if group]


def _known(team: T | None) -> T:
    if team is None:
        raise ValueError("the bracket is not decided yet")
    return team


def _seed_of_loser(match: Match[Any]) -> int:
    seed = match.seed_b if match.winner == match.team_a else match.seed_a
    return seed if seed is not None else 10**9


def place_numbers(groups: Sequence[Sequence[Any]]) -> list[int]:
    """The place each group of `final_ranking` holds: [[A], [B], [C, D], [E]] -> [1, 2, 3, 5]."""
    places, place = [], 1
    for group in groups:
        places.append(place)
        place += len(group)
    return places


# --- Heats and groups ------------------------------------------------------------------------------


def head_to_head(laps_a: Iterable[ranking.LapLike], laps_b: Iterable[ranking.LapLike], rule: str, n: int,
                 penalty_s: float = 0.0, tie_breaks: Sequence[str] = ranking.DEFAULT_TIE_BREAK, *,
                 max_resets_per_lap: int | None = None,
                 attempt_rules: ranking.AttemptRules | None = None) -> Literal["a", "b"] | None:
    """A heat: two teams' attempts compared under the round's rule and tie-break chain. "a" or "b" wins;
    None when neither has a score or they are still equal after the whole chain (the organiser decides:
    a re-run). A team with a score beats one without."""
    standings = ranking.rank_teams({"a": list(laps_a), "b": list(laps_b)}, rule, n, penalty_s, tie_breaks,
                                   max_resets_per_lap=max_resets_per_lap, attempt_rules=attempt_rules)
    first, second = standings
    if first.rank is None or first.rank == second.rank:
        return None
    return "a" if first.team == "a" else "b"


def groups(seeded: Sequence[T], group_count: int) -> list[list[T]]:
    """Snake seeding: seeds 1..g go to groups 1..g, seeds g+1..2g back from group g to 1, and so on,
    so every group gets an even share of strong and weak teams."""
    if group_count < 1:
        raise ValueError("group_count must be at least 1")
    if group_count > len(seeded):
        raise ValueError("more groups than teams")
    drawn: list[list[T]] = [[] for _ in range(group_count)]
    for index, team in enumerate(seeded):
        lap, offset = divmod(index, group_count)
        drawn[offset if lap % 2 == 0 else group_count - 1 - offset].append(team)
    return drawn


def group_qualifiers(group_standings: Sequence[Sequence[ranking.Standing]], per_group: int,
                     best_of_rest: int = 0) -> list[Any]:
    """The teams that go through from groups, seeded for the next round: every group's winner (the
    better score first), then every runner-up, ... down to place `per_group`; then the `best_of_rest`
    best teams placed `per_group + 1` across the groups (by score). `group_standings` are each group's
    `rank_teams` result, best first; a team without a score never qualifies. Teams of different groups
    with equal scores keep the order of their groups."""
    if per_group < 0 or best_of_rest < 0:
        raise ValueError("per_group and best_of_rest cannot be negative")

    def tier(place: int) -> list[ranking.Standing]:
        entries = [(standings[place - 1], index) for index, standings in enumerate(group_standings)
                   if len(standings) >= place and standings[place - 1].score is not None]
        entries.sort(key=lambda entry: (round(entry[0].score.time_s, 6) if entry[0].score else 0.0, entry[1]))
        return [standing for standing, _ in entries]

    qualified = [standing.team for place in range(1, per_group + 1) for standing in tier(place)]
    if best_of_rest:
        qualified += [standing.team for standing in tier(per_group + 1)[:best_of_rest]]
    return qualified
