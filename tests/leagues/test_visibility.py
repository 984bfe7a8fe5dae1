"""Who sees which leagues and events: spectators see public ones; invite-only leagues show only to
invited teams' members and their organisers; drafts only to organisers."""

import pytest
from django.urls import reverse

from webapp.leagues.models import Event, LapResult, League

pytestmark = pytest.mark.django_db


@pytest.fixture
def leagues(make_league, make_event, team_a):
    public = make_league("Open Cup")
    private = make_league("Private Cup", visibility=League.Visibility.INVITE_ONLY)
    private.invited_teams.add(team_a)
    return public, private, make_event(public, "Open Round"), make_event(private, "Private Round")


def test_spectators_see_public_leagues_events_and_leaderboards(client, leagues, team_b):
    public, private, event, _ = leagues
    LapResult.objects.create(event=event, team=team_b, lap_number=1, lap_time_s=12.345)
    listing = client.get(reverse("league_list")).content.decode()
    assert "Open Cup" in listing and "Private Cup" not in listing
    assert "Open Round" in client.get(public.get_absolute_url()).content.decode()
    page = client.get(event.get_absolute_url()).content.decode()
    assert "12.345 s" in page and "Team Bravo" in page
    assert client.get(private.get_absolute_url()).status_code == 404


def test_invited_teams_members_see_the_invite_only_league(client, leagues, team_a):
    _, private, _, private_event = leagues
    client.force_login(team_a.captain)
    assert "Private Cup" in client.get(reverse("league_list")).content.decode()
    assert client.get(private.get_absolute_url()).status_code == 200
    assert client.get(private_event.get_absolute_url()).status_code == 200


def test_other_users_do_not_see_the_invite_only_league(client, leagues, team_b):
    _, private, _, private_event = leagues
    client.force_login(team_b.captain)
    assert "Private Cup" not in client.get(reverse("league_list")).content.decode()
    assert client.get(private.get_absolute_url()).status_code == 404
    assert client.get(private_event.get_absolute_url()).status_code == 404


def test_organisers_see_their_invite_only_league(client, leagues, make_user):
    _, private, _, _ = leagues
    organiser = make_user("olga")
    private.organisers.add(organiser)
    client.force_login(organiser)
    assert "Private Cup" in client.get(reverse("league_list")).content.decode()


def test_draft_events_are_for_organisers_only(client, leagues, make_event, make_user):
    public, *_ = leagues
    draft = make_event(public, "Secret Round", status=Event.Status.DRAFT)
    assert "Secret Round" not in client.get(public.get_absolute_url()).content.decode()
    assert client.get(draft.get_absolute_url()).status_code == 404
    organiser = make_user("pia")
    public.organisers.add(organiser)
    client.force_login(organiser)
    assert client.get(draft.get_absolute_url()).status_code == 200


def test_event_of_another_league_slug_is_404(client, leagues):
    public, private, _, private_event = leagues
    url = reverse("event_detail", args=[public.slug, private_event.pk])
    assert client.get(url).status_code == 404


def test_home_page_lists_upcoming_public_events(client, leagues):
    page = client.get(reverse("home")).content.decode()
    assert "Open Round" in page and "Private Round" not in page


def test_event_page_shows_the_race_facts(client, leagues):
    _, _, event, _ = leagues
    page = client.get(event.get_absolute_url()).content.decode()
    for fact in ("reinvent_base", "Best lap time", "Open for registration", "Virtual race"):
        assert fact in page
