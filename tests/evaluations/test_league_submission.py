"""Submitting an evaluation to an open virtual event: its trials become the team's LapResults,
which the public leaderboard shows; nothing else of the team (model, evaluation) becomes public."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from webapp.evaluations.models import Submission
from webapp.leagues.models import Event, LapResult, League, Registration

pytestmark = pytest.mark.django_db


@pytest.fixture
def virtual_event(team_a):
    league = League.objects.create(name="Winter League")
    now = timezone.now()
    event = Event.objects.create(league=league, name="Virtual round 1", kind=Event.Kind.VIRTUAL,
                                 track="pitlane_loop", direction="counterclockwise", starts=now - timedelta(days=1),
                                 ends=now + timedelta(days=7), status=Event.Status.OPEN, off_track_penalty_s=5.0)
    Registration.objects.create(event=event, team=team_a, registered_by=team_a.captain)
    return event


def test_submission_publishes_laps_to_the_public_leaderboard(client, team_a, virtual_event, run_evaluation_now):
    # At 0.8 m/s the tiny steering model laps pitlane_loop without leaving it (laps with resets
    # are invalid); faster, DeepRacer's sluggish steering takes it off once a lap.
    evaluation = run_evaluation_now(team_a, trials=3, set_speed=0.8)
    client.force_login(team_a.captain)
    page = client.get(evaluation.get_absolute_url()).content.decode()
    assert "Virtual round 1" in page and "Submit to the event" in page

    response = client.post(f"/teams/{team_a.slug}/evaluations/{evaluation.pk}/submit/", {"event": virtual_event.pk})
    assert response.status_code == 302 and response["Location"] == virtual_event.get_absolute_url()
    laps = list(LapResult.objects.filter(event=virtual_event, team=team_a).order_by("lap_number"))
    trials = evaluation.summary["trials"]
    assert [lap.lap_number for lap in laps] == [1, 2, 3]
    assert all(lap.source == "evaluation" and lap.valid for lap in laps)
    assert [lap.lap_time_s for lap in laps] == [t["raw_lap_time"] for t in trials]
    assert [lap.resets for lap in laps] == [t["reset_count"] for t in trials]
    assert Submission.objects.get(evaluation=evaluation).lap_count == 3

    client.logout()
    public = client.get(virtual_event.get_absolute_url()).content.decode()
    board = public.split("<h2>Leaderboard</h2>", 1)[1].split("</section>", 1)[0]
    assert "Team Alpha" in board and f"{min(lap.lap_time_s for lap in laps):.3f} s" in board
    assert evaluation.model.name not in public and f"/evaluations/{evaluation.pk}" not in public

    # Submitting the same evaluation again is refused; the laps stay as they were.
    client.force_login(team_a.captain)
    client.post(f"/teams/{team_a.slug}/evaluations/{evaluation.pk}/submit/", {"event": virtual_event.pk})
    assert LapResult.objects.filter(event=virtual_event).count() == 3


def test_unfinished_trials_become_invalid_laps_numbered_after_earlier_ones(team_a, virtual_event,
                                                                           run_evaluation_now):
    from webapp.evaluations.services import submit_to_event

    first = run_evaluation_now(team_a, trials=1, set_speed=0.8)  # clean laps (see above)
    submit_to_event(evaluation=first, event=virtual_event, user=team_a.captain)
    second = run_evaluation_now(team_a, model=first.model, trials=2, set_speed=0.8)
    second.summary["trials"][1].update(lap_time=None, raw_lap_time=None, completion_pct=40.0,
                                     completion_percentage=40, elapsed_s=12.0)
    second.save()
    submit_to_event(evaluation=second, event=virtual_event, user=team_a.captain)
    laps = list(LapResult.objects.filter(event=virtual_event).order_by("lap_number"))
    assert [(lap.lap_number, lap.valid) for lap in laps] == [(1, True), (2, True), (3, False)]
    assert "not completed (40 %)" in laps[2].note


@pytest.mark.parametrize("change", [
    {"track": "pitlane_hairpin"}, {"direction": "clockwise"}, {"status": Event.Status.FINISHED},
    {"kind": Event.Kind.PHYSICAL}, {"unregistered": True},
])
def test_only_matching_open_virtual_events_of_registered_teams_take_submissions(
        client, team_a, virtual_event, run_evaluation_now, change):
    evaluation = run_evaluation_now(team_a, trials=1)
    if change.pop("unregistered", False):
        Registration.objects.filter(event=virtual_event).delete()
    Event.objects.filter(pk=virtual_event.pk).update(**change)
    client.force_login(team_a.captain)
    assert "Submit to the event" not in client.get(evaluation.get_absolute_url()).content.decode()
    client.post(f"/teams/{team_a.slug}/evaluations/{evaluation.pk}/submit/", {"event": virtual_event.pk})
    assert not LapResult.objects.exists() and not Submission.objects.exists()


def test_another_team_cannot_submit_someone_elses_evaluation(client, team_a, team_b, virtual_event,
                                                             run_evaluation_now):
    evaluation = run_evaluation_now(team_a, trials=1)
    Registration.objects.create(event=virtual_event, team=team_b, registered_by=team_b.captain)
    client.force_login(team_b.captain)
    for slug in (team_a.slug, team_b.slug):
        response = client.post(f"/teams/{slug}/evaluations/{evaluation.pk}/submit/", {"event": virtual_event.pk})
        assert response.status_code == 404
    assert not LapResult.objects.exists()
