"""Tell a user's open websockets that their team memberships changed.

Every job websocket joins its user's group (`user_group`); the consumer re-reads the user's teams
when this message arrives and closes the socket if a team was lost, so a removed member stops
seeing that team's jobs at once. Best effort like job notifications: the consumer also checks the
membership of every job update it forwards, so a lost message costs nothing but a later close.
"""

from __future__ import annotations

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

logger = logging.getLogger(__name__)

MEMBERSHIP_CHANGED = "membership.changed"


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


def notify_membership_changed(user_id: int) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(user_group(user_id), {"type": MEMBERSHIP_CHANGED})
    except Exception:
        logger.warning("Could not tell user %s's sockets that their teams changed", user_id, exc_info=True)
