"""Per-team API tokens. Only a SHA-256 of the secret is stored; the secret is shown once."""

from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone

TOKEN_PREFIX = "plt_"
# A token's last-used time is written at most once per this many seconds, not on every request.
LAST_USED_RESOLUTION_S = 60


def hash_token(raw: str) -> str:
    # Tokens carry 256 bits of randomness, so a fast unsalted hash is safe and lets us look them up.
    return hashlib.sha256(raw.encode()).hexdigest()


class ApiToken(models.Model):
    team = models.ForeignKey("accounts.Team", on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=80)
    prefix = models.CharField(max_length=16, help_text="The first characters, to recognise a token.")
    token_hash = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True)
    created = models.DateTimeField(default=timezone.now)
    last_used = models.DateTimeField(null=True, blank=True,
                                     help_text="Written at most once a minute, not on every request.")
    expires = models.DateTimeField(null=True, blank=True, help_text="Refused from this moment on; empty: never.")
    revoked = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_expired(self) -> bool:
        return self.expires is not None and self.expires <= timezone.now()

    @property
    def is_active(self) -> bool:
        """Accepted by the API: neither revoked nor expired."""
        return self.revoked is None and not self.is_expired

    @classmethod
    def issue(cls, *, team, user, name: str, expires=None) -> tuple[ApiToken, str]:
        """A new token and its secret (returned once). Expiry rules: `webapp.api.services.issue_token`."""
        raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
        token = cls.objects.create(
            team=team, created_by=user, name=name.strip() or "token", prefix=raw[:12], token_hash=hash_token(raw),
            expires=expires,
        )
        return token, raw
