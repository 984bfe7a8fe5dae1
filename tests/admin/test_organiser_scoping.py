"""Organisers work on their own leagues in the admin and nothing else."""

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from webapp.leagues.models import Event, LapResult, League
from webapp.leagues.permissions import ORGANISER_GROUP

pytestmark = pytest.mark.django_db

MODELS = ("league", "event", "registration", "lapresult")


def change_url(obj):
    return reverse(f"admin:leagues_{obj._meta.model_name}_change", args=[obj.pk])


def objects(league_set):
    return [league_set.league, league_set.event, league_set.registration, league_set.lap]


def test_make_organiser_sets_staff_group_and_league(league_a):
    organiser = league_a.organiser
    organiser.refresh_from_db()
    assert organiser.is_staff and not organiser.is_superuser
    assert organiser.groups.filter(name=ORGANISER_GROUP).exists()
    assert list(organiser.organised_leagues.all()) == [league_a.league]


def test_the_migration_created_the_group_with_league_permissions():
    group = Group.objects.get(name=ORGANISER_GROUP)
    codenames = set(group.permissions.values_list("codename", flat=True))
    assert {"change_league", "add_event", "change_lapresult", "delete_registration"} <= codenames
    assert "add_league" not in codenames and "delete_league" not in codenames


def test_changelists_list_only_the_organisers_own_objects(client, league_a, league_b):
    client.force_login(league_a.organiser)
    for model, own, other in zip(MODELS, objects(league_a), objects(league_b), strict=True):
        response = client.get(reverse(f"admin:leagues_{model}_changelist"))
        assert response.status_code == 200, model
        shown = list(response.context["cl"].result_list)
        assert own in shown and other not in shown, model
        assert league_b.league.name not in response.content.decode(), model


def test_other_leagues_objects_answer_404(client, league_a, league_b):
    client.force_login(league_a.organiser)
    for obj in objects(league_b):
        assert client.get(change_url(obj)).status_code == 404, obj
        name = obj._meta.model_name
        assert client.post(reverse(f"admin:leagues_{name}_delete", args=[obj.pk]), {"post": "yes"}).status_code == 404
    assert Event.objects.filter(pk=league_b.event.pk).exists()
    assert LapResult.objects.filter(pk=league_b.lap.pk).exists()


def test_own_objects_open_and_save(client, league_a):
    client.force_login(league_a.organiser)
    for obj in objects(league_a):
        assert client.get(change_url(obj)).status_code == 200, obj
    lap = league_a.lap
    response = client.post(change_url(lap), {
        "event": lap.event_id, "team": lap.team_id, "lap_number": 1, "lap_time_s": "10.25", "resets": 0,
        "valid": "on", "source": "organiser", "recorded_0": "2025-06-01", "recorded_1": "10:00:00", "note": "",
    })
    assert response.status_code == 302, response.context["adminform"].form.errors
    lap.refresh_from_db()
    assert lap.lap_time_s == 10.25
    assert lap.recorded_by == league_a.organiser  # filled in by the admin, never chosen


def test_foreign_key_choices_are_restricted(client, league_a, league_b):
    client.force_login(league_a.organiser)
    event_form = client.get(reverse("admin:leagues_event_add")).context["adminform"].form
    assert list(event_form.fields["league"].queryset) == [league_a.league]
    lap_form = client.get(reverse("admin:leagues_lapresult_add")).context["adminform"].form
    assert list(lap_form.fields["event"].queryset) == [league_a.event]
    assert "recorded_by" not in lap_form.fields
    registration_form = client.get(reverse("admin:leagues_registration_add")).context["adminform"].form
    assert list(registration_form.fields["event"].queryset) == [league_a.event]


def test_posting_another_leagues_id_is_rejected(client, league_a, league_b):
    client.force_login(league_a.organiser)
    response = client.post(reverse("admin:leagues_event_add"), {
        "league": league_b.league.pk, "name": "Sneaky", "kind": "virtual", "status": "open",
        "track": "reinvent_base", "direction": "counterclockwise", "location": "",
        "starts_0": "2030-01-01", "starts_1": "10:00:00", "ends_0": "2030-01-01", "ends_1": "12:00:00",
        "ranking_rule": "best_lap", "consecutive_laps": 3, "off_track_penalty_s": 2, "max_resets_per_lap": 3,
        "registrations-TOTAL_FORMS": 0, "registrations-INITIAL_FORMS": 0,
    })
    assert response.status_code == 200
    assert "league" in response.context["adminform"].form.errors
    assert not Event.objects.filter(name="Sneaky").exists()


def test_organisers_cannot_change_the_organisers_field(client, league_a, league_b):
    client.force_login(league_a.organiser)
    league = league_a.league
    form = client.get(change_url(league)).context["adminform"].form
    assert "organisers" not in form.fields
    client.post(change_url(league), {
        "name": league.name, "slug": league.slug, "description": "Edited", "visibility": "public",
        "organisers": [league_a.organiser.pk, league_b.organiser.pk], "invited_teams": [],
        "events-TOTAL_FORMS": 0, "events-INITIAL_FORMS": 0,
    })
    league.refresh_from_db()
    assert league.description == "Edited"
    assert list(league.organisers.all()) == [league_a.organiser]


def test_organisers_cannot_add_or_delete_leagues(client, league_a):
    client.force_login(league_a.organiser)
    assert client.get(reverse("admin:leagues_league_add")).status_code == 403
    client.post(reverse("admin:leagues_league_delete", args=[league_a.league.pk]), {"post": "yes"})
    assert League.objects.filter(pk=league_a.league.pk).exists()


def test_organisers_do_not_see_teams_users_or_jobs(client, league_a):
    client.force_login(league_a.organiser)
    index = client.get(reverse("admin:index")).content.decode()
    assert "Leagues and races" in index
    for app in ("accounts", "auth", "jobs"):
        assert f'href="/admin/{app}/' not in index, app
    assert client.get(reverse("admin:accounts_team_changelist")).status_code == 403


def test_superuser_sees_everything(client, league_a, league_b, django_user_model):
    root = django_user_model.objects.create_superuser("root", "root@example.com", "root-pass-123456")
    client.force_login(root)
    for model in MODELS:
        shown = client.get(reverse(f"admin:leagues_{model}_changelist")).context["cl"].result_list
        assert len(shown) == 2, model
    for name in ("team", "membership", "invite"):
        assert client.get(reverse(f"admin:accounts_{name}_changelist")).status_code == 200
    assert client.get(change_url(league_b.event)).status_code == 200


def test_event_changelist_columns(client, league_a):
    client.force_login(league_a.organiser)
    page = client.get(reverse("admin:leagues_event_changelist")).content.decode()
    for column in ("League", "Kind", "Track", "Starts", "Status", "Teams"):
        assert column in page


def test_staff_without_leagues_sees_none(client, make_user, league_a):
    from webapp.leagues.permissions import organiser_group

    outsider = make_user("staffer", is_staff=True)
    outsider.groups.add(organiser_group())
    client.force_login(outsider)
    assert list(client.get(reverse("admin:leagues_event_changelist")).context["cl"].result_list) == []
