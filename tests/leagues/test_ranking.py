"""Ranking rules as plain functions (no database), and the leaderboard built from stored laps."""

from dataclasses import dataclass

import pytest

from webapp.leagues import ranking
from webapp.leagues.models import Event, LapResult
from webapp.leagues.selectors import leaderboard
from webapp.leagues.services import record_lap


@dataclass
class Lap:
    lap_number: int
    lap_time_s: float
    resets: int = 0
    valid: bool = True


def laps(*times, invalid=(), resets=None):
    resets = resets or {}
    return [Lap(n, t, resets.get(n, 0), n not in invalid) for n, t in enumerate(times, start=1)]


def test_best_lap_ignores_invalid_laps():
    score = ranking.best_lap(laps(12.0, 9.0, 10.0, invalid={2}))
    assert score == ranking.Score(10.0, (3,))


def test_best_lap_adds_the_reset_penalty():
    score = ranking.best_lap(laps(10.0, 11.0, resets={1: 1}), penalty_s=2.0)
    assert score == ranking.Score(11.0, (2,))  # lap 1 counts 12.0


def test_best_lap_without_valid_laps_has_no_score():
    assert ranking.best_lap(laps(10.0, invalid={1})) is None
    assert ranking.best_lap([]) is None


def test_best_average_picks_the_fastest_window():
    score = ranking.best_average(laps(12.0, 10.0, 11.0, 9.0, 13.0), n=3)
    assert score.laps == (2, 3, 4)
    assert score.time_s == pytest.approx(10.0)


def test_an_invalid_lap_breaks_the_run():
    # 2, 3, 4 would be fastest, but lap 3 is invalid: only 4, 5, 6 remain.
    score = ranking.best_average(laps(20.0, 9.0, 9.0, 9.5, 10.0, 10.5, invalid={3}), n=3)
    assert score.laps == (4, 5, 6)
    assert score.time_s == pytest.approx(10.0)


def test_a_gap_in_lap_numbers_breaks_the_run():
    gapped = [Lap(1, 10.0), Lap(2, 10.0), Lap(4, 10.0), Lap(5, 10.0)]
    assert ranking.best_average(gapped, n=3) is None
    assert ranking.best_average(gapped, n=2).laps == (1, 2)


def test_too_few_consecutive_laps_has_no_score():
    assert ranking.best_average(laps(10.0, 10.0), n=3) is None
    assert ranking.first_consecutive(laps(10.0, 10.0, 10.0, invalid={2}), n=2) is None


def test_first_consecutive_takes_the_earliest_run_not_the_fastest():
    score = ranking.first_consecutive(laps(12.0, 11.0, 13.0, 9.0, 9.0), n=2)
    assert score.laps == (1, 2)
    assert score.time_s == pytest.approx(11.5)


def test_first_consecutive_skips_past_an_invalid_start():
    score = ranking.first_consecutive(laps(8.0, 12.0, 11.0, 9.0, invalid={1}), n=2)
    assert score.laps == (2, 3)
    assert score.time_s == pytest.approx(11.5)


def test_averages_include_penalties():
    score = ranking.best_average(laps(10.0, 10.0, resets={2: 2}), n=2, penalty_s=1.5)
    assert score.time_s == pytest.approx(11.5)


def test_laps_arrive_in_any_order():
    shuffled = [Lap(3, 9.0), Lap(1, 10.0), Lap(2, 11.0)]
    assert ranking.first_consecutive(shuffled, n=3).laps == (1, 2, 3)


def test_unknown_rule_and_bad_n_are_errors():
    with pytest.raises(ValueError):
        ranking.score("fastest_ever", laps(10.0), n=1)
    with pytest.raises(ValueError):
        ranking.best_average(laps(10.0), n=0)


def test_rank_teams_orders_shares_ties_and_puts_unscored_last():
    standings = ranking.rank_teams(
        {"Cobalt": laps(10.0), "Amber": laps(9.0), "Birch": laps(10.0), "Dune": laps(8.0, invalid={1}), "Elm": []},
        ranking.BEST_LAP, n=1,
    )
    assert [(s.team, s.rank) for s in standings] == [
        ("Amber", 1), ("Birch", 2), ("Cobalt", 2), ("Dune", None), ("Elm", None),
    ]
    dune = standings[3]
    assert (dune.lap_count, dune.valid_lap_count, dune.best_lap_s) == (1, 0, None)


@pytest.mark.django_db
def test_leaderboard_of_an_event_uses_its_rule(make_league, make_event, team_a, team_b, make_team):
    event = make_event(make_league(), ranking_rule=Event.RankingRule.BEST_AVERAGE, consecutive_laps=2,
                       off_track_penalty_s=2.0, max_resets_per_lap=1)
    for n, t in enumerate([10.0, 10.0, 30.0], start=1):
        LapResult.objects.create(event=event, team=team_a, lap_number=n, lap_time_s=t)
    # Laps with resets go through the service that applies the event's race rules.
    event.registrations.create(team=team_b)
    record_lap(event=event, team=team_b, lap_number=1, lap_time_s=9.0, resets=1)
    record_lap(event=event, team=team_b, lap_number=2, lap_time_s=9.0)
    record_lap(event=event, team=team_b, lap_number=3, lap_time_s=5.0, resets=2)  # too many resets
    registered_only = make_team("Team Charlie")
    event.registrations.create(team=registered_only)

    standings = leaderboard(event)
    # Both average 10.0 s over two laps; the default tie-break chain starts with the next best lap,
    # and Bravo's best single lap (9.0 s) beats Alpha's (10.0 s).
    assert [(s.team.name, s.rank) for s in standings] == [
        ("Team Bravo", 1), ("Team Alpha", 2), ("Team Charlie", None),
    ]
    bravo, alpha = standings[0], standings[1]
    assert bravo.score.time_s == pytest.approx(10.0) and bravo.valid_lap_count == 2
    assert alpha.tie_break == "Team Bravo ahead on best lap (9.000 s vs 10.000 s)"
    assert alpha.gap_s == pytest.approx(0.0) and bravo.resets == 3
    assert LapResult.objects.get(team=team_b, lap_number=3).valid is False
