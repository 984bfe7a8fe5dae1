"""Daphne with a ceiling on request bodies: `python -m webapp.server` takes Daphne's own arguments
(`-b 127.0.0.1 -p 8000 webapp.asgi:application`) and is what `make run`, docker-compose, the
image and the tests serve with.

Plain Daphne takes any body in whole before the application sees it (Twisted writes it to a
temporary file, then Daphne queues all of it in memory for the application), and Twisted parses a
`multipart/form-data` or form-encoded POST body into `request.args` in memory on the event loop,
which Django never reads: a 300 MB anonymous POST cost gigabytes and stalled every other request
for seconds. Here

- Twisted never parses form bodies (`parsePOSTFormSubmission=False`); Django parses them itself;
- a body larger than `settings.PITLANE_MAX_REQUEST_BYTES` is answered `413` before it is read: as
  soon as its `Content-Length` is known, or, sent with `Transfer-Encoding: chunked`, as soon as the
  bytes received pass the limit. The connection is closed after the answer, so the rest of the
  body is never read.

`PITLANE_WEB_PROCESSES=N` (default 1; `make run`, the image and docker-compose set it, see
`auto_web_processes`) serves with N Daphne processes behind the one address: this process opens
the listening socket and starts N servers that accept from it (each has one event loop and one
interpreter lock; a burst of hundreds of websockets connecting at once is spread over them),
passes SIGTERM and SIGINT on to them, and exits when any of them exits, after stopping the others
(whoever started it then sees the server gone, as with one process).
"""

from __future__ import annotations

import gc
import io
import logging
import os
import signal
import socket
import subprocess
import sys
import time

import autobahn.twisted.websocket as autobahn_twisted_websocket
import autobahn.websocket.protocol as autobahn_protocol
from daphne.cli import CommandLineInterface
from daphne.http_protocol import HTTPFactory, WebRequest
from daphne.server import Server
from django.template.defaultfilters import filesizeformat

from webapp.env import env_int

logger = logging.getLogger(__name__)

# autobahn pretty-prints its ~40 protocol options for a debug line on every new websocket
# (WebSocketProtocol._connectionMade), whether or not debug lines are logged: pprint was about 5%
# of the server's time in a burst of connecting sockets. repr() says the same on one line, for a
# fraction of the cost. (Its module's other two uses, debug text too, get the same.)
autobahn_protocol.pformat = repr


def _plain_type(obj) -> str:
    return f"<{getattr(obj, '__qualname__', 'unknown')}>"


def _plain_value(value, color: str = "white", bold: bool = True) -> str:
    return f"{value}"


# Likewise autobahn colours the arguments of its debug lines with click (hltype, hlval: terminal
# escapes around a qualified name) for every frame it sends and every socket that connects or
# goes away, whether or not debug lines are logged: about 5% of the server's time in a burst.
for _module in (autobahn_protocol, autobahn_twisted_websocket):
    _module.hltype, _module.hlval = _plain_type, _plain_value  # type: ignore[attr-defined]


