"""One channel-layer subscription per web process for sockets that only listen to a group.

A venue's leaderboard has hundreds of viewers; with a channel per socket, every change is one
Redis message per viewer, and channels_redis hands them to the sockets one at a time (each a
round trip and a hand-over of its receive lock between hundreds of waiting coroutines). Sockets
that only follow a group (the event board: anonymous spectators, screens, overlays) subscribe here
instead: each process (event loop) has one channel, joined to every group one of its sockets
follows, and one reader that passes each message to the process's subscribers of its group. A
change costs one Redis message per process.

Messages must name their group (`"group": ...`). A reader whose Redis read fails retries with
back-off (`webapp.jobs.consumers.RetryingLayerReceive`); once Redis answers it joins its groups
again and hands every subscriber a `{"type": "layer.reconnected"}` message, since a change may
have been missed; if Redis stays away past the retries, `{"type": "layer.lost"}` (the sockets close
and their pages poll).
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Awaitable, Callable
from typing import Any

logger = logging.getLogger(__name__)

Subscriber = Callable[[dict[str, Any]], Awaitable[None]]
RECONNECTED = {"type": "layer.reconnected"}
#: Handed to every subscriber when Redis stayed away past the retries: the sockets close (pages poll).
LOST = {"type": "layer.lost"}


class _LoopState:
    def __init__(self) -> None:
        self.channel: str | None = None
        self.reader: asyncio.Task | None = None
        self.groups: dict[str, set[Subscriber]] = {}
        self.lock = asyncio.Lock()


class GroupFanout:
    def __init__(self) -> None:
        self._per_loop: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    def _state(self) -> _LoopState:
        loop = asyncio.get_running_loop()
        state = self._per_loop.get(loop)
        if state is None:
            state = self._per_loop[loop] = _LoopState()
        return state

    async def subscribe(self, layer, group: str, subscriber: Subscriber) -> None:
        """Deliver the group's messages to `subscriber` (a coroutine function) from now on."""
        state = self._state()
        async with state.lock:
            if state.channel is None:
                state.channel = await layer.new_channel()
            # Joined again with every new subscriber: refreshes the membership's expiry in Redis.
            await layer.group_add(group, state.channel)
            state.groups.setdefault(group, set()).add(subscriber)
            if state.reader is None or state.reader.done():
                state.reader = asyncio.get_running_loop().create_task(self._read(layer, state))

    async def unsubscribe(self, layer, group: str, subscriber: Subscriber) -> None:
        state = self._state()
        async with state.lock:
            subscribers = state.groups.get(group)
            if subscribers is None:
                return
            subscribers.discard(subscriber)
            if not subscribers:
                del state.groups[group]
                if state.channel is not None:
                    await layer.group_discard(group, state.channel)

    def subscriber_count(self, group: str) -> int:
        return len(self._state().groups.get(group, ()))

    async def _read(self, layer, state: _LoopState) -> None:
        from webapp.jobs.consumers import LAYER_RECONNECTED, RetryingLayerReceive

        assert state.channel is not None
        receive = RetryingLayerReceive(layer, state.channel, lambda: layer.receive(state.channel))
        while state.groups:
            try:
                message = await receive()
            except Exception:  # Redis gone for good: the sockets fall back to polling
                logger.warning("Group fanout %s: channel layer unavailable", state.channel, exc_info=True)
                for subscribers in list(state.groups.values()):
                    for subscriber in list(subscribers):
                        asyncio.ensure_future(subscriber(LOST))
                state.groups.clear()
                return
            if message is LAYER_RECONNECTED or message.get("type") == LAYER_RECONNECTED["type"]:
                for group in list(state.groups):
                    await layer.group_add(group, state.channel)
                targets = [s for subscribers in state.groups.values() for s in subscribers]
                message = RECONNECTED
            else:
                targets = list(state.groups.get(message.get("group", ""), ()))
            for subscriber in targets:
                asyncio.ensure_future(subscriber(message))


group_fanout = GroupFanout()
