"""The event page's results links and organiser actions (issue 12): podium, CSV exports, the team's
entries in a virtual event, pending registrations, revealing hidden results. An inclusion tag, so
the event page's view needs nothing more in its context."""

from __future__ import annotations

from django import template

from .. import selectors
from ..models import Event

register = template.Library()


@register.inclusion_tag("leagues/_results_links.html", takes_context=True)
def event_results_links(context, event: Event) -> dict:
    request = context.get("request")
    user = getattr(request, "user", None)
    team = getattr(request, "team", None)
    organiser = user is not None and selectors.is_organiser(user, event.league)
    registration = selectors.registration_of(event, team)
    return {
        "event": event, "league": event.league, "csrf_token": context.get("csrf_token"),
        "is_organiser": organiser,
        "results_visible": event.results_revealed or (user is not None and selectors.sees_private_results(user, event)),
        "pending_count": selectors.pending_registrations(event).count() if organiser else 0,
        "my_entries": event.kind == Event.Kind.VIRTUAL and registration is not None,
    }

