"""Creating teams, the current team (middleware, switcher) and leaving."""

import pytest
from django.urls import reverse

from webapp.accounts.current import SESSION_KEY
from webapp.accounts.models import Membership, Team
from webapp.accounts.services import create_invite, create_team, join_team

pytestmark = pytest.mark.django_db


def test_create_team_makes_the_creator_captain_and_current(client, make_user):
    user = make_user("hana")
    client.force_login(user)
    response = client.post(reverse("team_create"), {"name": "Night Owls"})
    team = Team.objects.get(name="Night Owls")
    assert response.url == reverse("team_detail", args=[team.slug])
    assert team.captain == user
    assert client.session[SESSION_KEY] == team.pk
    assert client.get(reverse("dashboard")).url == team.get_absolute_url()


def test_duplicate_team_name_is_a_form_error(client, make_user, team_a):
    client.force_login(make_user())
    response = client.post(reverse("team_create"), {"name": "team alpha"})
    assert response.status_code == 200
    assert "already exists" in response.content.decode()


def test_team_slug_avoids_the_fixed_team_pages(make_user):
    team = create_team(user=make_user(), name="New")
    assert team.slug not in {"new", "join", "switch"}


def test_team_page_lists_members_and_jobs_section(client, team_a):
    client.force_login(team_a.captain)
    response = client.get(team_a.get_absolute_url())
    assert response.status_code == 200
    content = response.content.decode()
    assert "alice" in content and "Captain" in content
    assert "data-live-jobs" in content  # the jobs table include
    assert "js/jobs.js" in content


def test_current_team_falls_back_to_the_first_team(client, make_user, make_team):
    user = make_user("ivan")
    make_team("Zeta", captain=user)
    alpha = make_team("Alpha", captain=user)
    client.force_login(user)
    response = client.get(reverse("league_list"))
    assert response.context["current_team"] == alpha
    assert [t.name for t in response.context["user_teams"]] == ["Alpha", "Zeta"]


def test_switching_teams_is_stored_in_the_session(client, make_user, make_team):
    user = make_user("jo")
    make_team("Alpha", captain=user)
    zeta = make_team("Zeta", captain=user)
    client.force_login(user)
    response = client.post(reverse("team_switch"), {"team": zeta.pk})
    assert response.url == zeta.get_absolute_url()
    assert client.session[SESSION_KEY] == zeta.pk
    assert client.get(reverse("league_list")).context["current_team"] == zeta


def test_switch_to_a_team_you_are_not_in_is_refused(client, make_user, team_a, team_b):
    client.force_login(team_a.captain)
    response = client.post(reverse("team_switch"), {"team": team_b.pk})
    assert response.url == reverse("dashboard")
    assert client.session.get(SESSION_KEY) != team_b.pk


def test_a_stale_session_team_is_ignored(client, team_a, team_b):
    client.force_login(team_a.captain)
    session = client.session
    session[SESSION_KEY] = team_b.pk
    session.save()
    assert client.get(reverse("league_list")).context["current_team"] == team_a


def test_switch_returns_to_a_safe_next(client, make_user, make_team):
    user = make_user()
    team = make_team("Alpha", captain=user)
    client.force_login(user)
    response = client.post(reverse("team_switch"), {"team": team.pk, "next": "/leagues/"})
    assert response.url == "/leagues/"


def test_member_leaves_the_team(client, team_a, make_user):
    member = make_user("kim")
    join_team(user=member, code=create_invite(user=team_a.captain, team=team_a).code)
    client.force_login(member)
    response = client.post(reverse("team_leave", args=[team_a.slug]))
    assert response.url == reverse("dashboard")
    assert not Membership.objects.filter(team=team_a, user=member).exists()


def test_last_captain_may_leave_and_the_team_stays(client, team_a):
    client.force_login(team_a.captain)
    client.post(reverse("team_leave", args=[team_a.slug]))
    assert Team.objects.filter(pk=team_a.pk).exists()
    assert not team_a.memberships.exists()
