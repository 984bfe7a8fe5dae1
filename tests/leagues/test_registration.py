"""Registering the current team for an open event, and withdrawing it."""

import pytest
from django.urls import reverse

from webapp.leagues.models import Event, League, Registration

pytestmark = pytest.mark.django_db


def register_url(event):
    return reverse("event_register", args=[event.league.slug, event.pk])


def unregister_url(event):
    return reverse("event_unregister", args=[event.league.slug, event.pk])


@pytest.fixture
def event(make_league, make_event):
    return make_event(make_league())


def test_member_registers_the_current_team(client, team_a, event):
    client.force_login(team_a.captain)
    page = client.get(event.get_absolute_url()).content.decode()
    assert "Register Team Alpha" in page
    response = client.post(register_url(event), follow=True)
    assert "is registered" in response.content.decode()
    registration = Registration.objects.get(event=event)
    assert (registration.team, registration.registered_by) == (team_a, team_a.captain)
    assert "Team Alpha" in client.get(event.get_absolute_url()).content.decode()


def test_registering_twice_is_an_error_message(client, team_a, event):
    client.force_login(team_a.captain)
    client.post(register_url(event))
    response = client.post(register_url(event), follow=True)
    assert "already registered" in response.content.decode()
    assert Registration.objects.filter(event=event).count() == 1


def test_the_switched_team_is_the_one_registered(client, make_user, make_team, event):
    user = make_user()
    make_team("Alpha", captain=user)
    zeta = make_team("Zeta", captain=user)
    client.force_login(user)
    client.post(reverse("team_switch"), {"team": zeta.pk})
    client.post(register_url(event))
    assert Registration.objects.get(event=event).team == zeta


def test_closed_events_refuse_registration(client, team_a, make_league, make_event):
    league = make_league()
    for status in (Event.Status.RUNNING, Event.Status.FINISHED, Event.Status.CANCELLED):
        closed = make_event(league, name=f"Closed {status}", status=status)
        client.force_login(team_a.captain)
        response = client.post(register_url(closed), follow=True)
        assert "closed" in response.content.decode()
    assert not Registration.objects.exists()


def test_invite_only_league_takes_invited_teams_only(client, team_a, team_b, make_league, make_event):
    league = make_league("Private Cup", visibility=League.Visibility.INVITE_ONLY)
    league.invited_teams.add(team_a)
    event = make_event(league)
    client.force_login(team_a.captain)
    client.post(register_url(event))
    assert Registration.objects.filter(event=event, team=team_a).exists()
    # Team B cannot even see the league, so the registration URL answers 404.
    client.force_login(team_b.captain)
    assert client.post(register_url(event)).status_code == 404
    assert not Registration.objects.filter(event=event, team=team_b).exists()


def test_organiser_of_invite_only_league_cannot_register_an_uninvited_team(
    client, team_b, make_league, make_event
):
    league = make_league("Private Cup", visibility=League.Visibility.INVITE_ONLY)
    league.organisers.add(team_b.captain)
    event = make_event(league)
    client.force_login(team_b.captain)
    response = client.post(register_url(event), follow=True)
    assert "has not invited your team" in response.content.decode()
    assert not Registration.objects.exists()


def test_user_without_team_is_sent_to_the_dashboard(client, make_user, event):
    client.force_login(make_user())
    page = client.get(event.get_absolute_url()).content.decode()
    assert "Join or create a team to register" in page
    assert client.post(register_url(event)).url == reverse("dashboard")


def test_anonymous_visitor_is_asked_to_log_in(client, event):
    page = client.get(event.get_absolute_url()).content.decode()
    assert "Log in to register your team" in page
    response = client.post(register_url(event))
    assert response.url.startswith(reverse("login"))


def test_withdraw_while_open(client, team_a, event):
    client.force_login(team_a.captain)
    client.post(register_url(event))
    response = client.post(unregister_url(event), follow=True)
    assert "no longer registered" in response.content.decode()
    assert not Registration.objects.exists()


def test_no_withdrawal_once_racing(client, team_a, event):
    client.force_login(team_a.captain)
    client.post(register_url(event))
    Event.objects.filter(pk=event.pk).update(status=Event.Status.RUNNING)
    response = client.post(unregister_url(event), follow=True)
    assert "ask the organisers" in response.content.decode()
    assert Registration.objects.exists()


def test_registration_shows_on_the_team_page(client, team_a, event):
    client.force_login(team_a.captain)
    client.post(register_url(event))
    page = client.get(team_a.get_absolute_url()).content.decode()
    assert event.name in page and event.get_absolute_url() in page
