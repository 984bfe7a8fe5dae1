"""Leagues and events for the league tests (users and teams come from tests/conftest.py): `make_league`,
`make_event`, and for race operations `organiser` and `race_event` (a physical event of a league the
organiser runs, teams A and B registered; `make_race_event(**fields)` for other settings)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from webapp.leagues.models import Event, League
from webapp.leagues.services import make_organiser


@pytest.fixture
def make_league(db):
    def make(name: str = "Open Cup", visibility: str = League.Visibility.PUBLIC, **extra) -> League:
        return League.objects.create(name=name, visibility=visibility, description=f"{name} races.", **extra)

    return make


@pytest.fixture
def make_event(db):
    def make(league: League, name: str = "Round 1", **extra) -> Event:
        starts = timezone.now() + timedelta(days=3)
        fields = {"track": "reinvent_base", "starts": starts, "ends": starts + timedelta(hours=6),
                  "status": Event.Status.OPEN, **extra}
        return Event.objects.create(league=league, name=name, **fields)

    return make


@pytest.fixture
def organiser(make_user):
    return make_user("org")


@pytest.fixture
def make_race_event(make_league, make_event, organiser, team_a, team_b):
    def make(**fields) -> Event:
        # Most race tests time short laps: a low plausible minimum unless a test sets its own
        # (the track's default is tested in test_plausibility.py).
        fields.setdefault("min_plausible_lap_s", 0.5)
        league = make_league()
        make_organiser(organiser, league)
        event = make_event(league, kind=Event.Kind.PHYSICAL, **fields)
        event.registrations.create(team=team_a)
        event.registrations.create(team=team_b)
        return event

    return make


class FakeNow:
    """timezone.now under the test's control (views and services both read it)."""

    def __init__(self):
        self.now = timezone.now().replace(microsecond=0)

    def __call__(self):
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock(monkeypatch):
    fake = FakeNow()
    monkeypatch.setattr(timezone, "now", fake)
    return fake
