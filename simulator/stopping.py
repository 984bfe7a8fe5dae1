"""How a long-running plain function is told to stop, and how it says that it did.

Training, evaluation and dataset ingestion are plain functions that take two callbacks:
`on_progress` (what they report as they go) and `should_stop` (polled often; True means "stop
now"). When `should_stop()` answers True, the function saves what a later call can resume from
and raises `Stopped`. Callers that run the function as a job (the web app's job runner) record
`Stopped` as a cancellation; the command line reports it and exits.

It lives here, at the bottom of the dependency order (webapp -> training -> drive_agent ->
simulator), so that every package can raise and catch the same exception.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

#: Polled by a long-running function; True asks it to stop.
ShouldStop = Callable[[], bool]
#: Receives one progress event (a dict of figures: phase, epoch, percent...).
OnProgress = Callable[[dict[str, Any]], None]


class Stopped(Exception):
    """A long-running function stopped because its `should_stop` callback said so.

    Raised after the function saved what it can resume from; the message says where it stopped.
    """


def raise_if_stopped(should_stop: ShouldStop | None, what: str) -> None:
    """Raise `Stopped(what)` when `should_stop` is given and answers True."""
    if should_stop is not None and should_stop():
        raise Stopped(what)
