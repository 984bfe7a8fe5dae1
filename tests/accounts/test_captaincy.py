"""The captain removes members and hands over the captaincy; nobody else can."""

import pytest
from django.urls import reverse

from webapp.accounts.models import Membership
from webapp.accounts.services import create_invite, join_team

pytestmark = pytest.mark.django_db


@pytest.fixture
def member(team_a, make_user):
    user = make_user("nina")
    join_team(user=user, code=create_invite(user=team_a.captain, team=team_a).code)
    return user


def test_captain_hands_over_captaincy(client, team_a, member):
    captain = team_a.captain
    client.force_login(captain)
    response = client.post(reverse("member_make_captain", args=[team_a.slug, member.pk]), follow=True)
    assert "Captaincy handed over" in response.content.decode()
    assert team_a.captain == member
    assert Membership.objects.get(team=team_a, user=captain).role == Membership.Role.MEMBER


def test_member_cannot_take_the_captaincy(client, team_a, member):
    client.force_login(member)
    response = client.post(reverse("member_make_captain", args=[team_a.slug, member.pk]), follow=True)
    assert "Only the team captain" in response.content.decode()
    assert team_a.captain != member


def test_captain_removes_a_member(client, team_a, member):
    client.force_login(team_a.captain)
    client.post(reverse("member_remove", args=[team_a.slug, member.pk]))
    assert not team_a.memberships.filter(user=member).exists()


def test_member_cannot_remove_anyone(client, team_a, member):
    client.force_login(member)
    response = client.post(reverse("member_remove", args=[team_a.slug, team_a.captain.pk]), follow=True)
    assert "Only the team captain" in response.content.decode()
    assert team_a.memberships.count() == 2


def test_captain_cannot_remove_themselves(client, team_a, member):
    captain = team_a.captain
    client.force_login(captain)
    response = client.post(reverse("member_remove", args=[team_a.slug, captain.pk]), follow=True)
    assert "hand over the captaincy first" in response.content.decode()


def test_captain_must_hand_over_before_leaving(client, team_a, member):
    captain = team_a.captain
    client.force_login(captain)
    response = client.post(reverse("team_leave", args=[team_a.slug]), follow=True)
    assert "Hand the captaincy to another member" in response.content.decode()
    client.post(reverse("member_make_captain", args=[team_a.slug, member.pk]))
    client.post(reverse("team_leave", args=[team_a.slug]))
    assert list(team_a.memberships.values_list("user", flat=True)) == [member.pk]


def test_removed_member_loses_access(client, team_a, member):
    client.force_login(team_a.captain)
    client.post(reverse("member_remove", args=[team_a.slug, member.pk]))
    client.force_login(member)
    assert client.get(team_a.get_absolute_url()).status_code == 404


def test_only_the_captain_sees_member_actions(client, team_a, member):
    client.force_login(member)
    page = client.get(team_a.get_absolute_url()).content.decode()
    assert "Make captain" not in page and ">Remove<" not in page
    client.force_login(team_a.captain)
    page = client.get(team_a.get_absolute_url()).content.decode()
    assert "Make captain" in page