class LimitedRequest(WebRequest):
    """Daphne's request, with a body limit (`channel.factory.server.max_request_bytes`) and no
    form parsing by Twisted."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, parsePOSTFormSubmission=False, **kwargs)
        self.body_bytes = 0
        self.refused = False

    # Twisted's hooks, in the order the channel calls them: gotLength after the headers, then
    # handleContentChunk for each piece of the body, then requestReceived at its end.

    def gotLength(self, length):
        if length is not None and length > self.server.max_request_bytes:
            self.content = io.BytesIO()  # Twisted closes it when the connection goes
            self._refuse(f"{filesizeformat(length)} announced")
            return
        super().gotLength(length)

    def handleContentChunk(self, data):
        if self.refused:
            return  # the rest of a read that passed the limit
        self.body_bytes += len(data)
        if self.body_bytes > self.server.max_request_bytes:
            self._refuse("chunked body over the limit")
            return
        super().handleContentChunk(data)

    def requestReceived(self, command, path, version):
        if self.refused:
            return  # the end of a refused body arrived in the same read: nothing to run
        super().requestReceived(command, path, version)

    def _refuse(self, why: str) -> None:
        """Answer 413 on the raw connection and close it, as Twisted answers a malformed request:
        no application is started and no more of the body is read."""
        self.refused = True
        # allHeadersReceived would otherwise send "100 Continue" after our answer.
        self.requestHeaders.removeHeader(b"Expect")
        limit = filesizeformat(self.server.max_request_bytes)
        body = (f"Request body too large: this server takes at most {limit} in one request. "
                f"Dataset zips go up in chunks from the team's Datasets page.\n").encode()
        self.channel.transport.write(
            b"HTTP/1.1 413 Content Too Large\r\n"
            b"Content-Type: text/plain; charset=utf-8\r\n"
            b"Content-Length: " + str(len(body)).encode() + b"\r\n"
            b"Connection: close\r\n\r\n" + body)
        self.channel.loseConnection()
        logger.warning("Refused a request body from %s (%s; limit %s)", self.client, why, limit)


class LimitedHTTPFactory(HTTPFactory):
    def buildProtocol(self, addr):
        protocol = super().buildProtocol(addr)
        protocol.requestFactory = LimitedRequest
        return protocol

    def acceptableProtocols(self):
        """HTTP/1.1 only, where the limit is enforced. (Daphne would offer HTTP/2 over TLS when
        Twisted's http2 extra is installed; Pitlane installs neither, and a TLS proxy in front
        speaks HTTP/1.1 to Daphne.)"""
        return [b"http/1.1"]


#: Connections the kernel queues for the server while it is busy. Twisted's default is 50: when
#: hundreds of pages reconnect their job sockets at once, the 51st onwards had its SYN dropped and
#: retried a second later (tests/deploy/test_listen_backlog.py). Linux caps it at somaxconn.
LISTEN_BACKLOG = 1024


def with_backlog(endpoint: str) -> str:
    """A Twisted `tcp:` endpoint description with LISTEN_BACKLOG unless it names a backlog."""
    if endpoint.startswith("tcp:") and ":backlog=" not in endpoint:
        return f"{endpoint}:backlog={LISTEN_BACKLOG}"
    return endpoint


#: Allocations between young-generation collections (CPython's default is 700), and how many of
#: those before the middle one, and of these before the oldest is collected (default 10 and 10).
GC_THRESHOLDS = (20_000, 20, 20)


def warm_up() -> None:
    """Import now what requests would import on their first call: every URL conf and view, DRF's
    renderers, parsers and authentication, and the simulator's limit solver (the plausible-lap
    check of the first timed lap: scipy). Otherwise the first timer crossing a process serves took
    about 0.6 s and the first lap 0.3 s more (measured), and these modules are then frozen with the
    rest (`tune_gc`)."""
    from django.urls import get_resolver
    from rest_framework.settings import api_settings

    get_resolver().url_patterns  # noqa: B018 - imports the URL confs and, through them, the views
    for name in ("DEFAULT_RENDERER_CLASSES", "DEFAULT_PARSER_CLASSES", "DEFAULT_AUTHENTICATION_CLASSES",
                 "DEFAULT_PERMISSION_CLASSES"):
        getattr(api_settings, name)
    import simulator.limit  # noqa: F401


def tune_gc() -> None:
    """Freeze what the server holds once started (Django, the URL resolver, the ASGI app: hundreds
    of thousands of objects that live as long as the process) out of the collector's sight, and
    collect less often. With CPython's defaults, two bursts of 200 websockets connecting cost 150
    collections (two of them walking every object) and about as much time as everything else the
    server did; with this, 3 collections and a tenth of that time."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


