"""The plausible minimum lap (webapp.leagues.plausibility): the event's own, else a share of the
simulator's physical limit for the track at its scale, else a floor; the issue's 0.4 s "best lap"
needs a confirmation on every path that records laps."""

import pytest
from django.core.exceptions import ValidationError

from webapp.leagues import plausibility, race
from webapp.leagues.models import LapResult
from webapp.leagues.services import record_lap


@pytest.mark.django_db
def test_default_minimum_follows_the_tracks_physical_limit(make_race_event):
    event = make_race_event(min_plausible_lap_s=None, track="reinvent_base")
    limit = plausibility.track_limit_s("reinvent_base", event.direction)
    assert 4.0 < limit < 5.5  # the fitted DeepRacer's limit on re:Invent 2018
    assert plausibility.plausible_minimum_s(event) == pytest.approx(0.9 * limit, abs=1e-3)
    event.min_plausible_lap_s = 6.0
    assert plausibility.plausible_minimum_s(event) == 6.0


@pytest.mark.django_db
def test_unknown_track_gets_the_floor(make_race_event):
    event = make_race_event(min_plausible_lap_s=None, track="our_venue_2026")
    assert plausibility.plausible_minimum_s(event) == plausibility.FLOOR_S


@pytest.mark.django_db
def test_a_0_4_s_lap_needs_confirmation_from_the_admin_path_and_the_console(make_race_event, organiser, team_a):
    event = make_race_event(min_plausible_lap_s=None, track="reinvent_base")
    with pytest.raises(ValidationError, match="plausible minimum"):
        record_lap(event=event, team=team_a, lap_time_s=0.4, recorded_by=organiser)
    assert not LapResult.objects.filter(event=event).exists()
    attempt = race.create_attempt(user=organiser, event=event, team=team_a)
    attempt = race.start(user=organiser, attempt=attempt, expected_version=attempt.version)
    with pytest.raises(race.NeedsConfirmation):
        race.capture_lap(user=organiser, attempt=attempt, expected_version=attempt.version)
    # An evaluation's laps come from the simulator: never held.
    lap = record_lap(event=event, team=team_a, lap_time_s=4.0, source=LapResult.Source.EVALUATION)
    assert lap.valid
