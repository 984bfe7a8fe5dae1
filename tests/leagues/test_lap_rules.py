"""Lap validity under an event's race rules: a pure rule, applied by the leagues services that
record laps, and by the admin (its form and its mark-valid action)."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from webapp.leagues import ranking
from webapp.leagues.models import LapResult
from webapp.leagues.services import make_organiser, mark_laps, record_lap, save_lap


def test_the_pure_rule():
    assert ranking.lap_is_valid(True, 3, 3)
    assert not ranking.lap_is_valid(True, 4, 3)
    assert not ranking.lap_is_valid(False, 0, 3)  # an organiser's "invalid" stands


@pytest.mark.django_db
def test_record_lap_applies_the_events_reset_limit(make_league, make_event, team_a):
    event = make_event(make_league(), max_resets_per_lap=1)
    event.registrations.create(team=team_a)
    within = record_lap(event=event, team=team_a, lap_number=1, lap_time_s=9.0, resets=1)
    over = record_lap(event=event, team=team_a, lap_number=2, lap_time_s=8.0, resets=2)
    marked = record_lap(event=event, team=team_a, lap_number=3, lap_time_s=8.0, valid=False)
    assert [lap.valid for lap in LapResult.objects.order_by("lap_number")] == [True, False, False]
    assert (within.valid, over.valid, marked.valid) == (True, False, False)


@pytest.mark.django_db
def test_record_lap_refuses_a_team_not_registered_for_the_event(make_league, make_event, team_a, team_b):
    event = make_event(make_league())
    event.registrations.create(team=team_b, approved=False)
    for team in (team_a, team_b):  # not registered; registered but not approved
        with pytest.raises(ValidationError, match="not a registered"):
            record_lap(event=event, team=team, lap_number=1, lap_time_s=9.0)
    assert not LapResult.objects.exists()
    event.registrations.create(team=team_a)
    lap = record_lap(event=event, team=team_a, lap_number=1, lap_time_s=9.0)
    lap.team = team_b  # moving a stored lap to an unregistered team is refused too
    with pytest.raises(ValidationError, match="not a registered"):
        save_lap(lap)
    assert LapResult.objects.get().team == team_a


@pytest.mark.django_db
def test_mark_valid_keeps_laps_over_the_limit_invalid(make_league, make_event, team_a):
    event = make_event(make_league(), max_resets_per_lap=1)
    event.registrations.create(team=team_a)
    record_lap(event=event, team=team_a, lap_number=1, lap_time_s=9.0, resets=0, valid=False)
    record_lap(event=event, team=team_a, lap_number=2, lap_time_s=8.0, resets=2)
    assert mark_laps(LapResult.objects.all(), valid=True) == (1, 1)
    assert [lap.valid for lap in LapResult.objects.order_by("lap_number")] == [True, False]
    assert mark_laps(LapResult.objects.all(), valid=False) == (2, 0)
    assert not LapResult.objects.filter(valid=True).exists()


@pytest.fixture
def organised(make_league, make_event, make_user, team_a):
    league = make_league()
    organiser = make_user("org")
    make_organiser(organiser, league)
    event = make_event(league, max_resets_per_lap=2)
    event.registrations.create(team=team_a)
    return organiser, event


def _lap_form(event, team, lap_number, resets):
    return {"event": event.pk, "team": team.pk, "lap_number": lap_number, "lap_time_s": "10.5", "resets": resets,
            "valid": "on", "source": "organiser", "recorded_0": "2025-06-01", "recorded_1": "10:00:00", "note": ""}


@pytest.mark.django_db
def test_the_admin_applies_the_rule_when_adding_and_editing_a_lap(client, organised, team_a):
    organiser, event = organised
    client.force_login(organiser)
    add = reverse("admin:leagues_lapresult_add")
    response = client.post(add, _lap_form(event, team_a, 1, resets=2))
    assert response.status_code == 302
    response = client.post(add, _lap_form(event, team_a, 2, resets=3), follow=True)
    assert "stored as invalid" in response.content.decode()
    lap1, lap2 = LapResult.objects.order_by("lap_number")
    assert (lap1.valid, lap2.valid) == (True, False)
    assert lap1.recorded_by == organiser

    change = reverse("admin:leagues_lapresult_change", args=[lap1.pk])
    assert client.post(change, _lap_form(event, team_a, 1, resets=5)).status_code == 302
    lap1.refresh_from_db()
    assert lap1.resets == 5 and lap1.valid is False


@pytest.mark.django_db
def test_the_admin_mark_valid_action_respects_the_rule(client, organised, team_a):
    organiser, event = organised
    client.force_login(organiser)
    ok = record_lap(event=event, team=team_a, lap_number=1, lap_time_s=9.0, valid=False)
    over = record_lap(event=event, team=team_a, lap_number=2, lap_time_s=8.0, resets=3)
    response = client.post(reverse("admin:leagues_lapresult_changelist"),
                           {"action": "mark_valid", "_selected_action": [ok.pk, over.pk]}, follow=True)
    page = response.content.decode()
    assert "1 lap(s) marked valid" in page and "stay invalid" in page
    ok.refresh_from_db()
    over.refresh_from_db()
    assert ok.valid is True and over.valid is False
