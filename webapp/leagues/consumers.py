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

import time

from channels.generic.websocket import AsyncWebsocketConsumer

from webapp.accounts.socket_auth import socket_db
from webapp.core.shared_reads import SharedReads
from webapp.jobs.consumers import RetryingLayerReceive

from . import selectors
from .boards import cached_board_json
from .live import group_name
from .models import Event

#: Close codes: no such event for this viewer (or none at all).
CLOSE_NOT_FOUND = 4404


def viewer_access(user, event_id: int) -> bool | None:
    """None when the user may not see the event; else whether they get the private board."""
    event = Event.objects.select_related("league").filter(pk=event_id).first()
    if event is None or not selectors.visible_leagues(user).filter(pk=event.league_id).exists():
        return None
    organiser = selectors.is_organiser(user, event.league)
    if event.status == Event.Status.DRAFT and not organiser:
        return None
    return organiser or selectors.can_keep_time(user, event)


def _board_json(key: tuple[int, bool]) -> str | None:
    return cached_board_json(key[0], private=key[1])


async def _read_board(key) -> str | None:
    return await socket_db(_board_json)(key)


shared_boards: SharedReads[str | None] = SharedReads(_read_board)


class EventBoardConsumer(AsyncWebsocketConsumer):
    @property
    def channel_receive(self):
        return self._channel_receive

    @channel_receive.setter
    def channel_receive(self, receive):
        """A layer read that times out or loses Redis is retried (as the job socket's), instead of
        Daphne closing a venue's screen with 1011."""
        self._channel_receive = RetryingLayerReceive(self.channel_layer, self.channel_name, receive)

    async def connect(self):
        event_id = int(self.scope["url_route"]["kwargs"]["event_id"])
        access = await socket_db(viewer_access)(self.scope.get("user"), event_id)
        if access is None:
            await self.close(code=CLOSE_NOT_FOUND)
            return
        self.event_id, self.private = event_id, access
        self.group = group_name(event_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        await self._send_board(time.monotonic())

    async def disconnect(self, code):
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive(self, text_data=None, bytes_data=None):
        if text_data and '"refresh"' in text_data:
            await self._send_board(time.monotonic())

    async def leaderboard_changed(self, message):
        await self._send_board(time.monotonic())

    async def layer_reconnected(self, message):
        """Redis answers again: join the group again (a Redis that restarted empty lost it) and send
        the board, since a change may have been missed meanwhile."""
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self._send_board(time.monotonic())

    async def _send_board(self, since: float) -> None:
        text = await shared_boards.get((self.event_id, self.private), since=since)
        if text is None:  # the event was deleted
            await self.close(code=CLOSE_NOT_FOUND)
            return
        await self.send(text_data=f'{{"sent_at":{time.time():.3f},{text[1:]}')
