"""Which teams an API request may see: the token's team, or the signed-in user's teams."""

from __future__ import annotations

from webapp.accounts.selectors import member_teams, team_as_queryset

from .authentication import TeamPrincipal


def api_teams(request):
    """A Team queryset: a token's one team, a signed-in user's teams, or none."""
    if isinstance(request.user, TeamPrincipal):
        return team_as_queryset(request.user.team)
    return member_teams(request.user)
