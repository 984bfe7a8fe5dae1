"""What a job socket costs when hundreds connect at once: the snapshot is read as rows (no model
instances, one URL reverse per team) but must say exactly what `Job.as_event` says; joining and
leaving the socket's groups is one Redis round trip (a pipeline) that must write what
channels_redis' own group_add (ZADD + EXPIRE) and group_discard (ZREM) write."""

from __future__ import annotations

import pytest
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.conf import settings

from tests.support.waiting import run_async
from webapp.accounts.models import Membership, Team
from webapp.accounts.notify import user_group
from webapp.asgi import application
from webapp.jobs.models import Job
from webapp.jobs.notify import team_group
from webapp.jobs.selectors import _URL_ID_PLACEHOLDER, live_snapshot

pytestmark = pytest.mark.django_db(transaction=True)


def test_snapshot_rows_say_what_as_event_says(team_a, make_user):
    # A slug holding the number that stands for job ids in the one reversed URL per team.
    odd = Team.objects.create(name="Odd", slug=f"odd-{_URL_ID_PLACEHOLDER}")
    jobs = [
        Job.objects.create(team=team_a, kind="training.bc", title="PilotNet", status=Job.Status.RUNNING,
                           progress=41.26, message="epoch 3", metrics={"loss": 0.12, "eta_s": 40}),
        Job.objects.create(team=team_a, kind="no.such.kind", status=Job.Status.FAILED, error="Out of memory",
                           params={"big": "x" * 10_000}, log_tail="y" * 5000),
        Job.objects.create(team=odd, kind="evaluation", status=Job.Status.QUEUED, cancel_requested=True),
        Job.objects.create(team=odd, kind="datasets.ingest", status=Job.Status.SUCCEEDED, progress=100),
    ]
    expected = [job.as_event() for job in Job.objects.filter(pk__in=[j.pk for j in jobs]).order_by("-created")]
    assert live_snapshot({team_a.pk, odd.pk}) == expected
    assert {event["url"] for event in expected} == {job.get_absolute_url() for job in jobs}
    assert live_snapshot({odd.pk}) == [e for e in expected if e["team_id"] == odd.pk]


def test_snapshot_is_the_latest_100_of_the_teams_only(team_a, team_b):
    Job.objects.bulk_create([Job(team=team_a, kind="training.bc", title=f"a{i}") for i in range(105)])
    Job.objects.create(team=team_b, kind="training.bc", title="other team")
    events = live_snapshot({team_a.pk})
    assert len(events) == 100 and {e["team_id"] for e in events} == {team_a.pk}
    latest = list(Job.objects.filter(team=team_a).order_by("-created").values_list("pk", flat=True)[:100])
    assert [e["id"] for e in events] == latest


def test_a_socket_joins_its_groups_with_their_expiry_and_leaves_them_on_close(client, team_a, team_b, make_user):
    user = make_user("dora")
    for team in (team_a, team_b):
        Membership.objects.create(team=team, user=user, role=Membership.Role.MEMBER)
    client.force_login(user)
    cookie = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}".encode()
    groups = [user_group(user.pk), team_group(team_a.pk), team_group(team_b.pk)]

    async def scenario():
        layer = get_channel_layer()
        redis = layer.connection(0)
        keys = [layer._group_key(group) for group in groups]

        async def members() -> list[set[bytes]]:
            return [set(await redis.zrange(key, 0, -1)) for key in keys]

        before = await members()
        ws = WebsocketCommunicator(application, "/ws/jobs/", headers=[
            (b"origin", b"http://127.0.0.1:8000"), (b"host", b"127.0.0.1:8000"), (b"cookie", cookie)])
        connected, _ = await ws.connect()
        assert connected
        snapshot = await ws.receive_json_from(timeout=10)
        joined = [now - then for now, then in zip(await members(), before, strict=True)]
        ttls = [await redis.ttl(key) for key in keys]
        await ws.disconnect()
        left = [now & new for now, new in zip(await members(), joined, strict=True)]
        return snapshot, joined, ttls, left, layer.group_expiry

    snapshot, joined, ttls, left, expiry = run_async(scenario)
    assert snapshot["type"] == "snapshot"
    channel = next(iter(joined[0]))
    assert joined == [{channel}] * 3  # the same socket in the user's group and both teams' groups
    assert all(expiry - 60 < ttl <= expiry for ttl in ttls)
    assert left == [set()] * 3
