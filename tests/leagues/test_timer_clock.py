"""The lap timer's clock (issue 12's outside test): a crossing belongs to the attempt on track when it
HAPPENED (estimated from the device's clock offset), not when it arrives; a device clock that resets
or leaps makes no giant lap; a gap longer than the race time is no lap; a console lap after a device
crossing is timed from that crossing; a crossing during a pause makes no lap; deeply nested JSON is a
400."""

from datetime import UTC, datetime, timedelta

import pytest
from rest_framework.test import APIClient

from webapp.leagues import race
from webapp.leagues.models import Attempt, AuditEntry, Crossing, LapResult

S = 1_000_000
T0 = datetime(2026, 6, 6, 10, 0, tzinfo=UTC)


def at(seconds):
    return T0 + timedelta(seconds=seconds)


@pytest.fixture
def event(make_race_event):
    return make_race_event(ranking_rule="best_lap")


@pytest.fixture
def device(event, organiser):
    device, _ = race.issue_device(user=organiser, event=event, name="Finish line")
    return device


def put_on_track(organiser, event, team, when):
    attempt = race.create_attempt(user=organiser, event=event, team=team)
    race.start(user=organiser, attempt=attempt, expected_version=attempt.version, now=when)
    attempt.refresh_from_db()
    return attempt


def finish(organiser, attempt, when):
    attempt.refresh_from_db()
    race.end(user=organiser, attempt=attempt, expected_version=attempt.version, now=when)


def cross(device, cid, device_us, received):
    crossing, _ = race.ingest_crossing(device, cid, int(device_us), "s1", now=received)
    return crossing


def lap_times(team=None):
    laps = LapResult.objects.order_by("lap_number")
    if team is not None:
        laps = laps.filter(team=team)
    return [lap.lap_time_s for lap in laps]


# -- 1. late crossings go to the team that crossed the line -------------------------------------

@pytest.mark.django_db
def test_crossings_queued_while_the_server_was_down_go_to_the_team_that_made_them(
        event, device, organiser, team_a, team_b):
    # Device clock: 46.05 s at T0 + 1 s (crossings arrive promptly: the offset is learned).
    team_03 = put_on_track(organiser, event, team_a, at(0))
    assert cross(device, "p1", 46_050_000, at(1)).status == "counted"  # lap 1 starts
    # The server is down: the next three crossings (T0 + 8.61, 16.22, 23.83 s) wait in the device's queue.
    finish(organiser, team_03, at(30))
    team_04 = put_on_track(organiser, event, team_b, at(40))
    queued = [cross(device, f"q{i}", us, at(45 + i)) for i, us in enumerate((53_660_000, 61_270_000, 68_880_000))]
    assert {c.attempt_id for c in queued} == {team_03.pk}
    assert lap_times(team_a) == [7.61, 7.61, 7.61]
    assert lap_times(team_b) == []
    # Each lap ended when the car crossed the line, not when the attempt ended (within the clock
    # estimate's allowance for a slow device clock: 100 ppm of the 45 s since the last prompt crossing).
    ends = [lap.ends_at_s for lap in LapResult.objects.filter(team=team_a).order_by("lap_number")]
    assert ends == pytest.approx([8.61, 16.22, 23.83], abs=0.01)
    # A crossing that happened between the two attempts (T0 + 35 s) belongs to neither.
    assert cross(device, "gap", 80_050_000, at(50)).status == "no_attempt"
    # Team 04's own crossings, prompt, time Team 04.
    cross(device, "b1", 87_050_000, at(42))
    cross(device, "b2", 94_660_000, at(49.61))
    assert lap_times(team_b) == [7.61]
    team_04.refresh_from_db()
    assert team_04.lap_started_device_us == 94_660_000


@pytest.mark.django_db
def test_a_device_clock_running_slow_still_times_the_attempt_hours_later(event, device, organiser, team_a):
    # A crossing at T0 - 10 h gives the offset; the device clock then runs 50 ppm slow (1.8 s in 10 h).
    cross(device, "morning", 1_000 * S, at(-36_000))
    put_on_track(organiser, event, team_a, at(0))
    slow = 1 - 50e-6
    first = cross(device, "a", (1_000 + 36_000.5 * slow) * S, at(0.5))  # 0.5 s after the start
    assert first.attempt_id is not None and first.status == "counted"
    cross(device, "b", (1_000 + 36_008.11 * slow) * S, at(8.11))
    assert lap_times() == [7.61]


# -- 2. device clock jumps ----------------------------------------------------------------------

@pytest.mark.django_db
def test_a_device_reboot_starts_a_new_lap_instead_of_a_giant_one(event, device, organiser, team_a):
    attempt = put_on_track(organiser, event, team_a, at(0))
    cross(device, "a", 900_000 * S, at(1))
    cross(device, "b", 900_007.61 * S, at(8.61))
    rebooted = cross(device, "c", 3 * S, at(16.22))  # the device restarted: its clock is near zero
    assert rebooted.status == "counted" and rebooted.lap is None and "reset" in rebooted.note
    cross(device, "d", 10.61 * S, at(23.83))
    assert lap_times() == [7.61, 7.61]
    assert AuditEntry.objects.filter(action="timer_new_lap", attempt=attempt).count() == 1
    device.refresh_from_db()
    assert device.clock_epoch == 1


