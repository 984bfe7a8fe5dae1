"""Race formats as plain functions (no database): duplicates, attempts, the total-time rule, the reset
limit, attempt rules and the tie-break chain of `ranking`."""

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from webapp.leagues import ranking

T0 = datetime(2026, 5, 9, 14, 0, tzinfo=UTC)


@dataclass
class Lap:
    lap_number: int
    lap_time_s: float
    resets: int = 0
    valid: bool = True
    attempt: object = None
    recorded: datetime | None = None
    ends_at_s: float | None = None


def laps(*times, invalid=(), resets=None, attempt=None, start=1):
    resets = resets or {}
    return [Lap(n, t, resets.get(n, 0), n not in invalid, attempt) for n, t in enumerate(times, start=start)]


# --- Duplicates (issue 12: a faster second "lap 3" made best-average-of-3 slower) --------------------


def test_a_faster_duplicate_lap_number_no_longer_breaks_the_run():
    recorded = laps(15.0, 14.4, 14.5, 14.34)
    before = ranking.best_average(recorded, n=3)
    assert before.laps == (2, 3, 4) and before.time_s == pytest.approx(14.413333, abs=1e-6)

    after = ranking.best_average(recorded + [Lap(3, 14.0)], n=3)
    # The old rule restarted the run at the second lap 3 and was left with 1-2-3 (14.633 s).
    assert after.laps == (2, 3, 4)
    assert after.time_s == pytest.approx((14.4 + 14.0 + 14.34) / 3)


def test_a_slower_or_invalid_duplicate_changes_nothing():
    recorded = laps(10.0, 9.0, 11.0)
    for duplicate in (Lap(2, 12.0), Lap(2, 8.0, valid=False), Lap(2, 7.0, resets=5)):
        for rule in ranking.RULES:
            assert ranking.score(rule, recorded + [duplicate], 2, 1.0, max_resets_per_lap=3) == \
                ranking.score(rule, recorded, 2, 1.0, max_resets_per_lap=3), (rule, duplicate)


def test_a_duplicate_that_is_valid_restores_an_invalid_lap():
    recorded = laps(10.0, 9.0, 11.0, invalid={2})
    assert ranking.best_average(recorded, n=3) is None
    assert ranking.best_average(recorded + [Lap(2, 9.5)], n=3).laps == (1, 2, 3)


def test_duplicates_never_make_a_score_worse_over_many_random_lap_sets():
    rng = random.Random(12)
    checked = 0
    for _ in range(400):
        count = rng.randint(1, 9)
        recorded = [Lap(number, round(rng.uniform(7.0, 12.0), 3), rng.choice([0, 0, 0, 1, 4]),
                        rng.random() > 0.2, attempt=rng.choice([None, 1, 1, 2]))
                    for number in range(1, count + 1)]
        original = rng.choice(recorded)
        duplicate = Lap(original.lap_number, round(rng.uniform(6.0, 13.0), 3), rng.choice([0, 1, 4]),
                        rng.random() > 0.3, attempt=original.attempt)
        n = rng.randint(1, 3)
        for rule in ranking.RULES:
            kwargs = {"max_resets_per_lap": 3}
            before = ranking.score(rule, recorded, n, 2.0, **kwargs)
            after = ranking.score(rule, recorded + [duplicate], n, 2.0, **kwargs)
            original_valid = original.valid and original.resets <= 3
            # Best lap and best average can only improve from any duplicate; the "first" rules can
            # only improve when the lap they duplicate was valid (a valid duplicate of an invalid lap
            # restores it, which may rightly move the first run earlier).
            if (rule in (ranking.BEST_LAP, ranking.BEST_AVERAGE) or original_valid) and before is not None:
                assert after is not None and after.time_s <= before.time_s + 1e-9, (rule, recorded, duplicate)
                checked += 1
    assert checked > 500


# --- Attempts and the reset limit ------------------------------------------------------------------


def test_a_run_stays_within_one_attempt():
    first = laps(10.0, 10.0, attempt=1)
    second = laps(10.0, 10.0, attempt=2, start=3)  # numbers run on across attempts
    assert ranking.best_average(first + second, n=3) is None
    assert ranking.best_average(first + second, n=2).laps == (1, 2)


