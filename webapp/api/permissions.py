"""Which teams an API request may see: the token's team, or the signed-in user's teams."""

from __future__ import annotations

from webapp.accounts.models import Team

from .authentication import TeamPrincipal


def api_teams(request):
    if isinstance(request.user, TeamPrincipal):
        return Team.objects.filter(pk=request.user.team.pk)
    if request.user.is_authenticated:
        return Team.objects.filter(memberships__user=request.user)
    return Team.objects.none()