class LimitedServer(Server):
    """Daphne's server with `LimitedHTTPFactory`. `Server.run` builds its HTTP factory inline and
    keeps it in `self.http_factory` before listening with it, so the assignment is where ours goes
    in (the tests' 413s fail if a Daphne release stops listening with that attribute). TCP
    endpoints listen with LISTEN_BACKLOG."""

    def __init__(self, *args, max_request_bytes: int | None = None, **kwargs):
        if max_request_bytes is None:
            from django.conf import settings

            max_request_bytes = settings.PITLANE_MAX_REQUEST_BYTES
        self.max_request_bytes = max_request_bytes
        super().__init__(*args, **kwargs)
        inherited = os.environ.get(LISTEN_FD_ENV)
        if inherited:
            # One of several servers (serve_in_processes): accept from the socket it was handed
            # instead of binding the address itself.
            self.endpoints = [f"fd:fileno={int(inherited)}"]
        self.endpoints = [with_backlog(endpoint) for endpoint in self.endpoints]

    def run(self):
        """Serve, after importing what first requests would (`warm_up`) and setting the garbage
        collector up for a long-running server (`tune_gc`)."""
        warm_up()
        tune_gc()
        super().run()

    @property
    def http_factory(self) -> HTTPFactory:
        return self._http_factory

    @http_factory.setter
    def http_factory(self, factory: HTTPFactory) -> None:
        self._http_factory = factory if isinstance(factory, LimitedHTTPFactory) else LimitedHTTPFactory(self)


class PitlaneCommandLine(CommandLineInterface):
    description = "Pitlane's Daphne: HTTP/WebSocket server with a request body limit"
    server_class = LimitedServer


#: How many server processes share the listening socket (`serve_in_processes`).
WEB_PROCESSES_ENV = "PITLANE_WEB_PROCESSES"
#: Set by serve_in_processes for its servers: the listening socket's file descriptor.
LISTEN_FD_ENV = "PITLANE_WEB_LISTEN_FD"


def web_processes() -> int:
    return env_int(WEB_PROCESSES_ENV, 1, minimum=1)


def auto_web_processes() -> int:
    """What `make run` serves with unless PITLANE_WEB_PROCESSES says otherwise: one server
    process per core, at most 4 (each holds a Django process' memory)."""
    return max(1, min(os.cpu_count() or 1, 4))


def _tcp_address(argv: list[str]) -> tuple[str, int]:
    """The IPv4 host and port Daphne would bind for these arguments (its defaults included); a
    SystemExit if they bind anything else (a UNIX socket, a file descriptor, raw endpoints, IPv6:
    Twisted's `fd:` endpoint adopts IPv4 sockets only)."""
    from daphne.cli import DEFAULT_HOST, DEFAULT_PORT

    args = PitlaneCommandLine().parser.parse_args(argv)
    host = args.host or DEFAULT_HOST
    if args.unix_socket or args.file_descriptor is not None or args.socket_strings or ":" in host:
        raise SystemExit(f"{WEB_PROCESSES_ENV} above 1 serves an IPv4 address (-b HOST -p PORT) only")
    return host, DEFAULT_PORT if args.port is None else args.port


def serve_in_processes(argv: list[str], processes: int) -> int:
    """Listen on the TCP address in `argv`, start `processes` servers that accept from the socket
    (each `python -m webapp.server argv`, told the socket by LISTEN_FD_ENV), and wait: SIGTERM or
    SIGINT is passed on to them; when one exits, the others are stopped. Returns the exit status of
    the first server that exited (0 after a signal)."""
    host, port = _tcp_address(argv)
    listener = socket.create_server((host, port), backlog=LISTEN_BACKLOG)
    env = {**os.environ, WEB_PROCESSES_ENV: "1", LISTEN_FD_ENV: str(listener.fileno())}
    servers = [subprocess.Popen([sys.executable, "-m", "webapp.server", *argv], env=env,
                                pass_fds=(listener.fileno(),)) for _ in range(processes)]
    listener.close()  # the servers hold it now
    stopping: list[int] = []

    def stop(signum, frame):
        stopping.append(signum)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        while not stopping and all(server.poll() is None for server in servers):
            time.sleep(0.2)
        exited = next((server for server in servers if server.returncode is not None), None)
        if exited is not None and not stopping:
            logger.error("Web server process %s exited with status %s; stopping the others",
                         exited.pid, exited.returncode)
        for server in servers:
            if server.poll() is None:
                server.send_signal(signal.SIGTERM)
        for server in servers:
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        return 0 if stopping or exited is None else exited.returncode
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    processes = web_processes()
    if processes > 1:
        sys.exit(serve_in_processes(argv, processes))
    PitlaneCommandLine().run(argv)


if __name__ == "__main__":
    main()
