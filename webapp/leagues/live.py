"""The one hook every race-operations change calls: `notify_event(event_id)` bumps the event's
`board_version` in the change's own transaction and, once that commits, tells the event's live
viewers (the Channels group "event.<id>") that its leaderboard changed, with the new version.

Viewers (webapp.leagues.consumers) fetch the leaderboard for that version once per web process
(webapp.leagues.boards); the event page keys its cached leaderboard on the same version, so every
process serves the same results right after a change. A channel layer that is missing or down never
breaks the change itself: the lap is recorded and the pages show it on the next load."""

from __future__ import annotations

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction
from django.db.models import F

logger = logging.getLogger(__name__)

MESSAGE_TYPE = "leaderboard.changed"


def group_name(event_id: int) -> str:
    return f"event.{event_id}"


def _send(event_id: int, version: int | None) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(group_name(event_id),
                                        {"type": MESSAGE_TYPE, "group": group_name(event_id),
                                         "event_id": event_id, "version": version})
    except Exception:  # a live-update failure must never undo a recorded lap
        logger.warning("Could not notify the live viewers of event %s", event_id, exc_info=True)


def notify_event(event_id: int) -> None:
    """Bump the event's board version now (inside the caller's transaction, so the version and the
    change commit together) and, after the transaction commits (at once outside one), send
    "leaderboard.changed" with it."""
    from .models import Event

    Event.objects.filter(pk=event_id).update(board_version=F("board_version") + 1)
    version = Event.objects.filter(pk=event_id).values_list("board_version", flat=True).first()
    transaction.on_commit(lambda: _send(event_id, version))
