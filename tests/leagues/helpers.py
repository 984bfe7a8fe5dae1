"""Helpers of the race tests: a clock that moves forward as a race is driven, and driving a whole
attempt through the race services."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from webapp.leagues import race


class RaceClock:
    """`clock(advance)` moves the race's clock forward by `advance` seconds and returns the moment."""

    def __init__(self, start=None):
        self.start = start or timezone.now().replace(microsecond=0)
        self.seconds = 0.0

    def __call__(self, advance: float = 0.0):
        self.seconds += advance
        return self.start + timedelta(seconds=self.seconds)


def drive(user, event, team, lap_times, clock, race_round=None, heat=None):
    """One attempt of the team: put on track, started, its laps timed, ended."""
    attempt = race.create_attempt(user=user, event=event, team=team, race_round=race_round, heat=heat)
    attempt = race.start(user=user, attempt=attempt, expected_version=attempt.version, now=clock(10))
    for seconds in lap_times:
        race.capture_lap(user=user, attempt=attempt, expected_version=attempt.version, now=clock(seconds))
        attempt.refresh_from_db()
    race.end(user=user, attempt=attempt, expected_version=attempt.version, now=clock(1))
