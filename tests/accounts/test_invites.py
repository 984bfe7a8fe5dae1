"""Invites: members create them, the captain revokes them, people join by code or by link."""

import pytest
from django.urls import reverse

from webapp.accounts.current import SESSION_KEY
from webapp.accounts.models import Invite, Membership
from webapp.accounts.services import create_invite, join_team

pytestmark = pytest.mark.django_db


@pytest.fixture
def invite(team_a):
    return create_invite(user=team_a.captain, team=team_a)


def test_member_creates_an_invite_and_sees_link_and_code(client, team_a):
    client.force_login(team_a.captain)
    response = client.post(reverse("invite_create", args=[team_a.slug]))
    assert response.url == team_a.get_absolute_url()
    invite = Invite.objects.get(team=team_a)
    page = client.get(team_a.get_absolute_url()).content.decode()
    assert invite.code in page
    assert f"http://testserver/teams/join/{invite.code}/" in page


def test_plain_member_can_invite_too(client, team_a, invite, make_user):
    member = make_user()
    join_team(user=member, code=invite.code)
    client.force_login(member)
    client.post(reverse("invite_create", args=[team_a.slug]))
    assert Invite.objects.filter(team=team_a, created_by=member).exists()


def test_join_with_a_code(client, team_a, invite, make_user):
    user = make_user("lena")
    client.force_login(user)
    response = client.post(reverse("team_join_code"), {"code": f" {invite.code} "})
    assert response.url == team_a.get_absolute_url()
    assert Membership.objects.get(team=team_a, user=user).role == Membership.Role.MEMBER
    assert client.session[SESSION_KEY] == team_a.pk
    invite.refresh_from_db()
    assert invite.uses == 1


def test_join_with_a_pasted_link(client, team_a, invite, make_user):
    client.force_login(make_user())
    client.post(reverse("team_join_code"), {"code": f"http://testserver/teams/join/{invite.code}/"})
    assert team_a.memberships.count() == 2


def test_wrong_code_is_a_form_error(client, make_user):
    client.force_login(make_user())
    response = client.post(reverse("team_join_code"), {"code": "nope"})
    assert response.status_code == 200
    assert "not valid" in response.content.decode()


def test_invite_link_asks_anonymous_visitors_to_log_in_and_come_back(client, invite):
    link = reverse("team_join", args=[invite.code])
    response = client.get(link)
    assert response.status_code == 302
    assert response.url == f"{reverse('login')}?next={link}"


def test_invite_link_confirms_then_joins(client, team_a, invite, make_user):
    user = make_user("mo")
    client.force_login(user)
    link = reverse("team_join", args=[invite.code])
    page = client.get(link)
    assert page.status_code == 200 and "Join Team Alpha?" in page.content.decode()
    assert not team_a.memberships.filter(user=user).exists()  # GET never joins
    response = client.post(link)
    assert response.url == team_a.get_absolute_url()
    assert team_a.memberships.filter(user=user).exists()


def test_joining_twice_does_not_count_twice(client, team_a, invite, make_user):
    client.force_login(make_user())
    link = reverse("team_join", args=[invite.code])
    client.post(link)
    client.post(link)
    invite.refresh_from_db()
    assert invite.uses == 1


def test_captain_revokes_and_the_link_stops_working(client, team_a, invite, make_user):
    client.force_login(team_a.captain)
    client.post(reverse("invite_revoke", args=[team_a.slug, invite.pk]))
    invite.refresh_from_db()
    assert invite.revoked
    assert invite.code not in client.get(team_a.get_absolute_url()).content.decode()
    client.force_login(make_user())
    assert client.get(reverse("team_join", args=[invite.code])).status_code == 404
    response = client.post(reverse("team_join_code"), {"code": invite.code})
    assert "not valid" in response.content.decode()


def test_member_cannot_revoke(client, team_a, invite, make_user):
    member = make_user()
    join_team(user=member, code=invite.code)
    client.force_login(member)
    response = client.post(reverse("invite_revoke", args=[team_a.slug, invite.pk]), follow=True)
    assert "Only the team captain" in response.content.decode()
    invite.refresh_from_db()
    assert not invite.revoked


def test_revoke_of_another_teams_invite_is_404(client, team_a, team_b):
    other = create_invite(user=team_b.captain, team=team_b)
    client.force_login(team_a.captain)
    assert client.post(reverse("invite_revoke", args=[team_a.slug, other.pk])).status_code == 404
    other.refresh_from_db()
    assert not other.revoked
