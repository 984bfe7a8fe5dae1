"""The rounds page of an event (webapp.leagues.views_rounds): the public view of rounds, standings,
brackets and the final ranking; hidden results stay hidden; organisers create, seed and decide from
the page; another league's organiser gets 404 from every action."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.leagues.helpers import RaceClock, drive
from webapp.leagues import rounds
from webapp.leagues.models import Event, Heat, League, Round
from webapp.leagues.services import make_organiser

T0 = timezone.now().replace(microsecond=0)


@pytest.fixture
def race_day(make_league, make_event, make_user, make_team):
    league = make_league()
    organiser = make_user("org")
    make_organiser(organiser, league)
    event = make_event(league, kind=Event.Kind.PHYSICAL, ranking_rule="best_lap", status=Event.Status.RUNNING)
    teams = [make_team(f"Team {i:02d}") for i in range(1, 7)]
    for team in teams:
        event.registrations.create(team=team)
    return organiser, event, teams


def url(name, event, *args):
    return reverse(name, args=[event.league.slug, event.pk, *args])


@pytest.fixture
def qualified(race_day):
    organiser, event, teams = race_day
    clock = RaceClock(T0)
    qualifying = rounds.create_round(user=organiser, event=event, name="Qualifying")
    for index, team in enumerate(teams):
        drive(organiser, event, team, [8.0 + index * 0.1], clock, race_round=qualifying)
    return organiser, event, teams, qualifying, clock


@pytest.mark.django_db
def test_the_public_page_shows_standings_and_a_bracket_with_byes_and_placeholders(client, qualified):
    organiser, event, teams, qualifying, clock = qualified
    knockout = rounds.create_round(user=organiser, event=event, name="Knockout", kind=Round.Kind.SINGLE_ELIMINATION)
    rounds.seed_round(user=organiser, race_round=knockout, from_round=qualifying)
    html = client.get(url("event_rounds", event)).content.decode()
    assert "Qualifying" in html and "Single elimination" in html and "Finished" in html
    assert f'data-team-id="{teams[0].pk}"><td class="rank">1</td>' in html
    # 6 teams in a bracket of 8: seeds 1 and 2 get byes, later rounds wait for winners.
    assert html.count("<span class=\"name muted\">Bye</span>") == 2
    assert "Winner of W1-3" in html or "Winner of W1-2" in html
    assert 'data-bracket-column="Quarter-finals"' in html and 'data-bracket-column="Final"' in html
    # The public sees no organiser controls.
    assert "data-round-create" not in html and "data-decide" not in html and "data-seed-form" not in html


@pytest.mark.django_db
def test_an_organiser_creates_seeds_and_decides_to_a_final_ranking(client, qualified):
    organiser, event, teams, qualifying, clock = qualified
    client.force_login(organiser)
    response = client.post(url("round_create", event), {"name": "Knockout", "kind": "single_elimination"})
    assert response.status_code == 302 and response.url == url("event_rounds", event)
    knockout = Round.objects.get(event=event, name="Knockout")
    client.post(url("round_seed", event, knockout.pk), {"from_round": qualifying.pk, "size": "4"})
    knockout.refresh_from_db()
    assert knockout.seeding == [team.pk for team in teams[:4]]
    page = client.get(url("event_rounds", event)).content.decode()
    assert page.count("data-heat=") == 2  # the two semi-finals are ready to race ...
    assert page.count("data-decide=") == 0 and page.count("not raced yet") == 2  # ... and not raced yet
    for _ in range(2):
        for heat in Heat.objects.filter(round=knockout, winner__isnull=True).exclude(team_a=None).exclude(team_b=None):
            drive(organiser, event, heat.team_a, [7.5], clock, race_round=knockout, heat=heat)
            drive(organiser, event, heat.team_b, [7.8], clock, race_round=knockout, heat=heat)
            response = client.post(url("heat_decide", event, heat.pk), follow=True)
            assert f"{heat.key}: {heat.team_a.name} goes through." in response.content.decode()
    knockout.refresh_from_db()
    assert knockout.status == Round.Status.FINISHED
    html = client.get(url("event_rounds", event)).content.decode()
    assert "data-event-ranking" in html
    first = f'<span class="place">1</span> <span class="teams"><span class="team" data-place-team="{teams[0].pk}">'
    assert first in html
    assert "data-winner" in html and "data-decide=" not in html
    # Each raced match shows both teams' heat times: the final's 7.500 (winner) and 7.800.
    final = html.split('data-match="W2-1"')[1].split("</li>")[0]
    assert '<span class="time">7.500</span>' in final and '<span class="time">7.800</span>' in final


@pytest.mark.django_db
def test_a_rerun_heat_shows_and_decides_on_the_same_laps(client, qualified):
    organiser, event, teams, qualifying, clock = qualified
    event.tie_break = "next_best_lap"
    event.save()
    knockout = rounds.create_round(user=organiser, event=event, name="KO", kind=Round.Kind.SINGLE_ELIMINATION)
    rounds.seed_round(user=organiser, race_round=knockout, from_round=qualifying, size=2)
    heat = Heat.objects.get(round=knockout)
    drive(organiser, event, heat.team_a, [8.0], clock, race_round=knockout, heat=heat)
    drive(organiser, event, heat.team_b, [8.0], clock, race_round=knockout, heat=heat)
    drive(organiser, event, heat.team_b, [7.4], clock, race_round=knockout, heat=heat)  # the re-run
    client.force_login(organiser)
    html = client.get(url("event_rounds", event)).content.decode()
    assert f"{heat.team_b.name}: 2 laps, 7.400 s" in html  # the re-run's lap counts on the page ...
    client.post(url("heat_decide", event, heat.pk))
    heat.refresh_from_db()
    assert heat.winner == heat.team_b  # ... as it does for the decision


@pytest.mark.django_db
def test_a_refused_action_says_why(client, qualified):
    organiser, event, teams, qualifying, clock = qualified
    client.force_login(organiser)
    knockout = rounds.create_round(user=organiser, event=event, name="KO", kind=Round.Kind.SINGLE_ELIMINATION)
    rounds.seed_round(user=organiser, race_round=knockout, from_round=qualifying, size=2)
    heat = Heat.objects.get(round=knockout)
    response = client.post(url("heat_decide", event, heat.pk), follow=True)  # nobody raced yet
    assert "is tied (or has no score): race it again" in response.content.decode()
    response = client.post(url("round_create", event), {"name": "G", "kind": "groups"}, follow=True)
    assert "Say how many groups." in response.content.decode()
    response = client.post(url("round_create", event), {"name": "G", "kind": "groups", "group_count": "x"},
                           follow=True)
    assert "must be a whole number" in response.content.decode()
    assert not Round.objects.filter(name="G").exists()


@pytest.mark.django_db
def test_hidden_results_stay_hidden_from_the_public(client, qualified, make_user):
    organiser, event, teams, qualifying, clock = qualified
    knockout = rounds.create_round(user=organiser, event=event, name="KO", kind=Round.Kind.SINGLE_ELIMINATION)
    rounds.seed_round(user=organiser, race_round=knockout, from_round=qualifying)
    event.results_revealed = False
    event.save()
    html = client.get(url("event_rounds", event)).content.decode()
    assert "data-results-hidden" in html and "KO" in html
    for team in teams:
        assert team.name not in html
    assert "class=\"bracket\"" not in html and "data-standings" not in html
    client.force_login(organiser)
    html = client.get(url("event_rounds", event)).content.decode()
    assert "data-private-note" in html and teams[0].name in html and "class=\"bracket\"" in html


@pytest.mark.django_db
def test_another_leagues_organiser_gets_404_from_every_action(client, qualified, make_user, make_league):
    organiser, event, teams, qualifying, clock = qualified
    knockout = rounds.create_round(user=organiser, event=event, name="KO", kind=Round.Kind.SINGLE_ELIMINATION)
    rounds.seed_round(user=organiser, race_round=knockout, from_round=qualifying, size=2)
    heat = Heat.objects.get(round=knockout)
    drive(organiser, event, heat.team_a, [7.5], clock, race_round=knockout, heat=heat)
    drive(organiser, event, heat.team_b, [7.8], clock, race_round=knockout, heat=heat)
    other = make_user("other-org")
    make_organiser(other, make_league("Other League"))
    client.force_login(other)
    assert client.post(url("round_create", event), {"name": "X", "kind": "qualifying"}).status_code == 404
    assert client.post(url("round_seed", event, knockout.pk), {"from_round": qualifying.pk}).status_code == 404
    assert client.post(url("heat_decide", event, heat.pk)).status_code == 404
    heat.refresh_from_db()
    assert heat.winner is None and Round.objects.filter(event=event).count() == 2
    # A heat or round of another event, named under this organiser's own event, is a 404 too.
    own_league = League.objects.get(name="Other League")
    own = Event.objects.create(league=own_league, name="Mine", track="t", starts=T0, ends=T0 + timedelta(hours=1))
    assert client.post(url("heat_decide", own, heat.pk)).status_code == 404
    assert client.post(url("round_seed", own, knockout.pk), {"from_round": qualifying.pk}).status_code == 404
    # The page itself shows them no controls (and a private league's page is a 404).
    html = client.get(url("event_rounds", event)).content.decode()
    assert "data-round-create" not in html and "data-decide" not in html
    League.objects.filter(pk=event.league.pk).update(visibility=League.Visibility.INVITE_ONLY)
    assert client.get(url("event_rounds", event)).status_code == 404


@pytest.mark.django_db
def test_actions_need_post_and_a_csrf_token(qualified):
    from django.test import Client

    organiser, event, teams, qualifying, clock = qualified
    checked = Client(enforce_csrf_checks=True)
    checked.force_login(organiser)
    assert checked.get(url("round_create", event)).status_code == 405
    assert checked.post(url("round_create", event), {"name": "X", "kind": "qualifying"}).status_code == 403
    assert not Round.objects.filter(name="X").exists()


@pytest.mark.django_db
def test_a_timekeeper_decides_heats_but_does_not_create_rounds(client, qualified, make_user):
    organiser, event, teams, qualifying, clock = qualified
    keeper = make_user("keeper")
    event.timekeepers.add(keeper)
    knockout = rounds.create_round(user=organiser, event=event, name="KO", kind=Round.Kind.SINGLE_ELIMINATION)
    rounds.seed_round(user=organiser, race_round=knockout, from_round=qualifying, size=2)
    heat = Heat.objects.get(round=knockout)
    drive(organiser, event, heat.team_a, [7.9], clock, race_round=knockout, heat=heat)
    drive(organiser, event, heat.team_b, [7.5], clock, race_round=knockout, heat=heat)
    client.force_login(keeper)
    assert client.post(url("round_create", event), {"name": "X", "kind": "qualifying"}).status_code == 404
    html = client.get(url("event_rounds", event)).content.decode()
    assert "data-decide=" in html and "data-round-create" not in html
    client.post(url("heat_decide", event, heat.pk))
    heat.refresh_from_db()
    assert heat.winner == heat.team_b


@pytest.mark.django_db
def test_a_double_elimination_bracket_is_drawn_winners_then_losers_then_finals(qualified):
    from webapp.leagues.views_rounds import bracket_columns

    organiser, event, teams, qualifying, clock = qualified
    bracket = rounds.create_round(user=organiser, event=event, name="DE", kind=Round.Kind.DOUBLE_ELIMINATION)
    rounds.seed_round(user=organiser, race_round=bracket, from_round=qualifying, size=4)
    columns = bracket_columns(bracket)
    assert [c.title for c in columns] == ["Winners semi-finals", "Winners final", "Losers round 1",
                                          "Losers round 2", "Grand final", "Grand final reset (if needed)"]
    assert [m["key"] for m in columns[2].matches] == ["L1-1"]
    assert [s["source"] for s in columns[2].matches[0]["sides"]] == ["Loser of W1-1", "Loser of W1-2"]
    # A seeded-but-unraced grand final shows where its teams come from.
    grand = columns[-2].matches[0]
    assert [s["team"] for s in grand["sides"]] == [None, None] and not grand["ready"]
    assert [s["source"] for s in grand["sides"]] == ["Winner of W2-1", "Winner of L2-1"]
    # Race it to the grand final; the winners-bracket team wins it, so the reset match is dropped.
    for _ in range(10):  # 6 heats: W1-1, W1-2, W2-1, L1-1, L2-1, GF
        heat = Heat.objects.filter(round=bracket, winner__isnull=True).exclude(team_a=None).exclude(team_b=None) \
            .order_by("pk").first()
        if heat is None:
            break
        drive(organiser, event, heat.team_a, [7.5], clock, race_round=bracket, heat=heat)
        drive(organiser, event, heat.team_b, [7.8], clock, race_round=bracket, heat=heat)
        rounds.decide_heat(user=organiser, heat=heat)
    columns = bracket_columns(bracket)
    assert columns[-1].title == "Grand final" and columns[-1].matches[0]["decided"]
    bracket.refresh_from_db()
    assert bracket.status == Round.Status.FINISHED


@pytest.mark.django_db
def test_a_group_round_shows_each_groups_standings(client, qualified):
    organiser, event, teams, qualifying, clock = qualified
    groups = rounds.create_round(user=organiser, event=event, name="Groups", kind=Round.Kind.GROUPS, group_count=2)
    rounds.seed_round(user=organiser, race_round=groups, from_round=qualifying)
    for team in teams[:2]:
        drive(organiser, event, team, [7.7], clock, race_round=groups)
    html = client.get(url("event_rounds", event)).content.decode()
    assert 'data-group="1"' in html and 'data-group="2"' in html
    group_one = html.split('data-group="1"')[1].split('data-group="2"')[0]
    # Snake seeding: seeds 1, 4, 5 in group 1; seed 1 raced, the others not yet.
    assert teams[0].name in group_one and teams[3].name in group_one and teams[1].name not in group_one
    assert "7.700 s" in group_one
