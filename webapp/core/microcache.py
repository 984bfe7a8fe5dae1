"""A one-second cache of public pages for visitors without cookies, in front of Django (ASGI).

On race day the event page is reloaded by hundreds of spectators (phones, the venue's screens) who
all get the same page; rendering it is cheap, but every request still pays for Django's thread hop
and middleware. `MicroCache(app, paths)` answers a GET of a matching path that carries no cookie,
no query string and no Authorization header from the last 200 answer for that path, for at most
`ttl_s` (1 s), the way a reverse proxy's micro-cache would; everything else goes to Django. One
request per path renders at a time; the others meanwhile get the page it replaces, or wait for it
when there is none (no stampede of renders each time the page expires). A cached page may be up
to `ttl_s` (plus a render) old: its live board (static/js/leaderboard_live.js) follows
the websocket from the moment it loads. Answers that set a cookie, and anything but 200, are
never cached; each web process keeps its own entries (at most `max_entries`).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections import OrderedDict
from collections.abc import Iterable


class MicroCache:
    def __init__(self, app, paths: Iterable[str], *, ttl_s: float = 1.0, max_entries: int = 512):
        self.app = app
        self.patterns = [re.compile(p) for p in paths]
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._entries: OrderedDict[str, tuple[float, dict, bytes]] = OrderedDict()
        self._rendering: dict[str, asyncio.Future] = {}

    def _cacheable(self, scope) -> bool:
        if scope["type"] != "http" or scope["method"] != "GET" or scope.get("query_string"):
            return False
        if any(name in (b"cookie", b"authorization") for name, _ in scope.get("headers", ())):
            return False
        return any(p.match(scope["path"]) for p in self.patterns)

    async def __call__(self, scope, receive, send):
        if not self._cacheable(scope):
            return await self.app(scope, receive, send)
        path = scope["path"]
        entry = self._entries.get(path)
        fresh = entry is not None and time.monotonic() - entry[0] < self.ttl_s
        # One render per path at a time: while it runs, others get the page it replaces (at most a
        # render's time older than the TTL) or, when there is none yet, wait for it.
        if not fresh and path in self._rendering:
            if entry is None:
                entry = await asyncio.shield(self._rendering[path])
            fresh = entry is not None
        if fresh and entry is not None:
            await send({**entry[1], "headers": list(entry[1].get("headers", ()))})  # a copy: servers may consume it
            await send({"type": "http.response.body", "body": entry[2]})
            return None
        done: asyncio.Future = asyncio.get_running_loop().create_future()
        self._rendering[path] = done
        start: dict = {}
        chunks: list[bytes] = []

        async def capture(message):
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body") and self._storable(start):
                    self._store(path, start, b"".join(chunks))
            await send(message)

        try:
            return await self.app(scope, receive, capture)
        finally:
            del self._rendering[path]
            done.set_result(self._entries.get(path) if self._storable(start) else None)

    @staticmethod
    def _storable(start: dict) -> bool:
        return start.get("status") == 200 and not any(name.lower() == b"set-cookie"
                                                     for name, _ in start.get("headers", ()))

    def _store(self, path: str, start: dict, body: bytes) -> None:
        self._entries[path] = (time.monotonic(), dict(start), body)
        self._entries.move_to_end(path)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
