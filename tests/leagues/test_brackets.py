"""Knockout brackets, groups and head-to-head heats as plain functions (no database)."""

import random
from collections import Counter
from dataclasses import dataclass

import pytest

from webapp.leagues import brackets, ranking


@dataclass
class Lap:
    lap_number: int
    lap_time_s: float
    resets: int = 0
    valid: bool = True


def laps(*times):
    return [Lap(n, t) for n, t in enumerate(times, start=1)]


def play(matches, pick=min, upsets=()):
    """Races the bracket to its end: `pick` chooses each ready match's winner (by default the better
    seed, teams being their seed numbers); matches in `upsets` go the other way."""
    results = {}
    while True:
        matches = brackets.advance(matches, results)
        ready = [m for m in matches if m.is_ready]
        if not ready:
            return matches, results
        for match in ready:
            choose = max if match.key in upsets else pick
            results[match.key] = choose(match.team_a, match.team_b)


def per_round(matches, bracket=brackets.WINNERS):
    return [count for _, count in sorted(Counter(m.round_index for m in matches if m.bracket == bracket).items())]


# --- Structure --------------------------------------------------------------------------------------


def test_standard_seeding_keeps_the_top_seeds_apart():
    assert brackets.seed_order(16) == [1, 16, 8, 9, 4, 13, 5, 12, 2, 15, 7, 10, 3, 14, 6, 11]
    # When the better seed always wins, every round pairs the best left with the worst left.
    matches, _ = play(brackets.single_elimination(list(range(1, 33))))
    for round_index, teams_left in zip(range(1, 6), (32, 16, 8, 4, 2), strict=True):
        pairs = {tuple(sorted((m.team_a, m.team_b))) for m in matches if m.round_index == round_index}
        assert pairs == {(s, teams_left + 1 - s) for s in range(1, teams_left // 2 + 1)}
    with pytest.raises(ValueError):
        brackets.seed_order(12)


def test_sixty_four_teams_single_elimination_has_63_matches_down_to_a_final():
    matches = brackets.single_elimination(list(range(1, 65)))
    assert len(matches) == 63
    assert per_round(matches) == [32, 16, 8, 4, 2, 1]
    assert brackets.bracket_sizes(64) == [64, 32, 16, 8, 4, 2]
    assert [brackets.round_name(n) for n in brackets.bracket_sizes(64)[-4:]] == [
        "Round of 16", "Quarter-finals", "Semi-finals", "Final"]


def test_sixteen_teams_play_8_4_2_1_matches_seeded_1_v_16():
    matches = brackets.single_elimination([f"T{seed}" for seed in range(1, 17)])
    assert per_round(matches) == [8, 4, 2, 1]
    first = matches[0]
    assert (first.key, first.team_a, first.team_b, first.seed_a, first.seed_b) == ("W1-1", "T1", "T16", 1, 16)
    assert (first.source_a, first.source_b, first.winner_to) == ("Seed 1", "Seed 16", ("W2-1", "a"))
    assert (matches[1].seed_a, matches[1].seed_b) == (8, 9)
    second_round = next(m for m in matches if m.key == "W2-1")
    assert (second_round.source_a, second_round.source_b) == ("Winner of W1-1", "Winner of W1-2")
    assert second_round.team_a is None  # not known yet


def test_thirteen_teams_give_the_three_byes_to_seeds_1_to_3():
    seeded = [f"T{seed}" for seed in range(1, 14)]
    matches = brackets.single_elimination(seeded)
    byes = [m for m in matches if m.is_bye]
    assert sorted(m.seed_a for m in byes) == [1, 2, 3]
    assert all(m.team_b is None and m.source_b == "Bye" and m.winner == m.team_a for m in byes)
    # A bye advances on its own: the top seeds already wait in round 2.
    waiting = sorted(team for m in matches if m.round_index == 2 for team in (m.team_a, m.team_b) if team)
    assert waiting == ["T1", "T2", "T3"]
    assert sum(1 for m in matches if not m.is_bye) == 12  # n - 1 races
    assert brackets.bracket_sizes(13) == [13, 8, 4, 2]


def test_double_elimination_of_64_has_126_matches_and_the_reset():
    matches = brackets.double_elimination(list(range(1, 65)))
    assert len(matches) == 127
    assert sum(1 for m in matches if m.key != "GF2") == 126
    assert per_round(matches, brackets.LOSERS) == [16, 16, 8, 8, 4, 4, 2, 2, 1, 1]
    keys = [m.key for m in matches]
    assert len(set(keys)) == len(keys)
    fed = Counter(slot for m in matches for slot in (m.winner_to, m.loser_to) if slot)
    assert set(fed.values()) == {1} and {key for key, _ in fed} <= set(keys)
    # Every text fits the stored heat's source columns (40 characters).
    assert max(len(m.source_a) for m in matches) <= 40 and max(len(m.source_b) for m in matches) <= 40


def test_brackets_need_two_different_teams():
    with pytest.raises(ValueError):
        brackets.single_elimination(["Solo"])
    with pytest.raises(ValueError, match="twice"):
        brackets.double_elimination(["A", "B", "A"])


def test_every_field_size_races_to_a_complete_ranking():
    rng = random.Random(7)
    for n in range(2, 34):
        for kind in ("single", "third place", "double"):
            if kind == "double":
                bracket = brackets.double_elimination(list(range(1, n + 1)))
            else:
                bracket = brackets.single_elimination(list(range(1, n + 1)), third_place_match=kind == "third place")
            matches, results = play(bracket, pick=lambda a, b: rng.choice([a, b]))
            places = brackets.final_ranking(bracket, results)
            assert sorted(team for group in places for team in group) == list(range(1, n + 1)), (n, kind)
            if kind == "single":
                assert len(results) == n - 1  # one race per team out
            elif kind == "third place":
                assert len(results) == (n if n >= 4 else n - 1)  # (3 teams: the 3rd-place match is a bye)
            else:
                assert len(results) in (2 * n - 2, 2 * n - 1), (n, len(results))  # with or without the reset
                losses = Counter(m.loser for m in matches if m.loser is not None)
                champion = places[0][0]
                assert losses[champion] <= 1 and all(count == 2 for team, count in losses.items() if team != champion)


# --- Advancing --------------------------------------------------------------------------------------


def test_advance_fills_later_rounds_and_checks_the_winner():
    matches = brackets.single_elimination(["A", "B", "C", "D"])  # W1-1: A v D, W1-2: B v C
    after = brackets.advance(matches, {"W1-1": "D", "W1-2": "B"})
    final = after[-1]
    assert (final.key, final.team_a, final.seed_a, final.team_b, final.seed_b) == ("W2-1", "D", 4, "B", 2)
    assert after[0].winner == "D" and after[0].loser == "A"
    assert final.is_ready
    with pytest.raises(ValueError, match="one of its two teams"):
        brackets.advance(matches, {"W1-1": "B"})
    with pytest.raises(ValueError, match="not known"):
        brackets.advance(matches, {"W2-1": "A"})
    with pytest.raises(ValueError, match="Unknown"):
        brackets.advance(matches, {"W9-9": "A"})


def test_a_bye_cannot_be_won_by_anyone_else():
    matches = brackets.single_elimination(["A", "B", "C"])
    assert matches[0].is_bye
    assert brackets.advance(matches, {"W1-1": "A"})[0].winner == "A"
    with pytest.raises(ValueError, match="bye"):
        brackets.advance(matches, {"W1-1": "C"})


def test_advance_does_not_depend_on_the_order_matches_come_in():
    matches = brackets.double_elimination(list(range(1, 9)))
    _, results = play(matches, upsets=("W1-2", "L1-1"))
    # As stored heats come back from the database: by round index, position, key.
    shuffled = sorted(matches, key=lambda m: (m.round_index, m.position, m.key))
    by_key = {m.key: m for m in brackets.advance(matches, results)}
    assert all(m == by_key[m.key] for m in brackets.advance(shuffled, results))


def test_a_changed_result_recomputes_the_rounds_after_it():
    matches = brackets.single_elimination(["A", "B", "C", "D"])
    once = brackets.advance(matches, {"W1-1": "A"})
    assert brackets.advance(once, {"W1-1": "D"})[-1].team_a == "D"


# --- Double elimination -----------------------------------------------------------------------------


def test_a_first_loss_drops_a_team_into_the_losers_bracket():
    matches = brackets.advance(brackets.double_elimination(list(range(1, 9))), {"W1-1": 8})
    dropped = next(m for m in matches if m.key == "L1-1")
    assert dropped.team_a == 1 and dropped.source_a == "Loser of W1-1"


def test_grand_final_reset_only_when_the_losers_bracket_team_wins():
    bracket = brackets.double_elimination(list(range(1, 9)))
    matches, results = play(bracket)
    by_key = {m.key: m for m in matches}
    assert (by_key["GF"].team_a, by_key["GF"].team_b, by_key["GF"].winner) == (1, 2, 1)
    assert by_key["GF2"].is_empty and by_key["GF2"].team_a is None
    with pytest.raises(ValueError):
        brackets.advance(bracket, {**results, "GF2": 1})

    matches, results = play(bracket, upsets=("GF",))
    reset = {m.key: m for m in matches}["GF2"]
    assert (reset.team_a, reset.team_b, reset.winner) == (1, 2, 1)
    assert brackets.final_ranking(bracket, results)[:2] == [[1], [2]]


def test_double_elimination_ranking_places_every_team_once_and_nobody_loses_three_times():
    bracket = brackets.double_elimination(list(range(1, 14)))
    matches, results = play(bracket, upsets=("W1-2", "W2-1", "L2-1"))
    places = brackets.final_ranking(bracket, results)
    assert sorted(team for group in places for team in group) == list(range(1, 14))
    losses = Counter(m.loser for m in matches if m.loser is not None)
    assert max(losses.values()) == 2 and losses[places[0][0]] <= 1
    assert [len(group) for group in places[:4]] == [1, 1, 1, 1]  # 3rd and 4th are decided in the L bracket


# --- Final ranking ----------------------------------------------------------------------------------


def test_semi_final_losers_share_third_without_a_third_place_match():
    bracket = brackets.single_elimination(list(range(1, 9)))
    _, results = play(bracket)
    places = brackets.final_ranking(bracket, results)
    assert places == [[1], [2], [3, 4], [5, 6, 7, 8]]
    assert brackets.place_numbers(places) == [1, 2, 3, 5]


def test_a_third_place_match_decides_third_and_fourth():
    bracket = brackets.single_elimination(list(range(1, 9)), third_place_match=True)
    assert len(bracket) == 8 and bracket[-1].key == "3P"
    _, results = play(bracket, upsets=("3P",))
    assert brackets.final_ranking(bracket, results) == [[1], [2], [4], [3], [5, 6, 7, 8]]


def test_the_ranking_waits_for_the_final():
    bracket = brackets.single_elimination(list(range(1, 5)))
    with pytest.raises(ValueError, match="not decided"):
        brackets.final_ranking(bracket, {"W1-1": 1, "W1-2": 2})


def test_sixteen_team_qualifying_seeds_a_bracket_raced_to_a_final():
    # Qualifying: team k's best lap is 7.5 + k/10 s, so "Q01" is the 1st seed.
    qualifying = {f"Q{k:02d}": laps(9.0, 7.5 + k / 10) for k in range(16, 0, -1)}
    seeded = [s.team for s in ranking.rank_teams(qualifying, ranking.BEST_LAP, 1)]
    assert seeded[:2] == ["Q01", "Q02"]
    bracket = brackets.single_elimination(seeded)
    # Each heat: both teams drive; the lower seed is faster in heats whose key is in `upsets`.
    upsets = {"W1-1", "W3-2"}

    def heat(match):
        fast, slow = laps(7.6, 7.7), laps(7.8, 7.6)  # equal best laps: the next best lap decides
        a_wins = (match.seed_a < match.seed_b) != (match.key in upsets)
        winner = brackets.head_to_head(fast if a_wins else slow, slow if a_wins else fast,
                                       ranking.BEST_LAP, 1)
        return match.team_a if winner == "a" else match.team_b

    matches, results = bracket, {}
    while True:
        matches = brackets.advance(matches, results)
        ready = [m for m in matches if m.is_ready]
        if not ready:
            break
        results.update({m.key: heat(m) for m in ready})
    assert results["W1-1"] == "Q16"  # the 1st seed went out in round 1
    places = brackets.final_ranking(bracket, results)
    assert places == [
        ["Q03"], ["Q04"], ["Q02", "Q08"], ["Q05", "Q06", "Q07", "Q16"],
        ["Q01", "Q09", "Q10", "Q11", "Q12", "Q13", "Q14", "Q15"],
    ]


# --- Heats and groups -------------------------------------------------------------------------------


def test_head_to_head_compares_two_attempts_under_the_rule_and_chain():
    assert brackets.head_to_head(laps(8.0, 9.0), laps(8.5, 8.5), ranking.BEST_LAP, 1) == "a"
    assert brackets.head_to_head(laps(8.0, 9.0), laps(8.4, 8.4), ranking.BEST_AVERAGE, 2) == "b"
    assert brackets.head_to_head(laps(8.0, 9.0), laps(8.5, 8.5), ranking.BEST_AVERAGE, 2) == "a"  # best lap
    assert brackets.head_to_head(laps(8.0, 9.0), laps(9.0, 8.0), ranking.BEST_LAP, 1) is None  # equal all through
    assert brackets.head_to_head([], laps(20.0), ranking.BEST_LAP, 1) == "b"
    assert brackets.head_to_head([], [], ranking.BEST_LAP, 1) is None
    # The penalty and the chain are the round's.
    with_reset = [Lap(1, 8.0, resets=1)]
    assert brackets.head_to_head(with_reset, laps(8.5), ranking.BEST_LAP, 1, penalty_s=1.0) == "b"
    assert brackets.head_to_head(with_reset, laps(8.0), ranking.BEST_LAP, 1,
                                 tie_breaks=("fewer_resets",)) == "b"


def test_groups_are_snake_seeded():
    assert brackets.groups(list(range(1, 13)), 4) == [[1, 8, 9], [2, 7, 10], [3, 6, 11], [4, 5, 12]]
    assert brackets.groups(list(range(1, 11)), 3) == [[1, 6, 7], [2, 5, 8], [3, 4, 9, 10]]
    with pytest.raises(ValueError):
        brackets.groups([1, 2], 3)


def test_group_qualifiers_take_places_in_tiers_then_the_best_of_the_rest():
    group_laps = [
        {"A1": laps(8.0), "A2": laps(8.6), "A3": laps(9.0)},
        {"B1": laps(7.9), "B2": laps(8.9), "B3": laps(8.95), "B4": []},
        {"C1": laps(8.2), "C2": laps(8.5), "C3": laps(9.5)},
    ]
    standings = [ranking.rank_teams(group, ranking.BEST_LAP, 1) for group in group_laps]
    assert brackets.group_qualifiers(standings, per_group=2) == ["B1", "A1", "C1", "C2", "A2", "B2"]
    assert brackets.group_qualifiers(standings, per_group=2, best_of_rest=2)[-2:] == ["B3", "A3"]
    # A team without a score never qualifies.
    assert "B4" not in brackets.group_qualifiers(standings, per_group=4)
