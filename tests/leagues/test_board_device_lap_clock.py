"""The big screen's and overlay's "This lap" clock on an attempt timed by a lap-timer device: the board
document's `lap_started_at` is the arrival of the crossing that started the lap in progress. It used to
stay at the attempt's start (the device's laps move only `lap_started_device_us`), so the venue's
screen counted one ever-growing lap while the console read "timer device" (outside test of issue 12)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from webapp.leagues import boards, race

pytestmark = pytest.mark.django_db

S = 1_000_000
T0 = timezone.now().replace(microsecond=0)


def at(seconds: float):
    return T0 + timedelta(seconds=seconds)


def test_the_lap_clock_of_a_device_timed_attempt_starts_at_the_last_counted_crossing(make_race_event, organiser,
                                                                                    team_a):
    event = make_race_event()
    device, _token = race.issue_device(user=organiser, event=event, name="Finish line")
    attempt = race.create_attempt(user=organiser, event=event, team=team_a)
    race.start(user=organiser, attempt=attempt, expected_version=attempt.version, now=at(0))
    assert boards.board(event)["on_track"]["lap_started_at"] == at(0).timestamp()  # by hand until a crossing

    race.ingest_crossing(device, "c1", 100 * S, now=at(3))  # the car crosses: lap 1 starts
    assert boards.board(event)["on_track"]["lap_started_at"] == at(3).timestamp()
    race.ingest_crossing(device, "c2", 107_610_000, now=at(10.61))  # lap 1 ends, lap 2 starts
    race.ingest_crossing(device, "c3", 108 * S, now=at(11))  # a bounce: debounced, starts nothing
    on_track = boards.board(event)["on_track"]
    assert [lap["time_s"] for lap in on_track["laps"]] == [7.61]
    assert on_track["lap_started_at"] == at(10.61).timestamp()
