"""The Drive agent page: install the agent and copy the exact commands for the team's models."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.http import FileResponse, HttpResponse
from django.shortcuts import get_object_or_404, render

from drive_agent.speed import default_set_speeds
from webapp.accounts.models import Team
from webapp.accounts.selectors import membership_or_404
from webapp.garage.models import TrainedModel

from . import access, wheel


@login_required
def agent_page(request, team_slug: str):
    team = membership_or_404(request.user, team_slug).team
    server = request.build_absolute_uri("/").rstrip("/")
    models = TrainedModel.objects.filter(team=team).order_by("-created")[:50]
    context = {"team": team, "server": server, "models": models, **wheel.describe(),
               "default_speeds": default_set_speeds()}
    return render(request, "agent/agent.html", context)


def agent_wheel(request, team_slug: str):
    """The wheel, for a member of the team logged in, or for any team's API token (a headless car)."""
    try:
        token = access.bearer_token(request)
    except access.AuthenticationFailed as exc:
        refused = HttpResponse(f"{exc.detail}\n", status=401, content_type="text/plain")
        refused["WWW-Authenticate"] = "Bearer"
        return refused
    if token is not None:
        get_object_or_404(Team, slug=team_slug)
    elif not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    else:
        membership_or_404(request.user, team_slug)
    try:
        path = wheel.agent_wheel()
    except wheel.WheelBuildError as exc:
        return HttpResponse(f"The drive-agent wheel could not be built: {exc}", status=503,
                            content_type="text/plain")
    return FileResponse(path.open("rb"), as_attachment=True, filename=path.name,
                        content_type="application/zip")
