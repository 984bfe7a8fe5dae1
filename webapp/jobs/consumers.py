"""Websocket of a signed-in user: job updates of the user's own teams, nothing else.

Membership is checked against the database, not remembered from connect: every job update is
forwarded only if the user is still a member of the job's team, every refresh re-reads the
user's teams, and a `membership.changed` message on the user's group (sent when they join, leave
or are removed) closes the socket when a team was lost (the page reconnects with what is left).

A channel-layer read that fails (Redis did not answer within the layer's socket timeout, or the
connection broke) does not end the consumer: channels would let the error out of the consumer
and Daphne would close the socket with 1011, the page falling back to polling. Only the socket
whose read held the process' receive lock saw it (channels_redis does one BZPOPMIN per process
for all its sockets), which is why the page of a training run lost its socket now and then while
the others kept theirs. The read is tried again after a pause; once Redis answers, the socket
re-checks its teams and gets a fresh snapshot (a message may have been lost with the failed
read); after LAYER_GIVE_UP_AFTER_S of failures in a row it closes after all.

Snapshots are shared: sockets of the same teams that ask at about the same moment get one
database read and one encoded message. A socket only shares a read that began after it joined its
groups, so no update can fall between the snapshot and the live messages.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import weakref
from collections import defaultdict

from channels.consumer import get_handler_name
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from channels_redis.core import RedisChannelLayer
from redis.exceptions import RedisError

from webapp.accounts.notify import user_group
from webapp.accounts.selectors import team_ids_of_user_id
from webapp.accounts.socket_auth import socket_db
from webapp.core.shared_reads import SharedReads

from .notify import team_group
from .selectors import live_snapshot

logger = logging.getLogger(__name__)

#: Close code when the user lost a team this socket was following.
CLOSE_MEMBERSHIP_LOST = 4403
#: A failed channel-layer read is tried again after a pause that doubles from the first to the
#: largest; after failures for this long in a row the socket closes (the page polls, reconnects).
LAYER_RETRY_FIRST_PAUSE_S, LAYER_RETRY_MAX_PAUSE_S, LAYER_GIVE_UP_AFTER_S = 0.2, 5.0, 120.0
#: What a socket's channel-layer reader hands the consumer once Redis answers again.
LAYER_RECONNECTED = {"type": "layer.reconnected"}


def _snapshot_message(team_ids: frozenset[int]) -> str:
    # Without the spaces after separators: 100 jobs are ~10% fewer bytes to frame and send.
    return json.dumps({"type": "snapshot", "jobs": live_snapshot(team_ids)}, separators=(",", ":"))


async def _read_snapshot(team_ids) -> str:
    return await socket_db(_snapshot_message)(team_ids)


#: One snapshot read per set of teams at a time (webapp.core.shared_reads): N sockets of the same
#: teams connecting together cost about two reads instead of N, and none gets a read that started
#: before it asked.
shared_snapshots: SharedReads[str] = SharedReads(_read_snapshot)

#: Group joins and leaves in flight at once per event loop, on a layer other than channels_redis'
#: (whose writes are batched, below). redis-py's asyncio pool (100 connections by default) refuses
#: a connection beyond its size instead of waiting.
MAX_GROUP_OPS_IN_FLIGHT = 40
_group_ops: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


async def _bounded(operation):
    loop = asyncio.get_running_loop()
    semaphore = _group_ops.get(loop)
    if semaphore is None:
        semaphore = _group_ops[loop] = asyncio.Semaphore(MAX_GROUP_OPS_IN_FLIGHT)
    async with semaphore:
        return await operation


class _GroupWrites:
    """The group joins and leaves of every socket of an event loop, written to a Redis shard
    together: one pipeline at a time per shard, and the sockets that ask while it is in flight
    are written by the next one. A burst of sockets connecting (or going away) costs a few round
    trips instead of one per socket; each asker returns once its own writes are in Redis."""

    def __init__(self) -> None:
        self._per_loop: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    async def write(self, layer: RedisChannelLayer, shard: int, operations: list[tuple[bool, str, str]]) -> None:
        """`operations`: (adding, group, channel), in order."""
        loop = asyncio.get_running_loop()
        shards = self._per_loop.setdefault(loop, {})
        key = (id(layer), shard)
        slot = shards.get(key)
        if slot is None:
            slot = shards[key] = {"operations": [], "future": None}
            loop.create_task(self._drain(layer, shard, shards, key))
        if slot["future"] is None:
            slot["future"] = loop.create_future()
            slot["future"].add_done_callback(lambda f: f.cancelled() or f.exception())  # retrieved
        slot["operations"].extend(operations)
        await asyncio.shield(slot["future"])

    async def _drain(self, layer: RedisChannelLayer, shard: int, shards: dict, key) -> None:
        slot = shards[key]
        try:
            await asyncio.sleep(0)  # let the sockets of this turn of the loop add theirs
            while slot["operations"]:
                operations, future = slot["operations"], slot["future"]
                slot["operations"], slot["future"] = [], None
                try:
                    await self._execute(layer, shard, operations)
                except Exception as exc:  # noqa: BLE001 - handed to every socket of this batch
                    future.set_exception(exc)
                else:
                    future.set_result(None)
        finally:
            del shards[key]

    @staticmethod
    async def _execute(layer: RedisChannelLayer, shard: int, operations: list[tuple[bool, str, str]]) -> None:
        """What channels_redis' group_add (ZADD, EXPIRE) and group_discard (ZREM) write, one ZADD
        and one EXPIRE per group joined and one ZREM per group left."""
        adds: dict[str, dict[str, float]] = defaultdict(dict)
        discards: dict[str, set[str]] = defaultdict(set)
        now = time.time()
        for adding, group, channel in operations:  # a later write of the same pair wins
            if adding:
                discards[group].discard(channel)
                adds[group][channel] = now
            else:
                adds[group].pop(channel, None)
                discards[group].add(channel)
        pipe = layer.connection(shard).pipeline(transaction=False)
        for group, channels in discards.items():
            if channels:
                pipe.zrem(layer._group_key(group), *channels)
        for group, members in adds.items():
            if members:
                pipe.zadd(layer._group_key(group), members)
                pipe.expire(layer._group_key(group), layer.group_expiry)
        await pipe.execute()


_group_writes = _GroupWrites()


async def change_groups(layer, channel: str, *, add=(), discard=()) -> None:
    """Join the groups `add` and leave the groups `discard`. On channels_redis' layer the writes
    of all sockets asking at about the same time go in one Redis round trip per shard (its own
    group_add takes two round trips per group, ZADD then EXPIRE; a socket that connects joins its
    user's group and one per team), else the layer's own group_add and group_discard."""
    if not add and not discard:
        return
    if not isinstance(layer, RedisChannelLayer):
        await asyncio.gather(*(_bounded(layer.group_discard(g, channel)) for g in discard),
                             *(_bounded(layer.group_add(g, channel)) for g in add))
        return
    per_shard: dict[int, list[tuple[bool, str, str]]] = defaultdict(list)
    for group in discard:
        per_shard[layer.consistent_hash(group)].append((False, group, channel))
    for group in add:
        per_shard[layer.consistent_hash(group)].append((True, group, channel))
    await asyncio.gather(*(_group_writes.write(layer, shard, ops) for shard, ops in per_shard.items()))


class RetryingLayerReceive:
    """The consumer's channel-layer read (channels' `channel_receive`), which lives through a Redis
    that timed out or went away: the failed read is retried, and LAYER_RECONNECTED is handed over
    once Redis answers a PING again."""

    def __init__(self, layer, channel: str, receive):
        self.layer, self.channel, self.receive = layer, channel, receive

    async def __call__(self):
        try:
            return await self.receive()
        except (RedisError, OSError) as exc:
            first_failure, pause_s = time.monotonic(), LAYER_RETRY_FIRST_PAUSE_S
            logger.warning("Job socket %s: channel layer read failed (%s: %s); trying again", self.channel,
                           type(exc).__name__, exc)
        while True:
            await asyncio.sleep(pause_s)
            try:
                await self._ping()
                return LAYER_RECONNECTED
            except (RedisError, OSError):
                if time.monotonic() - first_failure >= LAYER_GIVE_UP_AFTER_S:
                    raise
                pause_s = min(pause_s * 2, LAYER_RETRY_MAX_PAUSE_S)

    async def _ping(self) -> None:
        if isinstance(self.layer, RedisChannelLayer):
            await self.layer.connection(self.layer.consistent_hash(self.channel)).ping()


class JobUpdatesConsumer(AsyncJsonWebsocketConsumer):
    @property
    def channel_receive(self):
        return self._channel_receive

    @channel_receive.setter
    def channel_receive(self, receive):
        """Channels' AsyncConsumer sets this to the layer's receive for this socket's channel."""
        self._channel_receive = RetryingLayerReceive(self.channel_layer, self.channel_name, receive)

    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=4401)
            return
        self.user_id = user.pk
        self.team_ids: frozenset[int] = frozenset()
        # The user's teams as read with the session (SessionUserAndTeamsMiddleware), else now.
        team_ids = self.scope.get("team_ids")
        if team_ids is None:
            team_ids = await self._current_team_ids()
        await self._follow(team_ids, also_add=(user_group(self.user_id),))
        await self.accept()
        # The page may have missed updates while it loaded: send the state from the database.
        await self._send_snapshot()

    async def disconnect(self, code):
        groups = [team_group(team_id) for team_id in getattr(self, "team_ids", ())]
        if hasattr(self, "user_id"):
            groups.append(user_group(self.user_id))
        await change_groups(self.channel_layer, self.channel_name, discard=groups)

    async def dispatch(self, message):
        """Channels' dispatch without its `aclose_old_connections()` before every message: that is a
        hop to the default sync thread per message (connect, each update, disconnect), and this
        consumer never uses that thread's database connection; its reads run on the socket_db
        lane, which closes its own connections."""
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def receive_json(self, content, **kwargs):
        if content.get("type") == "refresh" and await self._recheck_teams():
            await self._send_snapshot()

    async def job_update(self, event):
        job = event["job"]
        if job.get("team_id") in self.team_ids and job["team_id"] in await self._current_team_ids():
            await self.send_json({"type": "job", "job": job})
        else:
            await self._recheck_teams()

    async def layer_reconnected(self, event):
        logger.info("Job socket %s: channel layer answers again; sending a fresh snapshot", self.channel_name)
        if await self._recheck_teams():
            await self._send_snapshot()

    async def membership_changed(self, event):
        if await self._recheck_teams():
            await self._send_snapshot()  # a team was added: show its jobs

    async def _recheck_teams(self) -> bool:
        """Follow the user's teams as the database has them now; close the socket (and answer
        False) if one this socket followed was lost."""
        current = await self._current_team_ids()
        if self.team_ids - current:
            await self._follow(current)
            await self.close(code=CLOSE_MEMBERSHIP_LOST)
            return False
        if current != self.team_ids:
            await self._follow(current)
        return True

    async def _follow(self, team_ids: frozenset[int], also_add: tuple[str, ...] = ()) -> None:
        added, dropped = team_ids - self.team_ids, self.team_ids - team_ids
        self.team_ids = team_ids
        await change_groups(self.channel_layer, self.channel_name, add=[*also_add, *map(team_group, sorted(added))],
                            discard=[team_group(t) for t in sorted(dropped)])

    async def _send_snapshot(self) -> None:
        # Asked now, after this socket's groups were joined: only a read that starts from now on
        # may answer (it sees every change whose live message this socket could have missed).
        await self.send(text_data=await shared_snapshots.get(self.team_ids, since=time.monotonic()))

    async def _current_team_ids(self) -> frozenset[int]:
        return frozenset(await socket_db(team_ids_of_user_id)(self.user_id))