def test_the_same_lap_number_in_two_attempts_is_two_laps():
    recorded = laps(10.0, 9.0, attempt=1) + laps(8.0, 12.0, attempt=2)
    assert ranking.best_average(recorded, n=2).time_s == pytest.approx(9.5)
    assert ranking.total_time(recorded, n=4).time_s == pytest.approx(39.0)


def test_attempt_ids_of_django_laps_and_objects_with_a_pk_order_the_laps():
    @dataclass
    class Attempt:
        pk: int

    @dataclass
    class DjangoLap:
        lap_number: int
        lap_time_s: float
        attempt_id: int
        resets: int = 0
        valid: bool = True

    # attempt_id is read without touching `attempt` (which would be a query on a model).
    assert ranking.attempt_key(DjangoLap(1, 9.0, 7)) == ranking.attempt_key(Lap(1, 9.0, attempt=Attempt(7)))
    recorded = [DjangoLap(1, 9.0, 8), DjangoLap(1, 11.0, 7), DjangoLap(2, 11.0, 7)]
    assert [lap.lap_time_s for lap in ranking.consecutive_windows(recorded, 2)[0]] == [11.0, 11.0]
    assert ranking.first_consecutive(recorded, n=1).time_s == pytest.approx(11.0)  # attempt 7 comes first


def test_a_lap_over_the_reset_limit_is_invalid_and_breaks_the_run():
    recorded = laps(9.0, 9.0, 9.0, 9.0, resets={3: 4})
    assert ranking.best_average(recorded, n=3, max_resets_per_lap=3) is None
    assert ranking.best_average(recorded, n=3, penalty_s=1.0, max_resets_per_lap=4).time_s == pytest.approx(31 / 3)
    assert ranking.best_lap(laps(7.0, 9.0, resets={1: 4}), max_resets_per_lap=3).laps == (2,)


# --- Total time -------------------------------------------------------------------------------------


def test_total_time_adds_the_first_n_valid_laps_with_penalties():
    recorded = laps(10.0, 30.0, 11.0, 12.0, 8.0, invalid={2}, resets={3: 1})
    score = ranking.total_time(recorded, n=3, penalty_s=2.0)
    assert score.laps == (1, 3, 4)  # not the fastest three: the first three valid ones
    assert score.time_s == pytest.approx(10.0 + 13.0 + 12.0)
    assert ranking.score(ranking.TOTAL_TIME, recorded, 3, 2.0) == score


def test_total_time_needs_n_valid_laps():
    assert ranking.total_time(laps(10.0, 10.0, 10.0, invalid={2}), n=3) is None
    with pytest.raises(ValueError):
        ranking.total_time(laps(10.0), n=0)


def test_total_time_ranks_the_smallest_total_first():
    standings = ranking.rank_teams({"Amber": laps(10.0, 10.0), "Birch": laps(9.0, 10.5), "Cedar": laps(8.0)},
                                   ranking.TOTAL_TIME, n=2)
    assert [(s.team, s.rank) for s in standings] == [("Birch", 1), ("Amber", 2), ("Cedar", None)]
    assert standings[1].gap_s == pytest.approx(0.5)


# --- Attempt rules ----------------------------------------------------------------------------------


def test_laps_after_the_time_limit_do_not_count():
    recorded = [Lap(1, 40.0, ends_at_s=40.0), Lap(2, 41.0, ends_at_s=81.0), Lap(3, 39.0, ends_at_s=120.0),
                Lap(4, 7.0, ends_at_s=120.5), Lap(5, 8.0)]  # no ends_at_s: counts
    counted = ranking.laps_that_count(recorded, ranking.AttemptRules(time_limit_s=120.0))
    assert [lap.lap_number for lap in counted] == [1, 2, 3, 5]
    standings = ranking.rank_teams({"Amber": recorded}, ranking.BEST_LAP, 1,
                                   attempt_rules=ranking.AttemptRules(time_limit_s=120.0))
    assert standings[0].best_lap_s == pytest.approx(8.0)  # the 7.0 s lap ended after the limit


