"""The "Organisers" group: model permissions on the leagues app. Scoping to a user's own leagues
happens in the admin classes; the group only opens the admin pages."""

from __future__ import annotations

from django.contrib.auth.models import Group, Permission

ORGANISER_GROUP = "Organisers"
# League: organisers edit theirs but do not create or delete leagues (superusers do).
ORGANISER_PERMISSIONS = {
    "league": ("view", "change"),
    "event": ("view", "add", "change", "delete"),
    "registration": ("view", "add", "change", "delete"),
    "lapresult": ("view", "add", "change", "delete"),
    # Race operations (migration 0004 gives an existing group these).
    "round": ("view", "add", "change", "delete"),
    "heat": ("view", "change"),
    "attempt": ("view",),
    "auditentry": ("view",),
    "timerdevice": ("view", "add", "change"),
    "crossing": ("view",),
}


def organiser_codenames() -> list[str]:
    return [f"{action}_{model}" for model, actions in ORGANISER_PERMISSIONS.items() for action in actions]


def organiser_group() -> Group:
    """The group with exactly its permissions (the data migration creates it; this keeps it whole)."""
    group, _ = Group.objects.get_or_create(name=ORGANISER_GROUP)
    permissions = Permission.objects.filter(content_type__app_label="leagues", codename__in=organiser_codenames())
    group.permissions.add(*permissions)
    return group
