"""A threaded stdlib WSGI server that can hand its socket to a WebSocket.

python-engineio's "threading" mode runs WebSockets through simple-websocket, which needs the raw
socket from the WSGI environ (Werkzeug and Gunicorn put it there; wsgiref does not). Adding it
ourselves keeps the agent free of eventlet, Werkzeug and ASGI servers: only the stdlib.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable
from socketserver import ThreadingMixIn
from typing import IO, Any, cast
from wsgiref.simple_server import ServerHandler, WSGIRequestHandler, WSGIServer, make_server

log = logging.getLogger(__name__)


class _WebSocketAwareHandler(ServerHandler):
    status: str | None
    request_handler: WSGIRequestHandler

    def handle_error(self) -> None:
        # simple-websocket signals the end of a WebSocket session in "werkzeug" mode by raising
        # ConnectionError once the socket is closed: that is a normal end, not an error.
        if isinstance(sys.exc_info()[1], ConnectionError):
            self.status = self.status or "101 Switching Protocols"
            self.close()
            return
        super().handle_error()


class _RequestHandler(WSGIRequestHandler):
    def get_environ(self) -> dict[str, Any]:
        environ = super().get_environ()
        environ["werkzeug.socket"] = self.connection
        return environ

    def handle(self) -> None:
        self.raw_requestline = self.rfile.readline(65537)
        if len(self.raw_requestline) > 65536:
            self.send_error(414)
            return
        if not self.parse_request():
            return
        handler = _WebSocketAwareHandler(cast(IO[bytes], self.rfile), cast(IO[bytes], self.wfile), self.get_stderr(),
                                         self.get_environ(), multithread=True)
        handler.request_handler = self
        app = cast(WSGIServer, self.server).get_app()
        if app is None:
            self.send_error(503)
            return
        handler.run(app)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (stdlib signature)
        log.debug("%s %s", self.address_string(), format % args)


class ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True


def serve_in_thread(app: Callable, host: str, port: int) -> tuple[ThreadingWSGIServer, threading.Thread]:
    """Start serving `app`; returns the server (its `server_port` is the bound port, useful
    with port 0) and its thread. Stop with `server.shutdown(); server.server_close()`."""
    server = make_server(host, port, app, server_class=ThreadingWSGIServer, handler_class=_RequestHandler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, name=f"wsgi:{port}",
                              daemon=True)
    thread.start()
    return server, thread
