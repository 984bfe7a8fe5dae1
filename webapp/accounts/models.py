"""Teams and their members. Everything a team owns hangs off `Team`."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone

from webapp.core.slugs import unique_slug

# Slugs that would collide with the fixed /teams/<word>/ pages.
RESERVED_TEAM_SLUGS = frozenset({"new", "join", "switch"})


def new_invite_code() -> str:
    # 10 characters of a URL-safe alphabet: short enough to read out, long enough not to guess.
    return secrets.token_urlsafe(8)[:10]


class Team(models.Model):
    name = models.CharField(max_length=80, unique=True)
    slug = models.SlugField(max_length=90, unique=True)
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, through="Membership", related_name="teams")
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs):
        if not self.slug:
            self.slug = unique_slug(self, self.name, fallback="team", max_length=80, reserved=RESERVED_TEAM_SLUGS)
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("team_detail", args=[self.slug])

    @property
    def captain(self):
        membership = self.memberships.filter(role=Membership.Role.CAPTAIN).select_related("user").first()
        return membership.user if membership else None


class Membership(models.Model):
    class Role(models.TextChoices):
        CAPTAIN = "captain", "Captain"
        MEMBER = "member", "Member"

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)
    joined = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["team", "user"], name="one_membership_per_team"),
            models.UniqueConstraint(
                fields=["team"], condition=models.Q(role="captain"), name="one_captain_per_team"
            ),
        ]
        ordering = ["joined"]

    def __str__(self) -> str:
        return f"{self.user} in {self.team} ({self.role})"

    @property
    def is_captain(self) -> bool:
        return self.role == self.Role.CAPTAIN


class Invite(models.Model):
    """A reusable invite code; the link form is /teams/join/<code>/."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="invites")
    code = models.CharField(max_length=16, unique=True, default=new_invite_code)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True)
    created = models.DateTimeField(default=timezone.now)
    expires = models.DateTimeField(null=True, blank=True)
    revoked = models.BooleanField(default=False)
    uses = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created"]

    def __str__(self) -> str:
        return f"{self.team} invite {self.code}"

    def get_absolute_url(self) -> str:
        return reverse("team_join", args=[self.code])

    @property
    def is_usable(self) -> bool:
        return not self.revoked and (self.expires is None or self.expires > timezone.now())
