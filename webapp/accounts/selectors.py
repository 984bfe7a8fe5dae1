"""Read-side queries about teams; every team-scoped lookup goes through here."""

from __future__ import annotations

from django.http import Http404
from django.shortcuts import get_object_or_404

from .models import Invite, Membership, Team


def teams_of(user) -> list[Team]:
    return list(member_teams(user).order_by("name"))


def member_teams(user):
    """The teams the user is a member of, as a queryset (none for an anonymous visitor)."""
    if not user.is_authenticated:
        return Team.objects.none()
    return Team.objects.filter(memberships__user=user)


def team_as_queryset(team: Team):
    """Just this team, as a queryset (an API token acts for exactly one team)."""
    return Team.objects.filter(pk=team.pk)


def membership_or_404(user, slug: str) -> Membership:
    """The user's membership of the team; 404 (not 403) so other teams' names do not leak."""
    if not user.is_authenticated:
        raise Http404
    return get_object_or_404(Membership.objects.select_related("team"), team__slug=slug, user=user)


def is_member(user, team: Team) -> bool:
    return user.is_authenticated and Membership.objects.filter(team=team, user=user).exists()


def team_ids_of(user) -> list[int]:
    return team_ids_of_user_id(user.pk) if user.is_authenticated else []


def team_ids_of_user_id(user_id: int) -> list[int]:
    """The teams of a signed-in user known only by id (a websocket re-checking its user's teams)."""
    return list(Membership.objects.filter(user_id=user_id).values_list("team_id", flat=True))


def require_member(user, team: Team) -> None:
    if not is_member(user, team):
        raise Http404


def current_team(user, team_id) -> Team | None:
    """The team the user works in now: the session's choice if still a member, else their first team."""
    if not user.is_authenticated:
        return None
    teams = Team.objects.filter(memberships__user=user).order_by("name")
    if team_id is not None:
        chosen = teams.filter(pk=team_id).first()
        if chosen is not None:
            return chosen
    return teams.first()


def memberships_of_team(team: Team):
    return Membership.objects.filter(team=team).select_related("user").order_by("joined")


def active_invites_of_team(team: Team) -> list:
    """Invites still usable; revoked and expired ones stay in the database for the record only."""
    return [invite for invite in team.invites.select_related("created_by") if invite.is_usable]


def invite_of_team_or_404(team: Team, invite_id: int):
    return get_object_or_404(Invite, team=team, pk=invite_id)


def invite_by_code(code: str):
    return Invite.objects.select_related("team").filter(code=code.strip()).first()
