"""Job messages sent to a Redis that is not there: `unreachable_broker()` points this process'
Celery app at a local port where nothing listens (a real refused connection, as when `make run`'s
Redis is down), and back afterwards. Used by the pages that start jobs to check that they say so."""

from __future__ import annotations

from contextlib import contextmanager

from webapp.celery import app
from webapp.embedded_redis import free_port


def _point_app_at(broker_url: str, result_backend: str) -> None:
    app.conf.broker_url, app.conf.result_backend = broker_url, result_backend
    app._pool = None  # fresh connection pools for the new address
    app.amqp._producer_pool = None


@contextmanager
def unreachable_broker():
    before = (app.conf.broker_url, app.conf.result_backend)
    nowhere = f"redis://127.0.0.1:{free_port()}/0"
    _point_app_at(nowhere, nowhere)
    try:
        yield nowhere
    finally:
        _point_app_at(*before)
