"""Season standings across a league's events, as a plain function (no database)."""

import pytest

from webapp.leagues import brackets, season

F1 = [25, 18, 15, 12, 10, 8, 6, 4, 2, 1]


def table(standings):
    return [(s.rank, s.team, s.points) for s in standings]


def test_points_per_place_and_ties_share_the_points_of_the_places_they_span():
    standings = season.season_standings([["A", ["B", "C"], "D"]], [25, 18, 15, 12])
    assert table(standings) == [(1, "A", 25), (2, "B", 16.5), (2, "C", 16.5), (4, "D", 12)]
    assert [s.finishes for s in standings] == [[1], [2], [2], [4]]  # D's place skips past the tie


def test_points_add_up_over_events_and_places_past_the_table_earn_nothing():
    standings = season.season_standings([["A", "B", "C"], ["C", "A"], ["B", "C", "A"]], [10, 5])
    # All on 15 points and one win each; one 2nd place each; A and C also have a 3rd place (countback),
    # and are equal all through, so they share 1st.
    assert table(standings) == [(1, "A", 15), (1, "C", 15), (3, "B", 15)]
    by_team = {s.team: s for s in standings}
    assert (by_team["A"].points, by_team["A"].points_by_event, by_team["A"].events) == (15, [10, 5, 0], 3)
    assert (by_team["C"].points, by_team["C"].finishes) == (15, [3, 1, 2])
    assert (by_team["B"].points, by_team["B"].finishes, by_team["B"].wins) == (15, [2, 1], 1)


def test_equal_points_go_to_more_wins_then_more_second_places():
    events = [["E", "D", "B"], ["C", "A", "B", "D"]]
    # Points 10-6-5-4: C and E win once (10); D is 2nd and 4th (6 + 4); B is 3rd twice (5 + 5); A 6.
    standings = season.season_standings(events, [10, 6, 5, 4])
    assert [(s.rank, s.team, s.points) for s in standings] == [
        (1, "C", 10), (1, "E", 10), (3, "D", 10), (4, "B", 10), (5, "A", 6),
    ]
    assert [s.best_finish for s in standings] == [1, 1, 2, 3, 2]


def test_identical_records_share_a_rank():
    standings = season.season_standings([["A", "B"], ["B", "A"], ["C"]], [10, 5])
    assert table(standings) == [(1, "A", 15), (1, "B", 15), (3, "C", 10)]


def test_a_bracket_ranking_feeds_the_season_table():
    bracket = brackets.single_elimination(list(range(1, 9)))
    results = {}
    while True:
        matches = brackets.advance(bracket, results)
        ready = [m for m in matches if m.is_ready]
        if not ready:
            break
        results.update({m.key: min(m.team_a, m.team_b) for m in ready})
    places = brackets.final_ranking(bracket, results)  # [[1], [2], [3, 4], [5, 6, 7, 8]]
    points = {s.team: s.points for s in season.season_standings([places], F1)}
    # 3rd and 4th share (15 + 12) / 2; the four quarter-final losers share 5th-8th: (10 + 8 + 6 + 4) / 4.
    assert points == {1: 25, 2: 18, 3: 13.5, 4: 13.5, 5: 7, 6: 7, 7: 7, 8: 7}
    assert sum(points.values()) == sum(F1[:8])  # a tie hands out exactly the points of the places it spans


def test_shared_points_average_the_places_spanned():
    assert season.shared_points(5, 4, F1) == 7 and isinstance(season.shared_points(5, 4, F1), int)
    assert season.shared_points(1, 2, F1) == 21.5
    assert season.shared_points(1, 1, F1) == 25
    assert season.shared_points(9, 3, F1) == 1  # (2 + 1 + 0) / 3: places past the table earn nothing
    assert season.shared_points(2, 3, [10, 5, 1]) == 2  # (5 + 1 + 0) / 3
    assert season.shared_points(1, 3, [10, 5, 2]) == 5.67
    with pytest.raises(ValueError):
        season.shared_points(1, 0, F1)


def test_a_team_placed_twice_in_one_event_is_refused():
    with pytest.raises(ValueError, match="twice"):
        season.season_standings([["A", ["B", "A"]]], F1)


def test_points_table_rule_for_the_form():
    season.check_points_table(F1)
    for bad in ([], [10, -1], [10, 12, 8]):
        with pytest.raises(ValueError):
            season.check_points_table(bad)
