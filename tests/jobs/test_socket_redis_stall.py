"""A job socket lives through a Redis that stops answering for longer than the channel layer's
socket timeout (a loaded machine: Redis stalled on its append-only file's disk, or starved of
CPU by a training run).

channels_redis reads a socket's messages with a blocking BZPOPMIN; when Redis answers later than
CHANNEL_REDIS_SOCKET_TIMEOUT_S, redis-py raises "Timeout reading from 127.0.0.1:<port>", which
used to end the consumer: Daphne closed the socket with 1011 and the page fell back to polling.
Here a real Daphne and a real Redis, stalled with DEBUG SLEEP (which blocks the whole server as a
stall does), show the socket staying open, getting a fresh snapshot once Redis answers, then the
next update.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time

import pytest
import redis
from asgiref.sync import sync_to_async
from django.conf import settings

from tests.support.paths import ROOT
from webapp.jobs.models import Job
from webapp.jobs.notify import notify_job

from .test_socket_hardening import run

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def stall_redis(seconds: float) -> None:
    """Block the Redis server for `seconds` (from a client without a socket timeout)."""
    client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=None)
    client.execute_command("DEBUG", "SLEEP", seconds)


def test_socket_survives_a_redis_stall_longer_than_the_layer_socket_timeout(daphne_server, client, team_a):
    import websockets

    job = Job.objects.create(team=team_a, kind="test.countdown", progress=10, status=Job.Status.RUNNING)
    client.force_login(team_a.captain)
    cookie = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
    ws_url = daphne_server.replace("http://", "ws://") + "/ws/jobs/"
    stall_s = settings.CHANNEL_REDIS_SOCKET_TIMEOUT_S + 3

    async def scenario():
        async with websockets.connect(ws_url, origin=daphne_server, additional_headers={"Cookie": cookie},
                                      ping_interval=None) as ws:
            first = json.loads(await asyncio.wait_for(ws.recv(), 10))
            await asyncio.sleep(1)  # the socket's BZPOPMIN is waiting in Redis
            stalled_at = time.monotonic()
            stall = threading.Thread(target=stall_redis, args=(stall_s,))
            stall.start()
            await asyncio.to_thread(stall.join)
            # The consumer's read timed out during the stall; it must not have closed the socket,
            # and once Redis answers it sends the state again (an update may have been lost).
            again = json.loads(await asyncio.wait_for(ws.recv(), 30))
            await sync_to_async(Job.objects.filter(pk=job.pk).update)(progress=70)
            await sync_to_async(notify_job)(await sync_to_async(Job.objects.get)(pk=job.pk))
            update = json.loads(await asyncio.wait_for(ws.recv(), 15))
            return first, again, update, time.monotonic() - stalled_at

    first, again, update, elapsed_s = run(scenario)
    assert first["type"] == "snapshot" and [j["id"] for j in first["jobs"]] == [job.pk]
    assert elapsed_s >= stall_s
    assert again["type"] == "snapshot" and [j["id"] for j in again["jobs"]] == [job.pk]
    assert update["type"] == "job" and update["job"]["id"] == job.pk and update["job"]["progress"] == 70
    log = (ROOT / "var" / "daphne-test.log").read_text()
    assert "Timeout reading from" in log  # the failure the issue saw, now survived
