"""Public league and event pages, and team registration for the current team."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from . import boards, plausibility, selectors, services


def league_list(request: HttpRequest) -> HttpResponse:
    leagues = selectors.league_list_rows(request.user)
    return render(request, "leagues/league_list.html", {"leagues": leagues})


def event_detail(request: HttpRequest, slug: str, event_id: int) -> HttpResponse:
    event = selectors.event_or_404(request.user, slug, event_id)
    team = getattr(request, "team", None)
    registration = selectors.registration_of(event, team)
    context = {
        "league": event.league,
        "event": event,
        "registrations": selectors.registrations_of_event(event),
        "board_html": boards.cached_board_html(event, private=selectors.sees_private_results(request.user, event)),
        "my_team_id": team.pk if team else 0,
        "can_keep_time": selectors.can_keep_time(request.user, event),
        "plausible_minimum_s": plausibility.plausible_minimum_s(event) if event.kind == event.Kind.PHYSICAL else None,
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


def event_board_json(request: HttpRequest, slug: str, event_id: int) -> JsonResponse:
    """The live leaderboard document (what /ws/events/<id>/ sends): the pages' fallback while their
    socket reconnects, and a feed for a venue's own graphics."""
    event = selectors.event_or_404(request.user, slug, event_id)
    response = JsonResponse(boards.cached_board(event, private=selectors.sees_private_results(request.user, event)))
    response["Cache-Control"] = "no-store"
    return response


def event_screen(request: HttpRequest, slug: str, event_id: int) -> HttpResponse:
    """Big-screen leaderboard for the venue's projector: large type, the team on track and its timer."""
    event = selectors.event_or_404(request.user, slug, event_id)
    board = boards.cached_board(event, private=selectors.sees_private_results(request.user, event))
    return render(request, "leagues/event_screen.html", {"league": event.league, "event": event, "board": board})


def event_overlay(request: HttpRequest, slug: str, event_id: int) -> HttpResponse:
    """Streaming overlay (transparent background, e.g. an OBS browser source): the top rows and the
    team on track, driven by the same live document; `?rows=N` sets how many rows (default 5)."""
    event = selectors.event_or_404(request.user, slug, event_id)
    board = boards.cached_board(event, private=selectors.sees_private_results(request.user, event))
    try:
        rows = max(1, min(64, int(request.GET.get("rows", 5))))
    except ValueError:
        rows = 5
    return render(request, "leagues/event_overlay.html",
                  {"league": event.league, "event": event, "board": board, "max_rows": rows})