@pytest.mark.django_db
def test_a_clock_that_leaps_ahead_makes_no_lap_and_coming_back_is_a_reset(event, device, organiser, team_a):
    put_on_track(organiser, event, team_a, at(0))
    cross(device, "a", 100 * S, at(1))
    cross(device, "b", 107.61 * S, at(8.61))
    leap = cross(device, "c", 2**62, at(16.22))
    assert leap.status == "counted" and leap.lap is None and leap.attempt_id is not None
    back = cross(device, "d", 122.83 * S, at(23.83))  # the clock is right again
    assert back.attempt_id is not None and back.lap is None
    cross(device, "e", 130.44 * S, at(31.44))
    assert lap_times() == [7.61, 7.61]
    assert max(lap_times()) < 120


@pytest.mark.django_db
def test_a_gap_longer_than_the_race_time_starts_a_new_lap(event, device, organiser, team_a):
    attempt = put_on_track(organiser, event, team_a, at(0))
    attempt.time_limit_s = 60
    attempt.save()
    cross(device, "a", 100 * S, at(1))
    long_gap = cross(device, "b", 190 * S, at(91))  # 90 s: the car was off the track, not lapping
    assert long_gap.lap is None and "time limit" in long_gap.note
    entry = AuditEntry.objects.get(action="timer_new_lap")
    assert "90.000 s" in entry.reason and entry.actor_label == "timer device Finish line"
    cross(device, "c", 197.61 * S, at(98.61))
    assert lap_times() == [7.61]


@pytest.mark.django_db
def test_a_late_crossing_changes_two_laps_in_a_bounded_number_of_queries(
        event, device, organiser, team_a, django_assert_max_num_queries):
    attempt = put_on_track(organiser, event, team_a, at(0))
    attempt.time_limit_s = 3600
    attempt.save()
    for n in range(61):
        if n != 30:
            cross(device, f"c{n}", (100 + 8 * n) * S, at(1 + 8 * n))
    assert len(lap_times()) == 59 and lap_times()[29] == 16.0
    with django_assert_max_num_queries(45):  # the same for 60 laps as for 600
        cross(device, "c30", (100 + 8 * 30) * S, at(1 + 8 * 30 + 60))
    assert lap_times() == [8.0] * 60
    assert list(LapResult.objects.order_by("lap_number").values_list("lap_number", flat=True)) == list(range(1, 61))
    assert Crossing.objects.get(crossing_id="c30").lap.lap_number == 30


# -- 3. a console lap after a device crossing ---------------------------------------------------

@pytest.mark.django_db
def test_a_console_lap_is_timed_from_the_last_device_crossing(event, device, organiser, team_a):
    attempt = put_on_track(organiser, event, team_a, at(0))
    cross(device, "a", 100 * S, at(1))
    cross(device, "b", 107.61 * S, at(8.61))
    attempt.refresh_from_db()
    assert attempt.lap_started_at == at(8.61)
    lap = race.capture_lap(user=organiser, attempt=attempt, expected_version=attempt.version, now=at(16.22))
    assert lap.lap_time_s == 7.61


# -- 4. a crossing during a pause ---------------------------------------------------------------

@pytest.mark.django_db
def test_a_crossing_during_a_pause_makes_no_lap(event, device, organiser, team_a):
    attempt = put_on_track(organiser, event, team_a, at(0))
    cross(device, "a", 100 * S, at(1))
    attempt.refresh_from_db()
    race.pause(user=organiser, attempt=attempt, expected_version=attempt.version, now=at(5))
    paused = cross(device, "b", 104 * S, at(5.5))  # someone walks through the beam to fetch the car
    assert paused.status == Crossing.Status.PAUSED and paused.lap is None
    assert not LapResult.objects.exists()
    attempt.refresh_from_db()
    assert attempt.status == Attempt.Status.PAUSED and attempt.lap_started_device_us == 100 * S


# -- 5. the API and deeply nested JSON ----------------------------------------------------------

@pytest.mark.django_db
def test_deeply_nested_json_is_a_400_with_a_message(event, organiser):
    _, token = race.issue_device(user=organiser, event=event, name="Finish line")
    body = "[" * 100_000 + "]" * 100_000
    answer = APIClient().post("/api/v1/timer/crossings/", body, content_type="application/json",
                              HTTP_AUTHORIZATION=f"Device {token}")
    assert answer.status_code == 400
    assert "nested too deeply" in answer.json()["detail"]
    assert not Crossing.objects.exists()


@pytest.mark.django_db
def test_a_late_replayed_crossing_that_closes_a_lap_after_the_race_time_holds_that_lap(
        event, device, organiser, team_a):
    """A lap a replayed crossing inserts is held by the console's rules: completed after the race
    time, it is invalid with the reason (not silently valid in the console and absent from the board)."""
    attempt = put_on_track(organiser, event, team_a, at(0))
    base = 10 * S
    cross(device, "c0", base, at(0.5))                    # the lap starts 0.5 s into the attempt
    cross(device, "c1", base + 60 * S, at(60.5))           # lap 1: 60 s
    cross(device, "c3", base + 125 * S, at(125.5))         # 65 s, ends after the 120 s race time
    cross(device, "c2", base + 120.5 * S, at(126.0))       # replayed late: 60.5 s, ends at 121 s
    laps = {lap.crossing.crossing_id: lap for lap in LapResult.objects.filter(attempt=attempt)}
    assert laps["c1"].valid
    inserted = laps["c2"]
    assert inserted.lap_time_s == pytest.approx(60.5)
    assert not inserted.valid and race.LATE_REASON in inserted.invalidated_reason
