"""The league page (issue 12): per team the best virtual and physical laps side by side with the
sim-to-real gap (physical best / virtual best) and its Plotly chart, season standings from the
organisers' points table, and events listed by date."""

from __future__ import annotations

import json
import re

import pytest

from webapp.leagues import selectors
from webapp.leagues.models import Event, LapResult

from .results_support import laps, make_race, submit

pytestmark = pytest.mark.django_db


@pytest.fixture
def league(make_league):
    return make_league("Grand Series", points_table=[10, 6, 4])


def chart_data(page: str) -> list[dict]:
    match = re.search(r'<script id="gap-chart-data" type="application/json">(.*?)</script>', page, re.S)
    assert match, "no chart data on the page"
    return json.loads(match.group(1))


def test_virtual_and_physical_bests_side_by_side_with_the_gap_and_its_chart(client, league, team_a, team_b):
    virtual = make_race(league, "Sim race", kind=Event.Kind.VIRTUAL, teams=[team_a, team_b])
    physical = make_race(league, "Track day", teams=[team_a, team_b], off_track_penalty_s=2.0)
    submit(virtual, team_a, [6.0, 6.4])
    submit(virtual, team_b, [6.5])
    laps(physical, team_a, 7.8, 7.5)
    laps(physical, team_b, 6.0, resets=1)  # 6.0 + 2.0 s penalty = 8.0
    # A lap a car reports itself never counts on a physical board, nor here.
    LapResult.objects.create(event=physical, team=team_b, lap_number=9, lap_time_s=5.0,
                             source=LapResult.Source.AGENT)

    page = client.get(league.get_absolute_url()).content.decode()
    section = page.split("data-sim-to-real", 1)[1]
    alpha = section.split(f'data-team-row="{team_a.pk}"', 1)[1].split("</tr>", 1)[0]
    assert "6.000 s" in alpha and "7.500 s" in alpha and "× 1.25" in alpha
    bravo = section.split(f'data-team-row="{team_b.pk}"', 1)[1].split("</tr>", 1)[0]
    assert "6.500 s" in bravo and "8.000 s" in bravo and "× 1.23" in bravo
    assert section.index(f'data-team-row="{team_b.pk}"') < section.index(f'data-team-row="{team_a.pk}"')
    assert chart_data(page) == [
        {"team": "Team Bravo", "virtual": 6.5, "physical": 8.0, "gap": round(8.0 / 6.5, 4)},
        {"team": "Team Alpha", "virtual": 6.0, "physical": 7.5, "gap": 1.25},
    ]
    assert "/static/vendor/plotly/plotly.min.js" in page and "cdn" not in page.lower().split("<body", 1)[1]


def test_the_gap_uses_the_submission_each_team_picked(client, league, team_a):
    from webapp.leagues import results

    virtual = make_race(league, "Sim race", kind=Event.Kind.VIRTUAL, teams=[team_a])
    physical = make_race(league, "Track day", teams=[team_a])
    fast = submit(virtual, team_a, [5.0])
    submit(virtual, team_a, [6.0])  # the latest counts
    laps(physical, team_a, 7.5)
    assert chart_data(client.get(league.get_absolute_url()).content.decode())[0]["virtual"] == 6.0
    results.choose_submission(user=team_a.captain, submission=fast)
    assert chart_data(client.get(league.get_absolute_url()).content.decode())[0] == {
        "team": "Team Alpha", "virtual": 5.0, "physical": 7.5, "gap": 1.5}


def test_season_standings_from_the_points_table(client, league, team_a, team_b, make_team):
    team_c = make_team("Team Charlie")
    first = make_race(league, "Round 1", days=-10, teams=[team_a, team_b, team_c])
    second = make_race(league, "Round 2", days=-5, teams=[team_a, team_b, team_c])
    laps(first, team_a, 7.0)
    laps(first, team_b, 7.5)
    laps(first, team_c, 8.0)
    laps(second, team_c, 6.9)
    laps(second, team_b, 7.2)
    # Alpha 10 + 0, Bravo 6 + 6, Charlie 4 + 10: Charlie 14, Bravo 12, Alpha 10.
    page = client.get(league.get_absolute_url()).content.decode()
    season = page.split("data-season>", 1)[1].split("</section>", 1)[0]
    order = [int(pk) for pk in re.findall(r'data-season-team="(\d+)"', season)]
    assert order == [team_c.pk, team_b.pk, team_a.pk]
    charlie = season.split(f'data-season-team="{team_c.pk}"', 1)[1].split("</tr>", 1)[0]
    assert re.findall(r'<td class="num">(?:<strong>)?([\d–]+)', charlie)[:4] == ["1", "14", "4", "10"]
    alpha = season.split(f'data-season-team="{team_a.pk}"', 1)[1].split("</tr>", 1)[0]
    assert "<strong>10</strong>" in alpha and '<span class="muted">–</span>' in alpha  # not placed in Round 2
    assert "Points per finishing place: 10, 6, 4" in page


def test_events_are_listed_by_date_not_creation(client, league, team_a):
    later = make_race(league, "Later race", days=20)
    earlier = make_race(league, "Earlier race", days=2)
    middle = make_race(league, "Middle race", days=9)
    page = client.get(league.get_absolute_url()).content.decode()
    listed = [int(pk) for pk in re.findall(r'data-event="(\d+)"', page)]
    assert listed == [earlier.pk, middle.pk, later.pk]
    assert list(selectors.events_by_date(team_a.captain, league)) == [earlier, middle, later]
    # Two events starting together: by name.
    twin = make_race(league, "A twin", days=2)
    Event.objects.filter(pk=twin.pk).update(starts=earlier.starts)
    assert list(selectors.events_by_date(team_a.captain, league))[:2] == [twin, earlier]


def test_drafts_and_other_leagues_stay_off_the_page(client, league, make_league, team_a, make_user):
    from webapp.leagues.services import make_organiser

    draft = make_race(league, "Secret draft", teams=[team_a], status=Event.Status.DRAFT)
    laps(draft, team_a, 7.0)
    elsewhere = make_race(make_league("Other League"), "Elsewhere GP", teams=[team_a])
    laps(elsewhere, team_a, 6.0)
    page = client.get(league.get_absolute_url()).content.decode()
    assert "Secret draft" not in page and "7.000" not in page and "6.000" not in page
    organiser = make_user("olga")
    make_organiser(organiser, league)
    client.force_login(organiser)
    page = client.get(league.get_absolute_url()).content.decode()
    assert "Secret draft" in page and "7.000 s" in page and "6.000" not in page


def test_an_invite_only_league_page_is_not_found_for_others(client, make_league, team_a):
    from webapp.leagues.models import League

    private = make_league("Closed Club", visibility=League.Visibility.INVITE_ONLY)
    client.force_login(team_a.captain)
    assert client.get(private.get_absolute_url()).status_code == 404
    private.invited_teams.add(team_a)
    assert client.get(private.get_absolute_url()).status_code == 200