def test_laps_beyond_laps_per_attempt_and_attempts_beyond_the_allowance_do_not_count():
    recorded = laps(10.0, 9.0, 8.0, attempt=1) + laps(7.0, 6.0, attempt=2, start=4) + laps(5.0, attempt=3, start=6)
    recorded.append(Lap(2, 8.5, attempt=1))  # a duplicate shares its lap's place
    rules = ranking.AttemptRules(attempts_per_team=2, laps_per_attempt=2)
    counted = ranking.laps_that_count(recorded, rules)
    assert sorted((lap.attempt, lap.lap_number, lap.lap_time_s) for lap in counted) == [
        (1, 1, 10.0), (1, 2, 8.5), (1, 2, 9.0), (2, 4, 7.0), (2, 5, 6.0),
    ]
    # The defaults: one attempt (the first), unlimited laps.
    assert [(lap.attempt, lap.lap_number, lap.lap_time_s)
            for lap in ranking.laps_that_count(recorded, ranking.AttemptRules())] == [
        (1, 1, 10.0), (1, 2, 9.0), (1, 2, 8.5), (1, 3, 8.0),
    ]


def test_laps_without_an_attempt_do_not_use_up_the_allowance():
    # Laps typed in the admin before attempts existed, then an attempt on the timekeeper console.
    typed = laps(9.0, 9.5, 10.0)
    raced = laps(8.0, 8.5, attempt=41, start=4) + laps(7.0, attempt=42, start=6)
    counted = ranking.laps_that_count(typed + raced, ranking.AttemptRules(laps_per_attempt=1))
    assert [(lap.attempt, lap.lap_number) for lap in counted] == [(None, 1), (None, 2), (None, 3), (41, 4)]


def test_attempt_rules_refuse_nonsense():
    for bad in ({"time_limit_s": 0}, {"attempts_per_team": 0}, {"laps_per_attempt": 0}):
        with pytest.raises(ValueError):
            ranking.AttemptRules(**bad)


# --- Tie-break chain --------------------------------------------------------------------------------


def test_next_best_lap_breaks_a_best_lap_tie_and_says_so():
    standings = ranking.rank_teams(
        {"Birch": laps(7.7, 7.905, 8.2), "Amber": laps(7.812, 7.7, 9.9)}, ranking.BEST_LAP, n=1,
    )
    assert [(s.team, s.rank) for s in standings] == [("Amber", 1), ("Birch", 2)]
    assert standings[0].tie_break is None
    assert standings[1].tie_break == "Amber ahead on next best lap (7.812 s vs 7.905 s)"
    assert standings[1].tie_break_key == ranking.NEXT_BEST_LAP
    assert standings[1].gap_s == pytest.approx(0.0)


def test_a_team_with_a_next_best_lap_is_ahead_of_one_without():
    standings = ranking.rank_teams({"Amber": laps(8.0), "Birch": laps(8.0, 12.0)}, ranking.BEST_LAP, n=1)
    assert [s.team for s in standings] == ["Birch", "Amber"]
    assert standings[1].tie_break == "Birch ahead on next best lap (12.000 s vs none)"


def test_fewer_resets_over_the_scoring_laps_then_over_all_laps():
    # Same average and the same lap times; Birch's scoring laps had a reset (penalty 0 here).
    amber = laps(10.0, 10.0, 12.0, resets={3: 3})
    birch = laps(10.0, 10.0, 12.0, resets={1: 1})
    standings = ranking.rank_teams({"Birch": birch, "Amber": amber}, ranking.BEST_AVERAGE, n=2)
    assert [s.team for s in standings] == ["Amber", "Birch"]
    assert standings[1].tie_break == "Amber ahead on fewer resets (0 vs 1)"

    # Equal over the scoring laps: all laps decide.
    standings = ranking.rank_teams({"Amber": amber, "Birch": laps(10.0, 10.0, 12.0, resets={3: 1})},
                                   ranking.BEST_AVERAGE, n=2)
    assert [s.team for s in standings] == ["Birch", "Amber"]
    assert standings[1].tie_break == "Birch ahead on fewer resets over all laps (1 vs 3)"
    assert (standings[0].resets, standings[1].resets) == (1, 3)


