"""The one hook every race-operations change calls: `notify_event(event_id)` tells the event's live
viewers (the Channels group "event.<id>") that its leaderboard changed, once the change is committed.
Consumers and payloads are built on this message; a channel layer that is missing or down never
breaks the change itself."""

from __future__ import annotations

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

logger = logging.getLogger(__name__)

MESSAGE_TYPE = "leaderboard.changed"


def group_name(event_id: int) -> str:
    return f"event.{event_id}"


def _send(event_id: int) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(group_name(event_id), {"type": MESSAGE_TYPE, "event_id": event_id})
    except Exception:  # a live-update failure must never undo a recorded lap
        logger.warning("Could not notify the live viewers of event %s", event_id, exc_info=True)


def notify_event(event_id: int) -> None:
    """After the current transaction commits (at once outside one), send "leaderboard.changed"."""
    transaction.on_commit(lambda: _send(event_id))
