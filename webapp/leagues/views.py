"""Public league and event pages, and team registration for the current team."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from . import selectors, services


def league_list(request: HttpRequest) -> HttpResponse:
    leagues = selectors.league_list_rows(request.user)
    return render(request, "leagues/league_list.html", {"leagues": leagues})


def league_detail(request: HttpRequest, slug: str) -> HttpResponse:
    league = selectors.league_or_404(request.user, slug)
    context = {
        "league": league,
        "events": selectors.visible_events(request.user, league),
        "is_organiser": selectors.is_organiser(request.user, league),
    }
    return render(request, "leagues/league_detail.html", context)


def event_detail(request: HttpRequest, slug: str, event_id: int) -> HttpResponse:
    event = selectors.event_or_404(request.user, slug, event_id)
    team = getattr(request, "team", None)
    registration = selectors.registration_of(event, team)
    context = {
        "league": event.league,
        "event": event,
        "registrations": selectors.registrations_of_event(event),
        "standings": selectors.leaderboard(event),
        "team": team,
        "registration": registration,
        "registration_problem": services.registration_problem(team, event) if team and not registration else None,
    }
    return render(request, "leagues/event_detail.html", context)


def _registration_action(request: HttpRequest, slug: str, event_id: int, action, success: str) -> HttpResponse:
    event = selectors.event_or_404(request.user, slug, event_id)
    team = request.team
    if team is None:
        messages.error(request, "Create or join a team first.")
        return redirect("dashboard")
    try:
        action(team, event)
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, " ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc))
    else:
        messages.success(request, success.format(team=team.name))
    return redirect(event)


@login_required
@require_POST
def event_register(request: HttpRequest, slug: str, event_id: int) -> HttpResponse:
    return _registration_action(
        request, slug, event_id,
        lambda team, event: services.register_team(user=request.user, team=team, event=event),
        "“{team}” is registered.",
    )


@login_required
@require_POST
def event_unregister(request: HttpRequest, slug: str, event_id: int) -> HttpResponse:
    return _registration_action(
        request, slug, event_id,
        lambda team, event: services.unregister_team(user=request.user, team=team, event=event),
        "“{team}” is no longer registered.",
    )
