"""The job websocket stays up while idle and stays private when memberships change.

The idle test goes through a real Daphne and the real Redis channel layer (the failure lived in
redis-py's socket timeout under channels_redis' blocking read); the membership tests drive the
consumer through Channels' communicator on the same Redis layer.
"""

from __future__ import annotations

import asyncio
import json
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings

from webapp.accounts.models import Membership
from webapp.accounts.services import create_invite, join_team, leave_team, remove_member
from webapp.jobs.consumers import CLOSE_MEMBERSHIP_LOST, JobUpdatesConsumer
from webapp.jobs.models import Job
from webapp.jobs.notify import notify_job

pytestmark = pytest.mark.django_db(transaction=True)


def run(coroutine_function, *args):
    """On a fresh event loop in a thread of its own (never inside another running loop)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine_function(*args)).result()


@pytest.fixture
def member(team_a, make_user):
    """Bruno: an ordinary member of Team Alpha (joined with an invite)."""
    bruno = make_user("bruno")
    join_team(user=bruno, code=create_invite(user=team_a.captain, team=team_a).code)
    return bruno


def socket_of(user) -> WebsocketCommunicator:
    ws = WebsocketCommunicator(JobUpdatesConsumer.as_asgi(), "/ws/jobs/")
    ws.scope["user"] = user
    return ws


async def open_with_snapshot(user) -> tuple[WebsocketCommunicator, dict]:
    ws = socket_of(user)
    connected, _ = await ws.connect()
    assert connected
    snapshot = await ws.receive_json_from(timeout=5)
    assert snapshot["type"] == "snapshot"
    return ws, snapshot


async def closed_with(ws: WebsocketCommunicator) -> int | None:
    """The close code the consumer sent, after skipping anything else it sent first; fails if a
    job message of any kind comes instead."""
    while True:
        output = await ws.receive_output(timeout=5)
        if output["type"] == "websocket.close":
            return output.get("code")
        raise AssertionError(f"expected the socket to close, got {output}")


@pytest.mark.slow
def test_idle_socket_stays_open_for_30s_and_still_gets_updates(daphne_server, client, team_a):
    import websockets

    job = Job.objects.create(team=team_a, kind="test.countdown", progress=10, status=Job.Status.RUNNING)
    client.force_login(team_a.captain)
    cookie = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
    ws_url = daphne_server.replace("http://", "ws://") + "/ws/jobs/"

    async def scenario():
        async with websockets.connect(ws_url, origin=daphne_server, additional_headers={"Cookie": cookie},
                                      ping_interval=None) as ws:
            snapshot = json.loads(await asyncio.wait_for(ws.recv(), 10))
            opened = time.monotonic()
            # Idle: nothing is sent either way. The server used to close it with 1011 after ~5 s.
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(ws.recv(), 32)
            idle_s = time.monotonic() - opened
            await sync_to_async(Job.objects.filter(pk=job.pk).update)(progress=55)
            await sync_to_async(notify_job)(await sync_to_async(Job.objects.get)(pk=job.pk))
            update = json.loads(await asyncio.wait_for(ws.recv(), 10))
            return snapshot, idle_s, update

    snapshot, idle_s, update = run(scenario)
    assert [j["id"] for j in snapshot["jobs"]] == [job.pk]
    assert idle_s > 30
    assert update["type"] == "job" and update["job"]["id"] == job.pk and update["job"]["progress"] == 55


def test_channel_layer_socket_timeout_outlasts_its_blocking_read():
    from channels_redis.core import RedisChannelLayer

    host = settings.CHANNEL_LAYERS["default"]["CONFIG"]["hosts"][0]
    assert isinstance(host, dict) and host["socket_timeout"] > RedisChannelLayer.brpop_timeout


def test_removed_member_socket_is_closed_and_gets_no_more_updates(team_a, member):
    job = Job.objects.create(team=team_a, kind="test.countdown", status=Job.Status.RUNNING)
    captain = team_a.captain

    async def scenario():
        ws, snapshot = await open_with_snapshot(member)
        await sync_to_async(remove_member)(user=captain, team=team_a, member_id=member.pk)
        code = await closed_with(ws)
        await ws.disconnect()
        return snapshot, code

    snapshot, code = run(scenario)
    assert [j["id"] for j in snapshot["jobs"]] == [job.pk]
    assert code == CLOSE_MEMBERSHIP_LOST


def test_member_who_leaves_has_their_socket_closed(team_a, member):
    async def scenario():
        ws, _ = await open_with_snapshot(member)
        await sync_to_async(leave_team)(user=member, team=team_a)
        code = await closed_with(ws)
        await ws.disconnect()
        return code

    assert run(scenario) == CLOSE_MEMBERSHIP_LOST


def test_update_is_checked_against_membership_even_without_the_removal_message(team_a, member):
    """The membership row goes without any message to the socket (a lost notification): the next
    job update of that team must still not reach the former member."""
    job = Job.objects.create(team=team_a, kind="test.countdown", status=Job.Status.RUNNING)

    async def scenario():
        ws, _ = await open_with_snapshot(member)
        await sync_to_async(Membership.objects.filter(team=team_a, user=member).delete)()
        await sync_to_async(notify_job)(job)
        code = await closed_with(ws)
        await ws.disconnect()
        return code

    assert run(scenario) == CLOSE_MEMBERSHIP_LOST


def test_refresh_rereads_membership_before_sending_a_snapshot(team_a, member):
    Job.objects.create(team=team_a, kind="test.countdown")

    async def scenario():
        ws, _ = await open_with_snapshot(member)
        await sync_to_async(Membership.objects.filter(team=team_a, user=member).delete)()
        await ws.send_json_to({"type": "refresh"})
        code = await closed_with(ws)
        await ws.disconnect()
        return code

    assert run(scenario) == CLOSE_MEMBERSHIP_LOST


def test_member_of_two_teams_keeps_the_other_team_after_reconnecting(team_a, team_b, member):
    join_team(user=member, code=create_invite(user=team_b.captain, team=team_b).code)
    job_a = Job.objects.create(team=team_a, kind="test.countdown")
    job_b = Job.objects.create(team=team_b, kind="test.countdown")
    captain = team_a.captain

    async def scenario():
        ws, first = await open_with_snapshot(member)
        await sync_to_async(remove_member)(user=captain, team=team_a, member_id=member.pk)
        code = await closed_with(ws)
        await ws.disconnect()
        ws, second = await open_with_snapshot(member)  # what the page does after a close
        await sync_to_async(notify_job)(job_a)
        await sync_to_async(notify_job)(job_b)
        update = await ws.receive_json_from(timeout=5)
        nothing_else = await ws.receive_nothing(timeout=0.5)
        await ws.disconnect()
        return first, code, second, update, nothing_else

    first, code, second, update, nothing_else = run(scenario)
    assert {j["id"] for j in first["jobs"]} == {job_a.pk, job_b.pk}
    assert code == CLOSE_MEMBERSHIP_LOST
    assert [j["id"] for j in second["jobs"]] == [job_b.pk]
    assert update["job"]["id"] == job_b.pk and nothing_else


def test_joining_a_team_adds_its_jobs_to_an_open_socket(team_a, team_b, member):
    job_b = Job.objects.create(team=team_b, kind="test.countdown")
    code = create_invite(user=team_b.captain, team=team_b).code

    async def scenario():
        ws, first = await open_with_snapshot(member)
        await sync_to_async(join_team)(user=member, code=code)
        second = await ws.receive_json_from(timeout=5)
        await sync_to_async(notify_job)(job_b)
        update = await ws.receive_json_from(timeout=5)
        await ws.disconnect()
        return first, second, update

    first, second, update = run(scenario)
    assert first["jobs"] == []
    assert second["type"] == "snapshot" and [j["id"] for j in second["jobs"]] == [job_b.pk]
    assert update["job"]["id"] == job_b.pk


def test_sign_in_reads_teams_and_leaves_no_database_connection_open(client, team_a, team_b):
    """Through the real websocket stack (session cookie -> SessionUserAndTeamsMiddleware): a burst
    of sockets shares the sign-in thread's connection, which is closed once the burst is over."""
    from django.db import connections

    from webapp.accounts import socket_auth
    from webapp.asgi import application

    job = Job.objects.create(team=team_a, kind="test.countdown")
    Job.objects.create(team=team_b, kind="test.countdown")
    client.force_login(team_a.captain)
    cookie = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}".encode()
    headers = [(b"origin", b"http://127.0.0.1:8000"), (b"host", b"127.0.0.1:8000"), (b"cookie", cookie)]

    async def one():
        ws = WebsocketCommunicator(application, "/ws/jobs/", headers=headers)
        connected, _ = await ws.connect()
        snapshot = await ws.receive_json_from(timeout=10)
        await ws.disconnect()
        return connected, snapshot

    async def burst():
        return await asyncio.gather(*(one() for _ in range(20)))

    results = run(burst)
    assert all(connected for connected, _ in results)
    assert all([j["id"] for j in snapshot["jobs"]] == [job.pk] for _, snapshot in results)
    open_after = socket_auth._lane.executor.submit(
        lambda: [c.alias for c in connections.all(initialized_only=True) if c.connection is not None]).result()
    assert open_after == []
