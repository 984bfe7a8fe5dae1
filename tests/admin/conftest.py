"""Two leagues, each with an organiser, an event, a registration and a lap."""

from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.utils import timezone

from webapp.leagues.models import Event, LapResult, League, Registration
from webapp.leagues.services import make_organiser


@dataclass
class LeagueSet:
    league: League
    organiser: object
    event: Event
    registration: Registration
    lap: LapResult


def _league_set(name: str, organiser, team) -> LeagueSet:
    league = League.objects.create(name=name)
    make_organiser(organiser, league)
    starts = timezone.now() + timedelta(days=2)
    event = Event.objects.create(league=league, name=f"{name} Round 1", track="reinvent_base",
                                 starts=starts, ends=starts + timedelta(hours=4))
    registration = Registration.objects.create(event=event, team=team)
    lap = LapResult.objects.create(event=event, team=team, lap_number=1, lap_time_s=11.5)
    return LeagueSet(league, organiser, event, registration, lap)


@pytest.fixture
def league_a(make_user, team_a):
    return _league_set("Alpine League", make_user("org_a"), team_a)


@pytest.fixture
def league_b(make_user, team_b):
    return _league_set("Baltic League", make_user("org_b"), team_b)
