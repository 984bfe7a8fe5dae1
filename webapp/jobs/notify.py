"""Tell browsers that a job changed. Best effort: the database already holds the new state, so a
lost notification costs a user nothing more than a stale bar until the page re-reads it."""

from __future__ import annotations

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

logger = logging.getLogger(__name__)


def team_group(team_id: int) -> str:
    return f"team.{team_id}"


def notify_job(job) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(team_group(job.team_id), {"type": "job.update", "job": job.as_event()})
    except Exception:
        logger.warning("Could not notify browsers about job %s", job.pk, exc_info=True)
