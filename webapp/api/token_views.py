"""Team API tokens in the web UI: create (the secret is shown once), list, revoke."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from webapp.accounts.selectors import membership_or_404

from .models import ApiToken


@login_required
def token_list(request, team_slug: str):
    team = membership_or_404(request.user, team_slug).team
    new_secret = None
    if request.method == "POST":
        token, new_secret = ApiToken.issue(team=team, user=request.user, name=request.POST.get("name", ""))
        messages.success(request, f"Token “{token.name}” created. Copy it now: it will not be shown again.")
    tokens = ApiToken.objects.filter(team=team).select_related("created_by")
    return render(request, "api/tokens.html", {"team": team, "tokens": tokens, "new_secret": new_secret})


@login_required
@require_POST
def token_revoke(request, team_slug: str, token_id: int):
    team = membership_or_404(request.user, team_slug).team
    token = get_object_or_404(ApiToken, team=team, pk=token_id)
    if token.revoked is None:
        token.revoked = timezone.now()
        token.save(update_fields=["revoked"])
        messages.info(request, f"Token “{token.name}” revoked.")
    return redirect("api_tokens", team_slug=team.slug)
