"""What the organisers' admin must not reveal: another league's object through "view on site",
and teams outside the organiser's events in the lap and registration dropdowns."""

import pytest
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse

from webapp.leagues.models import LapResult, League

pytestmark = pytest.mark.django_db


def view_on_site(obj) -> str:
    return reverse("admin:view_on_site", args=[ContentType.objects.get_for_model(obj).pk, obj.pk])


@pytest.fixture
def invite_only_b(league_b):
    League.objects.filter(pk=league_b.league.pk).update(visibility=League.Visibility.INVITE_ONLY)
    league_b.league.refresh_from_db()
    return league_b


def test_view_on_site_answers_404_for_another_leagues_objects(client, league_a, invite_only_b):
    client.force_login(league_a.organiser)
    for obj in (invite_only_b.league, invite_only_b.event):
        response = client.get(view_on_site(obj))
        assert response.status_code == 404, obj
        assert invite_only_b.league.slug not in response.content.decode()
    for obj in (league_a.league, league_a.event):  # the organiser's own objects still open on the site
        response = client.get(view_on_site(obj))
        assert response.status_code == 302 and response.url.endswith(obj.get_absolute_url()), obj


def test_view_on_site_answers_404_for_models_the_organiser_cannot_see(client, league_a, team_b):
    client.force_login(league_a.organiser)
    assert client.get(view_on_site(team_b)).status_code == 404
    bogus = reverse("admin:view_on_site", args=[ContentType.objects.get_for_model(League).pk, "nope"])
    assert client.get(bogus).status_code == 404


def test_superusers_still_view_any_object_on_site(client, invite_only_b, django_user_model):
    root = django_user_model.objects.create_superuser("root", "root@example.com", "root-pass-123456")
    client.force_login(root)
    response = client.get(view_on_site(invite_only_b.league))
    assert response.status_code == 302 and response.url.endswith(invite_only_b.league.get_absolute_url())


def _team_choices(client, url) -> set[str]:
    form = client.get(url).context["adminform"].form
    return {team.name for team in form.fields["team"].queryset}


def test_lap_form_lists_only_the_events_registered_teams(client, league_a, league_b, make_team):
    outsider = make_team("Team Outsider")
    client.force_login(league_a.organiser)
    lap = league_a.lap
    assert _team_choices(client, reverse("admin:leagues_lapresult_change", args=[lap.pk])) == {lap.team.name}
    assert _team_choices(client, reverse("admin:leagues_lapresult_add")) == {lap.team.name}
    # Posting a team that is not registered for the event is refused with the reason, and stores nothing.
    league_a.event.registrations.create(team=outsider, approved=False)
    response = client.post(reverse("admin:leagues_lapresult_add"), {
        "event": league_a.event.pk, "team": outsider.pk, "lap_number": 2, "lap_time_s": "10.5", "resets": 0,
        "valid": "on", "source": "organiser", "recorded_0": "2025-06-01", "recorded_1": "10:00:00", "note": "",
    })
    assert response.status_code == 200
    assert "team" in response.context["adminform"].form.errors
    assert not LapResult.objects.filter(team=outsider).exists()


def test_registration_form_lists_invited_and_registered_teams_only(client, league_a, league_b, make_team):
    invited = make_team("Team Invited")
    make_team("Team Stranger")
    league_a.league.invited_teams.add(invited)
    client.force_login(league_a.organiser)
    expected = {league_a.registration.team.name, invited.name}
    assert _team_choices(client, reverse("admin:leagues_registration_add")) == expected
    change = reverse("admin:leagues_registration_change", args=[league_a.registration.pk])
    assert _team_choices(client, change) == expected
    event_form = client.get(reverse("admin:leagues_event_change", args=[league_a.event.pk])).context
    inline_form = event_form["inline_admin_formsets"][0].formset.form
    assert {team.name for team in inline_form.base_fields["team"].queryset} == expected
