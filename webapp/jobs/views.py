"""Job pages of a team: list, detail and cancel. State comes from the database; the page's script
subscribes to the websocket for live updates."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from webapp.accounts.selectors import membership_or_404

from . import selectors, services


@login_required
def job_list(request, team_slug: str):
    team = membership_or_404(request.user, team_slug).team
    return render(request, "jobs/job_list.html", {"team": team, "jobs": selectors.jobs_of_team(team, limit=200)})


@login_required
def job_detail(request, team_slug: str, job_id: int):
    team = membership_or_404(request.user, team_slug).team
    job = selectors.job_of_team_or_404(team, job_id)
    return render(request, "jobs/job_detail.html", {"team": team, "job": job})


@login_required
def job_state(request, team_slug: str, job_id: int):
    """The job as JSON: what the page re-reads after a reconnect."""
    team = membership_or_404(request.user, team_slug).team
    job = selectors.job_of_team_or_404(team, job_id)
    return JsonResponse({**job.as_event(), "log_tail": job.log_tail, "result": job.result})


@login_required
@require_POST
def job_cancel(request, team_slug: str, job_id: int):
    team = membership_or_404(request.user, team_slug).team
    job = selectors.job_of_team_or_404(team, job_id)
    try:
        services.request_cancel(job=job)
        messages.info(request, f"Cancelling job {job.pk}.")
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    next_url = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()},
                                           require_https=request.is_secure()):
        next_url = job.get_absolute_url()  # never bounce a user to another site
    return redirect(next_url)
