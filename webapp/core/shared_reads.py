"""One database read for many websockets that ask for the same thing at about the same moment.

A leaderboard change reaches every viewer's socket in a Daphne process at once (hundreds on a
venue's projector, phones and the stream overlay); each would otherwise read and encode the same
standings. `SharedReads(read)` runs `read(key)` once for all askers of a key: askers that come
while a read runs wait for the next one (started when the current one ends), so N askers cost
about two reads instead of N, and nobody gets an answer from a read that started before it asked
(`since`): a socket that was told "the leaderboard changed" never receives the state before the change.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

T = TypeVar("T")


class _Batch(Generic[T]):
    def __init__(self, future: asyncio.Future[T]):
        self.future = future
        self.started: float | None = None


class SharedReads(Generic[T]):
    """`await shared.get(key, since=time.monotonic())` -> the answer of a `read(key)` that started
    at or after `since`, shared with every other asker of the same key."""

    def __init__(self, read: Callable[[Hashable], Awaitable[T]]):
        self._read = read
        self._per_loop: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    async def get(self, key: Hashable, since: float | None = None) -> T:
        since = time.monotonic() if since is None else since
        loop = asyncio.get_running_loop()
        slots = self._per_loop.setdefault(loop, {})
        slot = slots.get(key)
        if slot is None:
            slot = slots[key] = {"running": None, "next": None}
            loop.create_task(self._drain(slots, key))
        running = slot["running"]
        if running is not None and running.started is not None and running.started >= since:
            return await asyncio.shield(running.future)
        if slot["next"] is None:
            slot["next"] = _Batch(loop.create_future())
        return await asyncio.shield(slot["next"].future)

    async def _drain(self, slots: dict, key: Hashable) -> None:
        slot = slots[key]
        try:
            await asyncio.sleep(0)  # let the asker that created the slot queue its batch
            while slot["next"] is not None:
                batch, slot["next"] = slot["next"], None
                batch.started = time.monotonic()
                slot["running"] = batch
                try:
                    batch.future.set_result(await self._read(key))
                except Exception as exc:  # noqa: BLE001 - handed to every asker of this batch
                    batch.future.set_exception(exc)
                slot["running"] = None
        finally:
            del slots[key]
