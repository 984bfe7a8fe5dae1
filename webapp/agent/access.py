"""Who may download the agent wheel without a browser: a team API token (`Authorization: Bearer
plt_...`, checked exactly as the API checks it: revoked and expired tokens are refused).

Why: a car's Raspberry Pi has no browser to log in with, so `curl` with the team's token must
fetch the wheel. The wheel is the same for every team (it is built from this server's code and
carries no team data), so any team's valid token may fetch it from any team's agent URL; a request
with neither a token nor a login is still refused."""

from __future__ import annotations

from rest_framework.exceptions import AuthenticationFailed

from webapp.api.authentication import TeamTokenAuthentication
from webapp.api.models import ApiToken

__all__ = ["AuthenticationFailed", "bearer_token"]


def bearer_token(request) -> ApiToken | None:
    """The valid API token the request carries, or None when it has no `Authorization: Bearer` header.
    Raises AuthenticationFailed (its detail says why) for a malformed, unknown, revoked or expired one."""
    found = TeamTokenAuthentication().authenticate(request)
    return None if found is None else found[1]
