"""Websocket sign-in from the session cookie, with the user's teams read in the same trip.

Channels' AuthMiddleware reads the session and the user in one `database_sync_to_async` trip, and
the job socket read the user's teams in a second; each trip opens and closes a database
connection, which costs more than the queries (about 1 ms on SQLite). With hundreds of sockets
connecting at once (every open tab reconnects after a restart) that was most of the wait. Here
one trip does the session, the user and the team ids (`SessionUserAndTeamsMiddleware`), and
`socket_db` keeps the connection across a burst of trips; the job socket uses it for its
membership checks and snapshots too.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import SyncToAsync
from channels.auth import AuthMiddleware, get_user
from channels.sessions import CookieMiddleware, SessionMiddleware
from django.db import connections

from .selectors import team_ids_of_user_id


class _Lane:
    """One thread for websocket database reads. It keeps its database connection while more reads
    wait for it (a burst of sockets connecting pays for one connection, not one per read) and
    closes it once none is left, so no connection outlives the burst (as with
    database_sync_to_async, which opens and closes one per read)."""

    def __init__(self, name: str):
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self.lock = threading.Lock()
        self.waiting = 0
        self._calls: dict = {}

    def call(self, function):
        """`function` as an awaitable on this lane; one wrapper per function, made once (building
        asgiref's SyncToAsync was ~7% of the event loop's time in a burst of connecting sockets)."""
        wrapped = self._calls.get(function)
        if wrapped is None:
            wrapped = self._calls[function] = _SocketDatabaseCall(
                function, thread_sensitive=False, executor=self.executor, lane=self)
        return wrapped


def _close_connections() -> None:
    for connection in connections.all(initialized_only=True):
        connection.close()


class _SocketDatabaseCall(SyncToAsync):
    def __init__(self, function, *, lane: _Lane, **kwargs):
        super().__init__(function, **kwargs)
        self.lane = lane

    async def __call__(self, *args, **kwargs):
        with self.lane.lock:
            self.lane.waiting += 1
        try:
            return await super().__call__(*args, **kwargs)
        finally:
            # Counted here, not in the thread, so that a read cancelled before it ran (a socket
            # that went away while waiting) is counted out too.
            with self.lane.lock:
                self.lane.waiting -= 1
                idle = self.lane.waiting == 0
            if idle:
                self.lane.executor.submit(_close_connections)  # runs after anything already queued

    def thread_handler(self, loop, *args, **kwargs):
        try:
            return super().thread_handler(loop, *args, **kwargs)
        finally:
            for connection in connections.all(initialized_only=True):
                connection.close_at = None  # not obsolete while reads wait; a broken one still goes
                connection.close_if_unusable_or_obsolete()


_lane = _Lane("socket-db")


def socket_db(function):
    """`function` run on the websocket database lane, awaitable: sign-ins, membership checks and
    snapshots. (A second lane for snapshots measured slower: the threads only compete for the
    same two cores and the GIL.)"""
    return _lane.call(function)


def _user_and_team_ids(scope) -> tuple:
    user = get_user.func(scope)  # channels' own session -> user check, run here synchronously
    return user, (frozenset(team_ids_of_user_id(user.pk)) if user.is_authenticated else frozenset())


class SessionUserAndTeamsMiddleware(AuthMiddleware):
    """Channels' AuthMiddleware (scope["user"]) plus scope["team_ids"]: the user's teams when the
    socket connected."""

    async def resolve_scope(self, scope):
        scope["user"]._wrapped, scope["team_ids"] = await socket_db(_user_and_team_ids)(scope)


def SocketAuthMiddlewareStack(inner):  # named like channels' AuthMiddlewareStack
    return CookieMiddleware(SessionMiddleware(SessionUserAndTeamsMiddleware(inner)))
