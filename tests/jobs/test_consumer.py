"""The job websocket through the real ASGI stack: sessions, origin checks and team groups."""

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings

from tests.support.waiting import run_async
from webapp.asgi import application
from webapp.jobs.models import Job
from webapp.jobs.notify import notify_job

pytestmark = pytest.mark.django_db(transaction=True)


def session_cookie(client, user) -> bytes:
    client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}".encode()


def communicator(cookie: bytes | None, origin: bytes = b"http://127.0.0.1:8000"):
    headers = [(b"origin", origin), (b"host", b"127.0.0.1:8000")]
    if cookie:
        headers.append((b"cookie", cookie))
    return WebsocketCommunicator(application, "/ws/jobs/", headers=headers)


def test_anonymous_socket_is_refused():
    async def scenario():
        ws = communicator(None)
        connected, code = await ws.connect()
        return connected, code

    connected, code = run_async(scenario)
    assert not connected
    assert code == 4401


def test_foreign_origin_is_refused(client, team_a):
    cookie = session_cookie(client, team_a.captain)

    async def scenario():
        ws = communicator(cookie, origin=b"http://evil.example.com")
        connected, _ = await ws.connect()
        return connected

    assert run_async(scenario) is False


def test_snapshot_on_connect_and_only_own_team_updates(client, team_a, team_b):
    own = Job.objects.create(team=team_a, kind="test.countdown", progress=40, status=Job.Status.RUNNING)
    foreign = Job.objects.create(team=team_b, kind="test.countdown", progress=10)
    cookie = session_cookie(client, team_a.captain)

    async def scenario():
        ws = communicator(cookie)
        connected, _ = await ws.connect()
        assert connected
        snapshot = await ws.receive_json_from(timeout=5)
        await sync_to_async(notify_job)(foreign)
        await sync_to_async(notify_job)(own)
        update = await ws.receive_json_from(timeout=5)
        nothing_else = await ws.receive_nothing(timeout=0.5)
        await ws.disconnect()
        return snapshot, update, nothing_else

    snapshot, update, nothing_else = run_async(scenario)
    assert snapshot["type"] == "snapshot"
    assert [job["id"] for job in snapshot["jobs"]] == [own.pk]
    assert snapshot["jobs"][0]["progress"] == 40
    assert update["type"] == "job" and update["job"]["id"] == own.pk
    assert nothing_else, "a job of another team must never reach this socket"


def test_refresh_request_rereads_the_database(client, team_a):
    job = Job.objects.create(team=team_a, kind="test.countdown")
    cookie = session_cookie(client, team_a.captain)

    async def scenario():
        ws = communicator(cookie)
        await ws.connect()
        await ws.receive_json_from(timeout=5)
        await sync_to_async(Job.objects.filter(pk=job.pk).update)(progress=75)
        await ws.send_json_to({"type": "refresh"})
        fresh = await ws.receive_json_from(timeout=5)
        await ws.disconnect()
        return fresh

    fresh = run_async(scenario)
    assert fresh["jobs"][0]["progress"] == 75
