"""What a job socket costs when hundreds connect at once, part two.

Sign-in: the usual case (a database session of a ModelBackend sign-in) is read with two SQL
statements (session row; user joined with their team ids) instead of three ORM queries, and must
accept exactly what channels' own `get_user` accepts. Group joins and leaves of sockets that
connect (or go away) together share one Redis round trip per shard.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from channels.auth import get_user
from channels.layers import get_channel_layer
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django.utils.functional import LazyObject

from tests.support.waiting import run_async
from webapp.accounts.models import Membership
from webapp.accounts.selectors import team_ids_of_user_id
from webapp.accounts.socket_auth import _user_and_team_ids, fast_sign_in
from webapp.jobs import consumers
from webapp.jobs.consumers import change_groups

pytestmark = pytest.mark.django_db(transaction=True)


def session_scope(client) -> dict:
    """A scope as channels' SessionMiddleware leaves it: the store inside a LazyObject."""
    session = LazyObject()
    session._wrapped = SessionStore(client.cookies["sessionid"].value)
    return {"session": session}


def channels_answer(client) -> tuple:
    user = get_user.func(session_scope(client))
    return user.pk, user.is_authenticated, frozenset(team_ids_of_user_id(user.pk) if user.pk else ())


def our_answer(client) -> tuple:
    user, team_ids = _user_and_team_ids(session_scope(client))
    return user.pk, user.is_authenticated, team_ids


def test_sign_in_of_a_member_takes_two_statements_and_says_what_channels_says(client, team_a, team_b, make_user):
    dora = make_user("dora")
    for team in (team_a, team_b):
        Membership.objects.create(team=team, user=dora, role=Membership.Role.MEMBER)
    client.force_login(dora)
    with CaptureQueriesContext(connection) as queries:
        user, team_ids = _user_and_team_ids(session_scope(client))
    assert len(queries.captured_queries) == 2  # was 3 ORM queries (session, user, memberships)
    assert (user.pk, user.username, user.email, user.is_authenticated) == (dora.pk, "dora", "dora@example.com", True)
    assert user.date_joined == dora.date_joined  # a whole user row, converted like the ORM's
    assert team_ids == frozenset({team_a.pk, team_b.pk})
    assert our_answer(client) == channels_answer(client)


def test_user_without_a_team_signs_in_with_no_teams(client, make_user):
    client.force_login(make_user("loner"))
    assert fast_sign_in(session_scope(client)["session"]) is not None
    assert our_answer(client)[1:] == (True, frozenset())
    assert our_answer(client) == channels_answer(client)


def test_what_channels_refuses_is_refused(client, team_a):
    captain = team_a.captain
    client.force_login(captain)
    key = client.cookies["sessionid"].value
    # A password change (another session hash): anonymous, like channels (which also flushes it).
    captain.set_password("another-password-1")
    captain.save()
    assert fast_sign_in(session_scope(client)["session"]) is None
    assert our_answer(client) == (None, False, frozenset())
    assert not Session.objects.filter(session_key=key).exists()

    # An inactive user.
    client.force_login(captain)
    captain.is_active = False
    captain.save()
    assert our_answer(client) == (None, False, frozenset()) == channels_answer(client)

    # An expired session.
    captain.is_active = True
    captain.save()
    client.force_login(captain)
    Session.objects.filter(session_key=client.cookies["sessionid"].value).update(
        expire_date=timezone.now() - timedelta(seconds=1))
    assert our_answer(client) == (None, False, frozenset()) == channels_answer(client)

    # No such session, and no session at all.
    client.cookies["sessionid"] = "x" * 32
    assert our_answer(client) == (None, False, frozenset())
    user, team_ids = _user_and_team_ids({"session": SessionStore(None)})
    assert not user.is_authenticated and team_ids == frozenset()


def test_group_writes_of_sockets_connecting_together_share_round_trips(monkeypatch):
    executed: list[int] = []
    real_execute = consumers._GroupWrites._execute

    async def counting(layer, shard, operations):
        executed.append(len(operations))
        await real_execute(layer, shard, operations)

    monkeypatch.setattr(consumers._GroupWrites, "_execute", staticmethod(counting))

    async def scenario():
        layer = get_channel_layer()
        redis = layer.connection(0)
        channels = [await layer.new_channel() for _ in range(60)]
        await asyncio.gather(*(change_groups(layer, ch, add=[f"user.{i}", "team.batch"])
                               for i, ch in enumerate(channels)))
        joined = (await redis.zrange(layer._group_key("team.batch"), 0, -1),
                  await redis.ttl(layer._group_key("team.batch")),
                  await redis.zrange(layer._group_key("user.7"), 0, -1))
        joins = len(executed)
        await asyncio.gather(*(change_groups(layer, ch, discard=[f"user.{i}", "team.batch"])
                               for i, ch in enumerate(channels)))
        left = await redis.zrange(layer._group_key("team.batch"), 0, -1)
        # One socket that joins, then leaves: each returns once its own write is in Redis.
        await change_groups(layer, channels[0], add=["team.batch"])
        alone = await redis.zrange(layer._group_key("team.batch"), 0, -1)
        await change_groups(layer, channels[0], discard=["team.batch"])
        return channels, joined, joins, left, alone, await redis.exists(layer._group_key("team.batch"))

    channels, (members, ttl, user_7), joins, left, alone, still_there = run_async(scenario)
    assert sorted(m.decode() for m in members) == sorted(channels)
    assert 0 < ttl <= get_channel_layer().group_expiry
    assert [m.decode() for m in user_7] == [channels[7]]
    assert joins <= 2 and sum(executed[:joins]) == 120  # 60 sockets x 2 groups in one or two trips
    assert left == [] and [m.decode() for m in alone] == [channels[0]] and not still_there
