"""`Authorization: Bearer plt_...` authenticates as a team, not as a person."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Q
from django.utils import timezone
from rest_framework import authentication, exceptions

from .models import LAST_USED_RESOLUTION_S, TOKEN_PREFIX, ApiToken, hash_token


class TeamPrincipal:
    """The request.user of a token request: authenticated, belongs to exactly one team."""

    is_authenticated = True
    is_anonymous = False
    is_staff = False
    is_superuser = False

    def __init__(self, token: ApiToken):
        self.token = token
        self.team = token.team
        self.pk = None
        self.username = f"token:{token.prefix}"

    def __str__(self) -> str:
        return self.username


class TeamTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        scheme, _, raw = header.partition(" ")
        if scheme.lower() != self.keyword.lower():
            return None
        raw = raw.strip()
        if not raw.startswith(TOKEN_PREFIX):
            raise exceptions.AuthenticationFailed("Malformed API token: team tokens start with 'plt_'.")
        token = ApiToken.objects.select_related("team").filter(token_hash=hash_token(raw)).first()
        if token is None or token.revoked is not None:
            raise exceptions.AuthenticationFailed("Invalid or revoked API token.")
        if token.is_expired:
            raise exceptions.AuthenticationFailed(
                f"This API token expired on {token.expires:%Y-%m-%d %H:%M} UTC: "
                "create a new one on your team's API tokens page."
            )
        now = timezone.now()
        if token.last_used is None or (now - token.last_used).total_seconds() >= LAST_USED_RESOLUTION_S:
            # One write a minute per token at most, and only if no other request wrote it meanwhile.
            stale = now - timedelta(seconds=LAST_USED_RESOLUTION_S)
            ApiToken.objects.filter(pk=token.pk).filter(Q(last_used__isnull=True) | Q(last_used__lte=stale)).update(
                last_used=now
            )
        return TeamPrincipal(token), token

    def authenticate_header(self, request):
        return self.keyword
