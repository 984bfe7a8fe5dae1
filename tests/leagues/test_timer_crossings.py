"""Lap-timer devices: crossings become laps on the device's clock, idempotent on the crossing id,
debounced per sensor, ignorable by the timekeeper; the API authenticates a device token scoped to
one event."""

from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import PermissionDenied
from rest_framework.test import APIClient

from webapp.leagues import race
from webapp.leagues.models import AuditEntry, Crossing, Event, LapResult
from webapp.leagues.services import make_organiser

URL = "/api/v1/timer/crossings/"
S = 1_000_000  # µs per second
# The attempt starts at T0; device time 100 s is T0 + 1 s on the server's clock (a crossing arrives
# `delay` seconds after it happened).
T0 = datetime(2026, 6, 6, 10, 0, tzinfo=UTC)


@pytest.fixture
def event(make_race_event):
    event = make_race_event(ranking_rule="best_lap")
    return event


@pytest.fixture
def device(event, organiser):
    device, _ = race.issue_device(user=organiser, event=event, name="Finish line")
    return device


@pytest.fixture
def on_track(event, organiser, team_a):
    attempt = race.create_attempt(user=organiser, event=event, team=team_a)
    race.start(user=organiser, attempt=attempt, expected_version=attempt.version, now=T0)
    attempt.refresh_from_db()
    return attempt


def server_time(seconds, delay=0.0):
    return T0 + timedelta(seconds=seconds - 99 + delay)


def cross(device, cid, seconds, sensor="s1", delay=0.0):
    crossing, _ = race.ingest_crossing(device, cid, int(seconds * S), sensor, now=server_time(seconds, delay))
    return crossing


def laps():
    return list(LapResult.objects.order_by("lap_number").values_list("lap_number", "lap_time_s", "source"))


@pytest.mark.django_db
def test_crossings_become_laps_on_the_device_clock(device, on_track):
    first = cross(device, "c1", 100.0)
    assert first.status == "counted" and first.lap is None  # starts the lap
    second = cross(device, "c2", 107.61)
    third = cross(device, "c3", 115.0)
    assert laps() == [(1, 7.61, "lap_timer"), (2, 7.39, "lap_timer")]
    assert (second.lap.lap_number, third.lap.lap_number) == (1, 2)
    entry = AuditEntry.objects.filter(action="lap_added").first()
    assert entry.actor is None and entry.actor_label == "timer device Finish line"


@pytest.mark.django_db
def test_a_repeated_crossing_id_answers_the_first_time(device, on_track):
    cross(device, "c1", 100.0)
    made, created = race.ingest_crossing(device, "c2", 108 * S, "s1")
    again, created_again = race.ingest_crossing(device, "c2", 108 * S, "s1")
    assert (created, created_again) == (True, False)
    assert again.pk == made.pk and again.lap_id == made.lap_id
    assert LapResult.objects.count() == 1 and Crossing.objects.count() == 2


@pytest.mark.django_db
def test_a_burst_inside_the_debounce_window_makes_one_lap(device, on_track):
    cross(device, "c1", 100.0)
    cross(device, "c2", 108.0)
    bounces = [cross(device, f"b{i}", 108.0 + 0.3 * i) for i in range(1, 5)]  # 108.3 .. 109.2 s
    assert {c.status for c in bounces} == {"debounced"}
    other_sensor = cross(device, "x1", 108.5, sensor="s2")  # debounce is per sensor
    assert other_sensor.status == "counted"
    cross(device, "c3", 116.0)  # 2 s after the other sensor's crossing: counted
    assert [t for _, t, _ in laps()] == [8.0, 0.5, 7.5]


