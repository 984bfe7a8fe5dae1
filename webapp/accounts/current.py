"""Which team the user is working in: kept in the session, resolved on every request."""

from __future__ import annotations

SESSION_KEY = "current_team_id"


def remember_current_team(request, team) -> None:
    request.session[SESSION_KEY] = team.pk
    request.team = team


def forget_current_team(request, team) -> None:
    """After leaving a team: fall back to another team on the next request."""
    if request.session.get(SESSION_KEY) == team.pk:
        del request.session[SESSION_KEY]
