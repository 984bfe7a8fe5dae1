"""Team API tokens in the web UI: create (the secret is shown once), list, revoke."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from webapp.accounts.selectors import membership_or_404

from . import services
from .forms import ON_DATE, TokenForm
from .models import ApiToken


@login_required
def token_list(request, team_slug: str):
    team = membership_or_404(request.user, team_slug).team
    new_secret = None
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            token, new_secret = services.issue_token(
                team=team, user=request.user, name=form.cleaned_data["name"], **form.expiry(),
            )
        except ValidationError as exc:
            form.add_error("expires_on" if form.cleaned_data["expires_in"] == ON_DATE else "expires_in", exc)
        else:
            messages.success(request, f"Token “{token.name}” created. Copy it now: it will not be shown again.")
            form = TokenForm()
    tokens = ApiToken.objects.filter(team=team).select_related("created_by")
    return render(request, "api/tokens.html", {"team": team, "tokens": tokens, "new_secret": new_secret, "form": form})


@login_required
@require_POST
def token_revoke(request, team_slug: str, token_id: int):
    team = membership_or_404(request.user, team_slug).team
    token = get_object_or_404(ApiToken, team=team, pk=token_id)
    if services.revoke_token(token):
        messages.info(request, f"Token “{token.name}” revoked.")
    return redirect("api_tokens", team_slug=team.slug)
