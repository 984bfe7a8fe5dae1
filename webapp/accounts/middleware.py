"""Sets `request.team`, so every view and template knows the team the user works in."""

from __future__ import annotations

from .current import SESSION_KEY
from .selectors import current_team


class CurrentTeamMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            request.team = current_team(user, request.session.get(SESSION_KEY))
        else:
            request.team = None
        return self.get_response(request)
