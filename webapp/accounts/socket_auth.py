"""Websocket sign-in from the session cookie, with the user's teams read in the same trip.

Channels' AuthMiddleware reads the session and the user in one `database_sync_to_async` trip, and
the job socket read the user's teams in a second; each trip opens and closes a database
connection, which costs more than the queries (about 1 ms on SQLite). With hundreds of sockets
connecting at once (every open tab reconnects after a restart) that was most of the wait. Here
one trip does the session, the user and the team ids (`SessionUserAndTeamsMiddleware`), and
`socket_db` keeps the connection across a burst of trips; the job socket uses it for its
membership checks and snapshots too.

Within the trip, the usual sign-in (a database-backed session of a user signed in with Django's
ModelBackend) takes two prepared SQL statements instead of three ORM queries (building the ORM's
SQL was most of the sign-in's time): the session row, then the user with their team ids in one
join (`fast_sign_in`). It accepts exactly what channels' `get_user` accepts; anything else (no or
expired session, another backend, a session hash that does not match, an inactive or missing
user) goes through `get_user` itself, which keeps its own handling (flushing a stale session,
rotated secret keys).
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import SyncToAsync
from channels.auth import AuthMiddleware, get_user
from channels.sessions import CookieMiddleware, SessionMiddleware
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.db import DEFAULT_DB_ALIAS, connections
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django.utils.functional import LazyObject

from .models import Membership
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


MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"


def _user_with_teams_sql() -> str:
    User = get_user_model()
    user, pk = User._meta.db_table, User._meta.pk.column
    membership = Membership._meta
    team_col, user_col = membership.get_field("team").column, membership.get_field("user").column
    return (f'SELECT u.*, m."{team_col}" AS pitlane_team_id FROM "{user}" u LEFT JOIN "{membership.db_table}" m '
            f'ON m."{user_col}" = u."{pk}" WHERE u."{pk}" = %s')


def fast_sign_in(session) -> tuple | None:
    """(user, team ids) of a database session of a user signed in with ModelBackend whose session
    hash matches, in two SQL statements; None for anything else (the caller asks channels'
    `get_user`). Leaves the decoded session in `session` (no second read)."""
    if isinstance(session, LazyObject):  # channels' SessionMiddleware puts the store in one
        session = session._wrapped
    if type(session) is not DatabaseSessionStore or not session.session_key or hasattr(session, "_session_cache"):
        return None
    connection = connections[DEFAULT_DB_ALIAS]
    with connection.cursor() as cursor:
        cursor.execute(
            f'SELECT session_data FROM "{session.model._meta.db_table}" WHERE session_key = %s AND expire_date > %s',
            [session.session_key, connection.ops.adapt_datetimefield_value(timezone.now())])
        row = cursor.fetchone()
    if row is None:
        return None
    data = session.decode(row[0])
    session._session_cache, session.accessed = data, True  # as SessionBase._get_session leaves it
    backend, session_hash = data.get(BACKEND_SESSION_KEY), data.get(HASH_SESSION_KEY)
    if backend != MODEL_BACKEND or backend not in settings.AUTHENTICATION_BACKENDS or not session_hash:
        return None
    User = get_user_model()
    try:
        user_id = User._meta.pk.to_python(data[SESSION_KEY])
    except Exception:  # noqa: BLE001 - a malformed id: get_user decides
        return None
    rows = list(User._default_manager.raw(_user_with_teams_sql(), [user_id]))
    if not rows:
        return None
    user = rows[0]
    is_active = getattr(user, "is_active", None)
    if not (is_active or is_active is None):  # ModelBackend.user_can_authenticate
        return None
    if not constant_time_compare(session_hash, user.get_session_auth_hash()):
        return None
    return user, frozenset(r.pitlane_team_id for r in rows if r.pitlane_team_id is not None)


def _user_and_team_ids(scope) -> tuple:
    signed_in = fast_sign_in(scope["session"]) if "session" in scope else None
    if signed_in is not None:
        return signed_in
    user = get_user.func(scope)  # channels' own session -> user check, run here synchronously
    return user, (frozenset(team_ids_of_user_id(user.pk)) if user.is_authenticated else frozenset())


class SessionUserAndTeamsMiddleware(AuthMiddleware):
    """Channels' AuthMiddleware (scope["user"]) plus scope["team_ids"]: the user's teams when the
    socket connected."""

    async def resolve_scope(self, scope):
        scope["user"]._wrapped, scope["team_ids"] = await socket_db(_user_and_team_ids)(scope)


def SocketAuthMiddlewareStack(inner):  # named like channels' AuthMiddlewareStack
    return CookieMiddleware(SessionMiddleware(SessionUserAndTeamsMiddleware(inner)))
