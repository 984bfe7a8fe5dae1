"""Team workflows: each function changes memberships consistently in one transaction."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from .models import Invite, Membership, Team
from .notify import notify_membership_changed


def _tell_sockets_after_commit(user_id: int) -> None:
    """Once the change is committed, the user's open job sockets re-check their teams."""
    transaction.on_commit(lambda: notify_membership_changed(user_id))


@transaction.atomic
def create_team(*, user, name: str) -> Team:
    name = name.strip()
    if not name:
        raise ValidationError("A team needs a name.")
    if Team.objects.filter(name__iexact=name).exists():
        raise ValidationError(f"A team called “{name}” already exists.")
    team = Team.objects.create(name=name)
    Membership.objects.create(team=team, user=user, role=Membership.Role.CAPTAIN)
    return team


def _captain_membership(user, team: Team) -> Membership:
    membership = Membership.objects.filter(team=team, user=user).first()
    if membership is None or not membership.is_captain:
        raise PermissionDenied("Only the team captain can do that.")
    return membership


def create_invite(*, user, team: Team) -> Invite:
    if not Membership.objects.filter(team=team, user=user).exists():
        raise PermissionDenied("Only members can invite.")
    return Invite.objects.create(team=team, created_by=user)


def revoke_invite(*, user, invite: Invite) -> None:
    _captain_membership(user, invite.team)
    invite.revoked = True
    invite.save(update_fields=["revoked"])


@transaction.atomic
def join_team(*, user, code: str) -> Team:
    invite = Invite.objects.select_for_update().select_related("team").filter(code=code.strip()).first()
    if invite is None or not invite.is_usable:
        raise ValidationError("This invite code is not valid (it may have been revoked or expired).")
    membership, created = Membership.objects.get_or_create(team=invite.team, user=user)
    if created:
        invite.uses += 1
        invite.save(update_fields=["uses"])
        _tell_sockets_after_commit(user.pk)
    return invite.team


@transaction.atomic
def leave_team(*, user, team: Team) -> None:
    membership = Membership.objects.select_for_update().filter(team=team, user=user).first()
    if membership is None:
        raise ValidationError("You are not in this team.")
    others = Membership.objects.filter(team=team).exclude(pk=membership.pk).order_by("joined")
    if membership.is_captain:
        successor = others.first()
        if successor is not None:
            raise ValidationError("Hand the captaincy to another member before you leave.")
        # The last member leaving dissolves the team's membership list; the team's work stays.
    membership.delete()
    _tell_sockets_after_commit(user.pk)


@transaction.atomic
def remove_member(*, user, team: Team, member_id: int) -> None:
    _captain_membership(user, team)
    membership = Membership.objects.filter(team=team, user_id=member_id).first()
    if membership is None:
        raise ValidationError("That person is not in this team.")
    if membership.is_captain:
        raise ValidationError("The captain cannot remove themselves; hand over the captaincy first.")
    membership.delete()
    _tell_sockets_after_commit(member_id)


@transaction.atomic
def transfer_captaincy(*, user, team: Team, member_id: int) -> None:
    current = _captain_membership(user, team)
    successor = Membership.objects.filter(team=team, user_id=member_id).first()
    if successor is None:
        raise ValidationError("The new captain must be a member of the team.")
    if successor.pk == current.pk:
        return
    current.role = Membership.Role.MEMBER
    current.save(update_fields=["role"])
    successor.role = Membership.Role.CAPTAIN
    successor.save(update_fields=["role"])
