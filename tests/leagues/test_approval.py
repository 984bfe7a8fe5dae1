"""Registration approval (issue 12): when the organisers want it, a registration waits, the team and
the organisers see it waiting, organisers approve or reject it, and an unapproved team cannot race.
Organisers of another league can do none of it."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from webapp.leagues import race as race_services
from webapp.leagues.models import Event, LapResult, Registration
from webapp.leagues.services import make_organiser, record_lap

pytestmark = pytest.mark.django_db


@pytest.fixture
def league(make_league):
    return make_league("Track Days")


@pytest.fixture
def event(make_event, league):
    return make_event(league, name="Harbour sprint", kind=Event.Kind.PHYSICAL, requires_approval=True)


@pytest.fixture
def organiser(make_user, league):
    user = make_user("olga")
    make_organiser(user, league)
    return user


def page_url(event):
    return reverse("event_registrations", args=[event.league.slug, event.pk])


def decide_url(registration, decision=None):
    event = registration.event
    return reverse("registration_decide", args=[event.league.slug, event.pk, registration.pk])


def register(client, team, event):
    client.force_login(team.captain)
    client.post(reverse("event_register", args=[event.league.slug, event.pk]))
    return Registration.objects.get(event=event, team=team)


def test_a_registration_waits_and_the_team_sees_it_waiting(client, event, team_a):
    registration = register(client, team_a, event)
    assert not registration.approved
    page = client.get(event.get_absolute_url()).content.decode()
    assert "data-registration-pending" in page and "waiting for the organisers' approval" in page
    assert "(waiting for approval)" in page  # the registered teams list marks it too
    assert "data-waiting-approval" in client.get(team_a.get_absolute_url()).content.decode()  # the team's page
    # Without approval settings the registration is approved at once.
    event.requires_approval = False
    event.save()
    Registration.objects.all().delete()
    assert register(client, team_a, event).approved


def test_an_unapproved_team_cannot_race_until_approved(client, event, team_a, organiser):
    registration = register(client, team_a, event)
    with pytest.raises(ValidationError, match="not a registered \\(approved\\) team"):
        race_services.create_attempt(user=organiser, event=event, team=team_a)
    with pytest.raises(ValidationError):
        record_lap(event=event, team=team_a, lap_time_s=8.0, recorded_by=organiser)

    client.force_login(organiser)
    page = client.get(page_url(event)).content.decode()
    assert f'data-pending-team="{team_a.pk}"' in page and "Approve" in page
    event_page = client.get(event.get_absolute_url()).content.decode()
    assert "Registrations (1 waiting)" in event_page
    version = Event.objects.get(pk=event.pk).board_version
    response = client.post(decide_url(registration), {"decision": "approve"}, follow=True)
    assert "is approved" in response.content.decode()
    registration.refresh_from_db()
    assert registration.approved and Event.objects.get(pk=event.pk).board_version > version
    assert race_services.create_attempt(user=organiser, event=event, team=team_a).team == team_a
    client.force_login(team_a.captain)
    assert "data-registration-pending" not in client.get(event.get_absolute_url()).content.decode()


def test_rejecting_removes_the_registration_but_not_a_team_with_laps(client, event, team_a, team_b, organiser):
    first = register(client, team_a, event)
    second = register(client, team_b, event)
    client.force_login(organiser)
    response = client.post(decide_url(first), {"decision": "reject"}, follow=True)
    assert "is rejected" in response.content.decode()
    assert not Registration.objects.filter(pk=first.pk).exists()
    # A team that raced already (approved, laps recorded, then approval withdrawn) is not rejected.
    Registration.objects.filter(pk=second.pk).update(approved=True)
    record_lap(event=event, team=team_b, lap_time_s=8.0, recorded_by=organiser)
    Registration.objects.filter(pk=second.pk).update(approved=False)
    response = client.post(decide_url(second), {"decision": "reject"}, follow=True)
    assert "has laps in this event already" in response.content.decode()
    assert Registration.objects.filter(pk=second.pk).exists() and LapResult.objects.filter(team=team_b).exists()


def test_only_this_leagues_organisers_see_and_decide(client, event, team_a, team_b, make_user, make_league):
    registration = register(client, team_a, event)
    stranger = make_user("otto")
    make_organiser(stranger, make_league("Other League"))
    for who in (team_a.captain, team_b.captain, stranger):
        client.force_login(who)
        assert client.get(page_url(event)).status_code == 404
        assert client.post(decide_url(registration), {"decision": "approve"}).status_code == 404
        assert "data-registrations-link" not in client.get(event.get_absolute_url()).content.decode()
    client.logout()
    assert client.get(page_url(event)).status_code == 302  # to the login page
    registration.refresh_from_db()
    assert not registration.approved


def test_a_registration_of_another_event_is_not_decided_through_this_one(client, event, make_event, league,
                                                                        team_a, organiser, make_user, make_league):
    other_league = make_league("Other League")
    elsewhere = make_event(other_league, name="Elsewhere", requires_approval=True)
    theirs = register(client, team_a, elsewhere)
    client.force_login(organiser)
    url = reverse("registration_decide", args=[league.slug, event.pk, theirs.pk])
    assert client.post(url, {"decision": "approve"}).status_code == 404
    theirs.refresh_from_db()
    assert not theirs.approved