def test_earliest_goes_to_who_completed_the_deciding_laps_first():
    def timed(offsets):
        return [Lap(n, 10.0, recorded=T0 + timedelta(seconds=s)) for n, s in enumerate(offsets, start=1)]

    # Amber's best run (its laps 1-2) was complete at +20 s; Birch's at +25 s, though Birch started first.
    standings = ranking.rank_teams({"Birch": timed([5, 25]), "Amber": timed([10, 20])}, ranking.BEST_AVERAGE, n=2)
    assert [s.team for s in standings] == ["Amber", "Birch"]
    assert standings[1].tie_break == "Amber ahead on setting the time first (14:00:20.000 vs 14:00:25.000)"
    # Without a recorded time a team counts as later.
    standings = ranking.rank_teams({"Amber": laps(10.0, 10.0), "Birch": timed([30, 40])}, ranking.BEST_AVERAGE, n=2)
    assert [s.team for s in standings] == ["Birch", "Amber"]


def test_the_chain_is_applied_in_the_order_given():
    amber = laps(9.0, 10.0, 12.0, resets={1: 1})
    birch = laps(9.0, 11.0, 12.0)
    teams = {"Amber": amber, "Birch": birch}
    assert [s.team for s in ranking.rank_teams(teams, ranking.BEST_LAP, 1)] == ["Amber", "Birch"]
    reordered = ranking.rank_teams(teams, ranking.BEST_LAP, 1, tie_breaks=("fewer_resets", "next_best_lap"))
    assert [s.team for s in reordered] == ["Birch", "Amber"]
    assert reordered[1].tie_break_key == "fewer_resets"


def test_more_laps_when_configured():
    standings = ranking.rank_teams(
        {"Amber": laps(8.0, 9.0), "Birch": laps(9.0, 8.0, 20.0, 30.0, invalid={4})},
        ranking.BEST_LAP, 1, tie_breaks=("more_laps",),
    )
    assert [s.team for s in standings] == ["Birch", "Amber"]
    assert standings[1].tie_break == "Birch ahead on more valid laps (3 vs 2)"


def test_teams_equal_after_the_whole_chain_share_a_rank():
    standings = ranking.rank_teams(
        {"Cedar": laps(9.0, 9.5), "Amber": laps(9.0, 9.5), "Birch": laps(8.0), "Dune": laps(9.0, 9.6)},
        ranking.BEST_LAP, 1,
    )
    assert [(s.team, s.rank, s.tie_break_key) for s in standings] == [
        ("Birch", 1, None), ("Amber", 2, None), ("Cedar", 2, None), ("Dune", 4, "next_best_lap"),
    ]
    # With no chain at all, equal scores share a rank.
    plain = ranking.rank_teams({"Amber": laps(9.0, 9.5), "Dune": laps(9.0, 9.6)}, ranking.BEST_LAP, 1, tie_breaks=())
    assert [s.rank for s in plain] == [1, 1]


def test_float_noise_does_not_split_a_tie():
    # 0.1 + 0.2 != 0.3 in floating point; lap times are compared at microsecond resolution.
    standings = ranking.rank_teams({"Amber": laps(0.1 + 0.2 + 9.0, 9.0), "Birch": laps(9.3, 9.0)},
                                   ranking.BEST_AVERAGE, 2, tie_breaks=())
    assert [s.rank for s in standings] == [1, 1]


def test_unknown_tie_breaks_and_rules_are_refused():
    with pytest.raises(ValueError, match="fastest_car"):
        ranking.rank_teams({"Amber": laps(9.0)}, ranking.BEST_LAP, 1, tie_breaks=("fastest_car",))
    with pytest.raises(ValueError):
        ranking.rank_teams({"Amber": laps(9.0)}, "quickest", 1)
    assert set(ranking.DEFAULT_TIE_BREAK) <= set(ranking.TIE_BREAKS)