@pytest.mark.django_db
def test_ignore_and_restore_a_crossing_recomputes_the_laps(device, on_track, organiser):
    for cid, t in (("c1", 100.0), ("c2", 108.0), ("walk", 110.0), ("c3", 116.0), ("c4", 124.0)):
        cross(device, cid, t)
    assert [t for _, t, _ in laps()] == [8.0, 2.0, 6.0, 8.0]
    walker = Crossing.objects.get(crossing_id="walk")
    race.ignore_crossing(user=organiser, crossing=walker, reason="someone walked through the beam")
    assert [(n, t) for n, t, _ in laps()] == [(1, 8.0), (2, 8.0), (3, 8.0)]
    assert AuditEntry.objects.filter(action="crossing_ignored", reason__contains="walked").exists()
    walker.refresh_from_db()
    race.restore_crossing(user=organiser, crossing=walker, reason="it was the car")
    assert [(n, t) for n, t, _ in laps()] == [(1, 8.0), (2, 2.0), (3, 6.0), (4, 8.0)]
    # The next crossing continues from the last counted one.
    cross(device, "c5", 131.0)
    assert laps()[-1][:2] == (5, 7.0)


@pytest.mark.django_db
def test_undo_of_an_ignore_brings_the_laps_back(device, on_track, organiser):
    for cid, t in (("c1", 100.0), ("c2", 108.0), ("c3", 116.0)):
        cross(device, cid, t)
    race.ignore_crossing(user=organiser, crossing=Crossing.objects.get(crossing_id="c2"))
    assert [t for _, t, _ in laps()] == [16.0]
    on_track.refresh_from_db()
    race.undo_last(user=organiser, attempt=on_track, expected_version=on_track.version)
    assert [t for _, t, _ in laps()] == [8.0, 8.0]


@pytest.mark.django_db
def test_crossings_without_a_team_on_track_make_no_lap(device):
    assert cross(device, "c1", 100.0).status == "no_attempt"
    assert cross(device, "c2", 108.0).status == "no_attempt"
    assert not LapResult.objects.exists()


@pytest.mark.django_db
def test_a_crossing_arriving_late_from_a_queue_is_put_in_order(device, on_track):
    cross(device, "c1", 100.0)
    cross(device, "c3", 116.0)
    cross(device, "c2", 108.0, delay=9.0)  # replayed late
    assert [(n, t) for n, t, _ in laps()] == [(1, 8.0), (2, 8.0)]


@pytest.mark.django_db
def test_a_device_lap_below_the_plausible_minimum_waits_for_confirmation(device, on_track, organiser):
    on_track.event.min_plausible_lap_s = 5.0
    on_track.event.save()
    cross(device, "c1", 100.0)
    fast = cross(device, "c2", 103.0).lap
    assert not fast.valid and "plausible" in fast.invalidated_reason
    on_track.refresh_from_db()
    race.restore_lap(user=organiser, lap=fast, reason="shortcut layout", expected_version=on_track.version)
    fast.refresh_from_db()
    assert fast.valid and fast.confirmed_implausible


# -- the API ------------------------------------------------------------------------------------

def post(client, token, body):
    return client.post(URL, body, format="json", HTTP_AUTHORIZATION=f"Device {token}")


@pytest.mark.django_db
def test_the_api_turns_posts_into_laps(event, organiser, on_track):
    _, token = race.issue_device(user=organiser, event=event, name="Finish line")
    client = APIClient()
    assert post(client, token, {"crossing_id": "a", "device_time_us": 100 * S, "sensor": "s1"}).status_code == 201
    made = post(client, token, {"crossing_id": "b", "device_time_us": 107_610_000, "sensor": "s1"})
    assert made.status_code == 201
    assert made.json()["status"] == "counted"
    assert made.json()["lap"]["lap_number"] == 1 and made.json()["lap"]["lap_time_s"] == 7.61
    repeat = post(client, token, {"crossing_id": "b", "device_time_us": 107_610_000, "sensor": "s1"})
    assert repeat.status_code == 200 and repeat.json() == made.json()
    assert post(client, token, {"crossing_id": "", "device_time_us": -1}).status_code == 400


