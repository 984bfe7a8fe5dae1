"""Leagues and events for the league tests (users and teams come from tests/conftest.py)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from webapp.leagues.models import Event, League


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
