"""`manage.py seed_demo` builds the demo league once and prints the organiser password once."""

import io

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.core.management import call_command
from django.test import RequestFactory

from webapp.leagues.models import Event, League

pytestmark = pytest.mark.django_db


def seed() -> str:
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def test_seed_demo_is_idempotent_and_prints_the_password_once():
    first = seed()
    password = next(line.split("password:", 1)[1].strip() for line in first.splitlines() if "password:" in line)
    # A login request, as the admin's login sends it (the login throttle needs the request).
    request = RequestFactory().post("/admin/login/")
    assert authenticate(request, username="organiser", password=password) is not None

    second = seed()
    assert "password:" not in second
    assert "already exists" in second
    assert League.objects.filter(name="Pitlane Demo League").count() == 1
    assert Event.objects.count() == 2


def test_seed_demo_content():
    seed()
    league = League.objects.get(name="Pitlane Demo League")
    assert league.is_public
    virtual = league.events.get(kind=Event.Kind.VIRTUAL)
    assert (virtual.track, virtual.status) == ("pitlane_loop", Event.Status.OPEN)
    from simulator.track import load_track

    load_track(virtual.track)  # a built-in track: evaluations work without any uploaded track file
    assert league.events.filter(kind=Event.Kind.PHYSICAL).exists()
    organiser = get_user_model().objects.get(username="organiser")
    assert organiser.is_staff and not organiser.is_superuser
    assert list(organiser.organised_leagues.all()) == [league]
