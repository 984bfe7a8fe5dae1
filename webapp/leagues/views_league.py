"""League page (virtual and physical results side by side, sim-to-real gap, season standings), and an
event's results pages and actions (issue 12): CSV exports, podium, revealing hidden results,
registration approval, the submission a team picks in a virtual event. Rules live in `selectors`,
`results` and `exports`; these views only fetch, check who asks and render."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from . import exports, results, selectors
from .models import Event


def league_detail(request: HttpRequest, slug: str) -> HttpResponse:
    league = selectors.league_or_404(request.user, slug)
    summary = selectors.league_results(request.user, league)
    chart = [{"team": row["team"].name, "virtual": row["virtual_best_s"], "physical": row["physical_best_s"],
              "gap": row["gap"]} for row in summary["teams"] if row["gap"] is not None]
    context = {
        "league": league,
        "events": selectors.events_by_date(request.user, league),
        "is_organiser": selectors.is_organiser(request.user, league),
        "team_rows": summary["teams"],
        "season": summary["season"],
        "season_events": summary["season_events"],
        "gap_chart": chart,
    }
    return render(request, "leagues/league_detail.html", context)


def _organiser_event(request: HttpRequest, slug: str, event_id: int) -> Event:
    """The event, for an organiser of its league; 404 for anyone else (another league's organiser too)."""
    event = selectors.event_or_404(request.user, slug, event_id)
    if not selectors.is_organiser(request.user, event.league):
        raise Http404("No such event among those you organise.")
    return event


def _csv_response(text: str, filename: str) -> HttpResponse:
    response = HttpResponse(text, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response


def event_results_csv(request: HttpRequest, slug: str, event_id: int) -> HttpResponse:
    event = selectors.event_or_404(request.user, slug, event_id)
    return _csv_response(exports.results_csv(request.user, event), f"event-{event.pk}-results.csv")


def event_laps_csv(request: HttpRequest, slug: str, event_id: int) -> HttpResponse:
    event = selectors.event_or_404(request.user, slug, event_id)
    return _csv_response(exports.laps_csv(request.user, event), f"event-{event.pk}-laps.csv")


def event_podium(request: HttpRequest, slug: str, event_id: int) -> HttpResponse:
    event = selectors.event_or_404(request.user, slug, event_id)
    visible = selectors.results_visible(request.user, event)
    context = {"league": event.league, "event": event, "hidden": not visible,
               "podium": selectors.podium(event) if visible else [],
               "is_organiser": selectors.is_organiser(request.user, event.league)}
    return render(request, "leagues/podium.html", context)


@login_required
@require_POST
def event_reveal(request: HttpRequest, slug: str, event_id: int) -> HttpResponse:
    event = _organiser_event(request, slug, event_id)
    revealed = request.POST.get("revealed", "1") != "0"
    results.set_results_revealed(user=request.user, event=event, revealed=revealed)
    messages.success(request, "The results are public now." if revealed
                     else "The results are hidden from everyone but the organisers.")
    return redirect(event)


@login_required
def event_registrations(request: HttpRequest, slug: str, event_id: int) -> HttpResponse:
    event = _organiser_event(request, slug, event_id)
    context = {"league": event.league, "event": event, "pending": selectors.pending_registrations(event),
               "approved": event.registrations.filter(approved=True).select_related("team").order_by("created")}
    return render(request, "leagues/event_registrations.html", context)


@login_required
@require_POST
def registration_decide(request: HttpRequest, slug: str, event_id: int, registration_id: int) -> HttpResponse:
    event = _organiser_event(request, slug, event_id)
    registration = get_object_or_404(event.registrations.select_related("team", "event", "event__league"),
                                     pk=registration_id)
    approve = request.POST.get("decision") == "approve"
    try:
        results.decide_registration(user=request.user, registration=registration, approve=approve)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"“{registration.team.name}” is {'approved' if approve else 'rejected'}.")
    return redirect("event_registrations", slug=event.league.slug, event_id=event.pk)


@login_required
def event_submissions(request: HttpRequest, slug: str, event_id: int) -> HttpResponse:
    """The current team's submissions to a virtual event, and which one counts."""
    event = selectors.event_or_404(request.user, slug, event_id)
    team = getattr(request, "team", None)
    if event.kind != Event.Kind.VIRTUAL or team is None:
        raise Http404("Only a team's entries in a virtual event are listed here.")
    context = {"league": event.league, "event": event, "team": team,
               "submissions": selectors.team_submissions(event, team),
               "can_choose": event.status in (Event.Status.OPEN, Event.Status.RUNNING)}
    return render(request, "leagues/event_submissions.html", context)


@login_required
@require_POST
def submission_choose(request: HttpRequest, slug: str, event_id: int, submission_id: int) -> HttpResponse:
    event = selectors.event_or_404(request.user, slug, event_id)
    team = getattr(request, "team", None)
    if team is None:
        raise Http404
    submission = get_object_or_404(event.evaluation_submissions.select_related("evaluation__team", "event"),
                                   pk=submission_id, evaluation__team=team)  # another team's: 404
    try:
        results.choose_submission(user=request.user, submission=submission)
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, " ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc))
    else:
        messages.success(request,
                         f"The submission of {submission.created:%Y-%m-%d %H:%M:%S} counts for {team.name}.")
    return redirect("event_submissions", slug=event.league.slug, event_id=event.pk)
