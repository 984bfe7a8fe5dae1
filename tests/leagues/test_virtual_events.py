"""Virtual events (issue 12): the entry is an evaluation the platform ran, a limit of submissions per
day, the team picks which submission counts (only its laps rank; the latest by default), and results
an organiser keeps hidden (a hidden final track) until they reveal them: page, podium, CSV, the live
board's document and the league page."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from webapp.evaluations.models import Submission
from webapp.leagues import boards, selectors
from webapp.leagues.models import Event, LapResult
from webapp.leagues.services import make_organiser

from .results_support import make_race, submit

pytestmark = pytest.mark.django_db


@pytest.fixture
def league(make_league):
    return make_league("Sim Series")


@pytest.fixture
def race(league, team_a, team_b):
    return make_race(league, "Virtual GP", kind=Event.Kind.VIRTUAL, teams=(team_a, team_b), submissions_per_day=5)


@pytest.fixture
def organiser(make_user, league):
    user = make_user("olga")
    make_organiser(user, league)
    return user


def best_of(event, team):
    return next(s.best_lap_s for s in selectors.leaderboard(event) if s.team == team)


# -- submissions per day ---------------------------------------------------------------------------------

def test_the_daily_limit_refuses_clearly_and_resets_the_next_day(race, team_a, team_b):
    race.submissions_per_day = 2
    race.save()
    submit(race, team_a, [10.0])
    submit(race, team_a, [11.0])
    with pytest.raises(ValidationError) as refused:
        submit(race, team_a, [9.0])
    message = " ".join(refused.value.messages)
    assert "Team Alpha has used its 2 submissions to Virtual GP for today" in message
    assert "the limit is 2 a day" in message and "submit again from" in message
    assert Submission.objects.filter(event=race).count() == 2
    assert not LapResult.objects.filter(event=race, lap_time_s=9.0).exists()  # nothing of it was kept
    submit(race, team_b, [12.0])  # the limit is per team
    # Yesterday's submissions do not count today.
    Submission.objects.filter(event=race, evaluation__team=team_a).update(created=race.starts - timedelta(days=1))
    submit(race, team_a, [9.0])
    assert Submission.objects.filter(event=race, evaluation__team=team_a).count() == 3


def test_the_refusal_reaches_the_team_through_the_evaluation_page(client, race, team_a):
    race.submissions_per_day = 1
    race.save()
    submit(race, team_a, [10.0])
    from .results_support import finished_evaluation

    evaluation = finished_evaluation(team_a, [9.5])
    client.force_login(team_a.captain)
    response = client.post(f"/teams/{team_a.slug}/evaluations/{evaluation.pk}/submit/", {"event": race.pk},
                           follow=True)
    assert "has used its 1 submission to Virtual GP for today" in response.content.decode()
    assert not Submission.objects.filter(evaluation=evaluation).exists()


def test_submitted_laps_are_linked_to_their_submission(race, team_a):
    submission = submit(race, team_a, [10.0, None, 10.4])
    assert sorted(lap.lap_number for lap in submission.laps.all()) == [1, 2, 3]
    assert [lap.valid for lap in submission.laps.order_by("lap_number")] == [True, False, True]


# -- which submission counts ---------------------------------------------------------------------------

def test_only_the_counting_submission_ranks_latest_by_default_then_the_picked_one(client, race, team_a, team_b):
    early = submit(race, team_a, [10.0, 10.2])
    submit(race, team_a, [11.0, 12.0])  # the latest: counts until the team picks
    submit(race, team_b, [10.5])
    assert best_of(race, team_a) == pytest.approx(11.0)
    assert [s.team for s in selectors.leaderboard(race)][:2] == [team_b, team_a]
    version = Event.objects.get(pk=race.pk).board_version

    client.force_login(team_a.captain)
    page = client.get(reverse("event_submissions", args=[race.league.slug, race.pk])).content.decode()
    assert page.count("data-submission=") == 2 and "Count this one" in page
    response = client.post(reverse("submission_choose", args=[race.league.slug, race.pk, early.pk]), follow=True)
    assert response.status_code == 200
    race.refresh_from_db()
    assert race.board_version > version  # open boards hear of it
    assert best_of(race, team_a) == pytest.approx(10.0)
    assert [s.team for s in selectors.leaderboard(race)][0] == team_a
    rows = boards.cached_board(race)["rows"]
    assert rows[0]["team"] == "Team Alpha" and rows[0]["laps"] == 2  # the other submission's laps are out
    # A newer submission does not take over a picked one.
    submit(race, team_a, [9.0])
    assert best_of(race, team_a) == pytest.approx(10.0)


def test_another_team_cannot_pick_or_see_a_teams_submissions(client, race, team_a, team_b):
    theirs = submit(race, team_a, [10.0])
    submit(race, team_a, [11.0])
    client.force_login(team_b.captain)
    page = client.get(reverse("event_submissions", args=[race.league.slug, race.pk])).content.decode()
    assert f'data-submission="{theirs.pk}"' not in page and "Team Bravo" in page
    response = client.post(reverse("submission_choose", args=[race.league.slug, race.pk, theirs.pk]))
    assert response.status_code == 404
    assert not Submission.objects.filter(counts=True).exists()


def test_a_closed_event_keeps_its_entries(client, race, team_a):
    early = submit(race, team_a, [10.0])
    submit(race, team_a, [11.0])
    Event.objects.filter(pk=race.pk).update(status=Event.Status.FINISHED)
    client.force_login(team_a.captain)
    response = client.post(reverse("submission_choose", args=[race.league.slug, race.pk, early.pk]), follow=True)
    assert "closed" in response.content.decode()
    assert best_of(race, team_a) == pytest.approx(11.0)


# -- hidden results ------------------------------------------------------------------------------------

@pytest.fixture
def hidden_final(race, team_a, team_b):
    race.results_revealed = False
    race.hidden_track = "pitlane_hairpin"
    race.save()
    submit(race, team_a, [10.0])
    submit(race, team_b, [10.5])
    return race


def results_urls(event):
    args = [event.league.slug, event.pk]
    return {name: reverse(name, args=args) for name in ("event_podium", "event_results_csv", "event_laps_csv")}


def test_hidden_results_show_to_organisers_only_everywhere(client, hidden_final, team_a, organiser, make_user,
                                                          make_league):
    urls = results_urls(hidden_final)
    for who in (None, team_a.captain):  # the public, and a racing team
        client.logout()
        if who:
            client.force_login(who)
        assert client.get(urls["event_results_csv"]).status_code == 403
        assert client.get(urls["event_laps_csv"]).status_code == 403
        podium = client.get(urls["event_podium"]).content.decode()
        assert "data-results-hidden" in podium and "data-podium-team" not in podium
        page = client.get(hidden_final.get_absolute_url()).content.decode()
        assert "10.000" not in page and "pitlane_hairpin" not in page
        league_page = client.get(hidden_final.league.get_absolute_url()).content.decode()
        assert "data-season-team" not in league_page and "10.000" not in league_page
    document = boards.cached_board(hidden_final, private=False)
    assert document["hidden"] is True and document["rows"] == []
    # Another league's organiser is the public here.
    stranger = make_user("otto")
    make_organiser(stranger, make_league("Other League"))
    client.force_login(stranger)
    assert client.get(urls["event_results_csv"]).status_code == 403

    client.force_login(organiser)
    assert f'data-podium-team="{team_a.pk}"' in client.get(urls["event_podium"]).content.decode()
    assert "Team Alpha" in client.get(urls["event_results_csv"]).content.decode()
    assert "data-season-team" in client.get(hidden_final.league.get_absolute_url()).content.decode()
    assert "pitlane_hairpin" in client.get(hidden_final.get_absolute_url()).content.decode()


def test_only_the_leagues_organisers_reveal_and_open_boards_update(client, hidden_final, team_a, organiser,
                                                                   make_user, make_league):
    url = reverse("event_reveal", args=[hidden_final.league.slug, hidden_final.pk])
    stranger = make_user("otto")
    make_organiser(stranger, make_league("Other League"))
    for who in (team_a.captain, stranger):
        client.force_login(who)
        assert client.post(url, {"revealed": "1"}).status_code == 404
    hidden_final.refresh_from_db()
    assert not hidden_final.results_revealed
    assert client.get(url).status_code == 405  # a GET changes nothing
    version = hidden_final.board_version

    client.force_login(organiser)
    response = client.post(url, {"revealed": "1"})
    assert response.status_code == 302
    hidden_final.refresh_from_db()
    assert hidden_final.results_revealed and hidden_final.board_version > version
    document = boards.cached_board(hidden_final, private=False)  # what the socket sends the public now
    assert document["hidden"] is False and [row["team"] for row in document["rows"]] == ["Team Alpha", "Team Bravo"]
    client.logout()
    assert client.get(results_urls(hidden_final)["event_results_csv"]).status_code == 200
    # And hidden again.
    client.force_login(organiser)
    client.post(url, {"revealed": "0"})
    assert boards.cached_board(Event.objects.get(pk=hidden_final.pk), private=False)["hidden"] is True


@pytest.mark.django_db(transaction=True)
def test_the_migration_links_earlier_submissions_to_their_laps():
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor
    from django.utils import timezone

    executor = MigrationExecutor(connection)
    # Evaluations as before the migration; every other app as it is now.
    before = [node for node in executor.loader.graph.leaf_nodes() if node[0] != "evaluations"]
    before.append(("evaluations", "0004_evaluation_trial_variation"))
    executor.migrate(before)
    old = executor.loader.project_state(before).apps
    Team, TrainedModel = old.get_model("accounts", "Team"), old.get_model("garage", "TrainedModel")
    League, Event_, Lap = (old.get_model("leagues", name) for name in ("League", "Event", "LapResult"))
    Evaluation, Submission_ = old.get_model("evaluations", "Evaluation"), old.get_model("evaluations", "Submission")
    team = Team.objects.create(name="Alpha", slug="alpha")
    now = timezone.now()
    event = Event_.objects.create(league=League.objects.create(name="L", slug="l"), name="E", track="t",
                                  starts=now, ends=now, kind="virtual")
    model = TrainedModel.objects.create(team=team, name="M", status="ready", card={}, config={})
    evaluations = [Evaluation.objects.create(team=team, model=model, track="t", profile="deepracer")
                   for _ in range(2)]
    for number, (evaluation, trial) in enumerate(((evaluations[0], 1), (evaluations[0], 2), (evaluations[1], 1)),
                                                 start=1):
        Lap.objects.create(event=event, team=team, lap_number=number, lap_time_s=10.0 + number, source="evaluation",
                           note=f"Evaluation {evaluation.pk}, trial {trial}")
    Lap.objects.create(event=event, team=team, lap_number=4, lap_time_s=9.0, source="organiser",
                       note=f"Evaluation {evaluations[0].pk}, trial 9 (typed)")
    first, second = (Submission_.objects.create(evaluation=e, event=event, lap_count=1) for e in evaluations)

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())
    assert sorted(Submission.objects.get(pk=first.pk).laps.values_list("lap_number", flat=True)) == [1, 2]
    assert list(Submission.objects.get(pk=second.pk).laps.values_list("lap_number", flat=True)) == [3]