@pytest.mark.django_db
def test_wrong_revoked_and_missing_tokens_are_refused(event, organiser, on_track):
    device, token = race.issue_device(user=organiser, event=event, name="Finish line")
    client = APIClient()
    body = {"crossing_id": "a", "device_time_us": 1}
    assert post(client, "pld_not-a-token", body).status_code == 401
    assert client.post(URL, body, format="json").status_code == 401
    assert race.revoke_device(user=organiser, device=device)
    assert post(client, token, body).status_code == 401
    assert not Crossing.objects.exists()
    assert device.token_hash != token and token not in device.prefix  # only a hash and a prefix stored


@pytest.mark.django_db
def test_a_device_of_event_a_cannot_touch_event_b(event, organiser, on_track, make_league, make_event, make_user,
                                                  team_a):
    other_league = make_league("Other League")
    other_org = make_user("other-org")
    make_organiser(other_org, other_league)
    other_event = make_event(other_league, kind=Event.Kind.PHYSICAL)
    other_device, other_token = race.issue_device(user=other_org, event=other_event, name="Other line")
    client = APIClient()
    for i in range(3):  # event A has a team on track; event B's device must not time it
        answer = post(client, other_token, {"crossing_id": f"x{i}", "device_time_us": (100 + 8 * i) * S})
        assert answer.json()["status"] == "no_attempt"
    assert not LapResult.objects.exists()
    # Nor can event B's organiser manage A's devices or crossings.
    with pytest.raises(PermissionDenied):
        race.issue_device(user=other_org, event=event, name="sneaky")
    own_device, _ = race.issue_device(user=organiser, event=event, name="Finish line")
    cross(own_device, "c1", 100.0)
    with pytest.raises(PermissionDenied):
        race.ignore_crossing(user=other_org, crossing=Crossing.objects.get(crossing_id="c1"))
    with pytest.raises(PermissionDenied):
        race.revoke_device(user=other_org, device=own_device)


@pytest.mark.django_db
def test_two_crossings_at_the_same_instant_are_one_passage(device, on_track):
    device.debounce_s = 0.0
    device.save()
    cross(device, "c1", 100.0)
    cross(device, "c2", 108.0)
    same = cross(device, "c3", 108.0002)  # 0.2 ms later: no 0.000 s lap (it used to fail with a 500)
    other_sensor = cross(device, "c4", 108.0005, sensor="s2")
    assert (same.status, other_sensor.status) == ("debounced", "debounced")
    assert [t for _, t, _ in laps()] == [8.0]


@pytest.mark.django_db
def test_a_revoked_device_cannot_ingest_even_when_called_directly(device, on_track, organiser):
    race.revoke_device(user=organiser, device=device)
    with pytest.raises(PermissionDenied, match="revoked"):
        race.ingest_crossing(device, "c1", 100 * S, "s1")
    assert not Crossing.objects.exists()


@pytest.mark.django_db
def test_recomputed_laps_are_audited_and_undo_goes_through_the_crossing(device, on_track, organiser):
    for cid, t in (("c1", 100.0), ("c2", 108.0), ("c3", 116.0)):
        cross(device, cid, t)
    race.ignore_crossing(user=organiser, crossing=Crossing.objects.get(crossing_id="c2"), reason="a hand")
    recomputed = list(AuditEntry.objects.filter(reason="a hand").order_by("pk").values_list("action", flat=True))
    assert recomputed == ["lap_removed", "lap_edited", "crossing_ignored"]
    edited = AuditEntry.objects.get(action="lap_edited")
    assert (edited.old["lap_time_s"], edited.new["lap_time_s"]) == (8.0, 16.0)
    cross(device, "late", 104.0, delay=30.0)  # a replayed crossing splits the lap again
    assert [t for _, t, _ in laps()] == [4.0, 12.0]
    late = AuditEntry.objects.filter(actor_label="timer device Finish line", reason__contains="late")
    assert {e.action for e in late} >= {"lap_added", "lap_edited"}
    # Undo skips the recomputed entries and reverts the last undoable change: the ignore.
    on_track.refresh_from_db()
    race.undo_last(user=organiser, attempt=on_track, expected_version=on_track.version)
    assert [t for _, t, _ in laps()] == [4.0, 4.0, 8.0]
