"""CSV exports of an event's results and laps (organisers: everything; anyone else: what the pages
show), safe against spreadsheet formula injection, and the podium view (issue 12)."""

from __future__ import annotations

import csv
import io

import pytest
from django.urls import reverse

from webapp.leagues import rounds
from webapp.leagues.models import Event, LapResult, Round
from webapp.leagues.services import make_organiser

from .results_support import laps, make_race

pytestmark = pytest.mark.django_db


@pytest.fixture
def league(make_league):
    return make_league("Export Cup")


@pytest.fixture
def organiser(make_user, league):
    user = make_user("olga")
    make_organiser(user, league)
    return user


def rows_of(response):
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    return list(csv.reader(io.StringIO(response.content.decode())))


def url(name, event):
    return reverse(name, args=[event.league.slug, event.pk])


@pytest.mark.parametrize("name", ["=HYPERLINK(\"http://x\",\"y\")", "+1+2", "-3", "@SUM(A1)", "\tTab", "\rCR"])
def test_cells_a_spreadsheet_would_run_are_quoted(client, league, make_team, name):
    team = make_team("Injector")
    type(team).objects.filter(pk=team.pk).update(name=name)  # names are stripped by the form; not here
    team.refresh_from_db()
    event = make_race(league, "GP", teams=[team])
    laps(event, team, 8.0)
    for export in ("event_results_csv", "event_laps_csv"):
        rows = rows_of(client.get(url(export, event)))
        cells = [cell for row in rows[1:] for cell in row]
        assert "'" + name in cells and name not in cells
        assert not any(cell[:1] in ("=", "+", "@", "\t", "\r") for cell in cells)


def test_results_csv_has_the_standings_and_final_places(client, league, team_a, team_b, make_team):
    team_c = make_team("Team Charlie")
    event = make_race(league, "GP", teams=[team_a, team_b, team_c], off_track_penalty_s=2.0)
    laps(event, team_a, 8.0, 7.5)
    laps(event, team_b, 7.0, resets=1)  # 7.0 + 2.0 penalty = 9.0
    rows = rows_of(client.get(url("event_results_csv", event)))
    assert rows[0] == ["event_place", "round", "rank", "team", "score_s", "gap_s", "best_lap_s", "laps",
                       "valid_laps", "resets", "tie_break"]
    assert [(r[0], r[2], r[3], r[4]) for r in rows[1:]] == [
        ("1", "1", "Team Alpha", "7.500"), ("2", "2", "Team Bravo", "9.000"), ("", "", "Team Charlie", "")]
    assert rows[2][5] == "1.500"  # gap to the leader


def test_public_laps_csv_is_what_ranks_organisers_get_every_lap(client, league, team_a, organiser, make_user,
                                                                make_league):
    event = make_race(league, "GP", teams=[team_a])
    laps(event, team_a, 8.0)
    LapResult.objects.create(event=event, team=team_a, lap_number=2, lap_time_s=5.0,
                             source=LapResult.Source.AGENT, note="self-reported by the car")
    public = rows_of(client.get(url("event_laps_csv", event)))
    assert public[0] == ["team", "lap", "round", "attempt", "lap_time_s", "resets", "penalised_s", "valid",
                         "source", "recorded"]
    assert [(r[0], r[1], r[4]) for r in public[1:]] == [("Team Alpha", "1", "8.000")]
    assert "self-reported" not in str(public)
    # Another league's organiser gets the public export.
    stranger = make_user("otto")
    make_organiser(stranger, make_league("Other League"))
    client.force_login(stranger)
    assert rows_of(client.get(url("event_laps_csv", event))) == public

    client.force_login(organiser)
    private = rows_of(client.get(url("event_laps_csv", event)))
    assert private[0][-5:] == ["ranked", "invalidated_reason", "confirmed_implausible", "recorded_by", "note"]
    assert [(r[1], r[4], r[10], r[14]) for r in private[1:]] == [
        ("1", "8.000", "yes", ""), ("2", "5.000", "no", "self-reported by the car")]


def test_a_draft_events_exports_and_podium_are_not_found(client, league, team_a, organiser):
    event = make_race(league, "Draft GP", teams=[team_a], status=Event.Status.DRAFT)
    laps(event, team_a, 8.0)
    for name in ("event_results_csv", "event_laps_csv", "event_podium"):
        assert client.get(url(name, event)).status_code == 404
    client.force_login(organiser)
    assert client.get(url("event_podium", event)).status_code == 200


def test_podium_of_an_event_without_rounds_keeps_shared_places(client, league, make_team):
    teams = [make_team(f"Team {n}") for n in ("One", "Two", "Three", "Four", "Five")]
    event = make_race(league, "GP", teams=teams, tie_break="")
    for team, time_s in zip(teams, (7.0, 7.2, 7.4, 7.4, 7.9), strict=True):
        laps(event, team, time_s)
    page = client.get(url("event_podium", event)).content.decode()
    steps = page.split('class="podium-step')[1:]
    assert len(steps) == 3 and 'data-place="3"' in steps[2]
    assert "Team Three" in steps[2] and "Team Four" in steps[2] and "Team Five" not in page.split("data-podium")[1]
    assert "best lap 7.000 s" in steps[0]


def test_podium_of_a_raced_event_is_its_final_then_earlier_rounds(league, team_a, team_b, make_team, organiser):
    from webapp.leagues import selectors

    team_c, team_d = make_team("Team Charlie"), make_team("Team Delta")
    event = make_race(league, "GP", teams=[team_a, team_b, team_c, team_d])
    qualifying = rounds.create_round(user=organiser, event=event, name="Qualifying")
    final = rounds.create_round(user=organiser, event=event, name="Final", kind=Round.Kind.FINAL)
    for team, time_s in ((team_a, 7.0), (team_b, 7.1), (team_c, 7.2), (team_d, 7.3)):
        LapResult.objects.create(event=event, team=team, lap_number=1, lap_time_s=time_s, round=qualifying)
    rounds.seed_round(user=organiser, race_round=final, from_round=qualifying, size=2)
    LapResult.objects.create(event=event, team=team_a, lap_number=2, lap_time_s=7.6, round=final)
    LapResult.objects.create(event=event, team=team_b, lap_number=2, lap_time_s=7.4, round=final)
    podium = selectors.podium(event)
    assert [(step["place"], [entry["team"] for entry in step["teams"]]) for step in podium] == [
        (1, [team_b]), (2, [team_a]), (3, [team_c])]
    assert podium[0]["teams"][0]["best_lap_s"] == pytest.approx(7.1)  # the team's best lap of the event
