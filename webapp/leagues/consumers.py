"""Websocket of an event's live leaderboard (`/ws/events/<id>/`): the event page, the venue's big
screen and the streaming overlay.

Anyone who may see the event page may follow it (spectators need no account); organisers and the
event's timekeepers get the private board (results of a hidden final before they are revealed).
On connect and on every `leaderboard.changed` message (webapp.leagues.live) the socket sends the
board document (webapp.leagues.boards). All sockets of a process that are told about the same
change share one read (`SharedReads`), which starts after the message arrived, so a viewer never
gets the board from before the change. `sent_at` (server time) lets a page count the race timer
down from the server's clock.
"""

from __future__ import annotations

import logging
import time

from channels.generic.websocket import AsyncWebsocketConsumer
from channels.layers import get_channel_layer

from webapp.accounts.socket_auth import socket_db
from webapp.core.group_fanout import group_fanout
from webapp.core.shared_reads import SharedReads

from . import selectors
from .boards import cached_board_json
from .live import group_name
from .models import Event

#: Close codes: no such event for this viewer (or none at all); Redis gone past the retries.
CLOSE_NOT_FOUND = 4404
CLOSE_LAYER_LOST = 1011

logger = logging.getLogger(__name__)


def viewer_access(user, event_id: int) -> bool | None:
    """None when the user may not see the event; else whether they get the private board."""
    event = Event.objects.select_related("league").filter(pk=event_id).first()
    if event is None or not selectors.visible_leagues(user).filter(pk=event.league_id).exists():
        return None
    if event.status == Event.Status.DRAFT and not selectors.is_organiser(user, event.league):
        return None
    return selectors.sees_private_results(user, event)


def _board_json(key: tuple[int, bool]) -> str | None:
    return cached_board_json(key[0], private=key[1])


async def _read_board(key) -> str | None:
    return await socket_db(_board_json)(key)


shared_boards: SharedReads[str | None] = SharedReads(_read_board)


class EventBoardConsumer(AsyncWebsocketConsumer):
    #: No channel of its own: the process's group fanout (webapp.core.group_fanout) delivers the
    #: event's messages, one Redis message per process instead of one per viewer.
    channel_layer_alias = "pitlane.board-sockets-have-no-channel"

    async def connect(self):
        event_id = int(self.scope["url_route"]["kwargs"]["event_id"])
        access = await socket_db(viewer_access)(self.scope.get("user"), event_id)
        if access is None:
            await self.close(code=CLOSE_NOT_FOUND)
            return
        self.event_id, self.private = event_id, access
        self.group = group_name(event_id)
        self.layer = get_channel_layer()
        await self.accept()
        if self.layer is not None:
            await group_fanout.subscribe(self.layer, self.group, self._on_group_message)
        await self._send_board(time.monotonic())

    async def disconnect(self, code):
        if getattr(self, "layer", None) is not None:
            await group_fanout.unsubscribe(self.layer, self.group, self._on_group_message)

    async def receive(self, text_data=None, bytes_data=None):
        if text_data and '"refresh"' in text_data:
            await self._send_board(time.monotonic())

    async def _on_group_message(self, message):
        """A change of the event (`leaderboard.changed`), or Redis back after a stall (a change may
        have been missed): send the board; Redis gone for good: close (the page polls)."""
        if message.get("type") == "layer.lost":
            await self.close(code=CLOSE_LAYER_LOST)
            return
        try:
            await self._send_board(time.monotonic())
        except Exception:  # a socket that went away meanwhile
            logger.debug("Board socket of event %s: send failed", self.event_id, exc_info=True)

    async def _send_board(self, since: float) -> None:
        text = await shared_boards.get((self.event_id, self.private), since=since)
        if text is None:  # the event was deleted
            await self.close(code=CLOSE_NOT_FOUND)
            return
        await self.send(text_data=f'{{"sent_at":{time.time():.3f},{text[1:]}')
