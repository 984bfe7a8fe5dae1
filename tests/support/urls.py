"""The site's URLs plus one test-only endpoint that queues the countdown job."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect
from django.urls import include, path
from django.views.decorators.http import require_POST

from webapp.accounts.selectors import membership_or_404
from webapp.jobs.services import start_job


@login_required
@require_POST
def start_countdown(request, team_slug):
    team = membership_or_404(request.user, team_slug).team
    params = {k: v for k, v in request.POST.items() if k in {"steps", "delay_s", "marker", "fail"}}
    job = start_job(team=team, user=request.user, kind="test.countdown", params=params, title="Countdown")
    return redirect(job.get_absolute_url())


urlpatterns = [
    path("teams/<slug:team_slug>/test-countdown/", start_countdown, name="test_start_countdown"),
    path("", include("webapp.urls")),
]
