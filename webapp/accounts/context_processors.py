"""Template variables for the nav's team switcher."""

from __future__ import annotations

from .selectors import teams_of


def teams(request) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"user_teams": [], "current_team": None}
    return {"user_teams": teams_of(user), "current_team": getattr(request, "team", None)}
