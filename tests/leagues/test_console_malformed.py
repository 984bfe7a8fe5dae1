"""The timekeeper console's JSON endpoints answer a malformed body with 400 and a reason, never a 500:
JSON nested deeper than the parser goes (RecursionError) and numbers that parse as an infinite float
(`1e400`, OverflowError in int()) were server errors, found by the outside test of issue 12."""

import json

import pytest
from django.test import Client
from django.urls import reverse

from webapp.leagues.models import Attempt, AuditEntry, Event
from webapp.leagues.services import make_organiser

pytestmark = pytest.mark.django_db


@pytest.fixture
def timekeeper(make_user):
    return make_user("tk")


@pytest.fixture
def event(make_league, make_event, make_user, timekeeper, team_a):
    league = make_league()
    make_organiser(make_user("org"), league)
    event = make_event(league, kind=Event.Kind.PHYSICAL)
    event.timekeepers.add(timekeeper)
    event.registrations.create(team=team_a)
    return event


@pytest.fixture
def console(timekeeper):
    client = Client(raise_request_exception=False)
    client.force_login(timekeeper)
    return client


def action_url(event, attempt_id):
    return reverse("console_action", args=[event.league.slug, event.pk, attempt_id])


def create_url(event):
    return reverse("console_create_attempt", args=[event.league.slug, event.pk])


DEEP_ARRAY = b"[" * 100_000 + b"]" * 100_000
DEEP_OBJECT = b'{"a":' * 50_000 + b"1" + b"}" * 50_000


@pytest.mark.parametrize("body", [DEEP_ARRAY, DEEP_OBJECT], ids=["array", "object"])
def test_deeply_nested_json_is_a_400_not_a_500(event, console, team_a, body):
    attempt = Attempt.objects.create(event=event, team=team_a)
    for url in (action_url(event, attempt.pk), create_url(event)):
        response = console.post(url, body, content_type="application/json")
        assert response.status_code == 400, (url, response.status_code)
        assert response.json()["error"] == "The request is not JSON."
    assert Attempt.objects.get(pk=attempt.pk).version == 1
    assert Attempt.objects.filter(event=event).count() == 1


@pytest.mark.parametrize("field,payload", [
    ("expected_version", b'{"action": "start", "expected_version": 1e400}'),
    ("expected_version", b'{"action": "start", "expected_version": -1e400}'),
    ("percent", b'{"action": "throttle", "expected_version": 1, "percent": 1e400}'),
    ("team_id", b'{"team_id": 1e400}'),
])
def test_an_infinite_number_is_a_400_naming_the_field(event, console, team_a, field, payload):
    attempt = Attempt.objects.create(event=event, team=team_a)
    url = create_url(event) if field == "team_id" else action_url(event, attempt.pk)
    response = console.post(url, payload, content_type="application/json")
    assert response.status_code == 400, response.status_code
    assert "whole number" in response.json()["error"]
    attempt.refresh_from_db()
    assert (attempt.status, attempt.version, attempt.throttle_percent) == (Attempt.Status.READY, 1, None)
    assert not AuditEntry.objects.filter(event=event).exists()


def test_a_well_formed_action_still_works_after_the_change(event, console, team_a):
    attempt = Attempt.objects.create(event=event, team=team_a)
    response = console.post(action_url(event, attempt.pk), json.dumps({"action": "start", "expected_version": 1}),
                            content_type="application/json")
    assert response.status_code == 200
    assert response.json()["state"]["attempt"]["status"] == Attempt.Status.RUNNING
