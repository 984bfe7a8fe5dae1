"""An RL model trained on the site enters the demo league's virtual time trial on pitlane_loop:
the team registers, the event page names the track's scale and the team's models that can race it
(never another team's), an evaluation on the event's track is submitted and its laps lead the
public leaderboard. The demo data says which track each event uses."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from simulator.limit import physics_fingerprint
from webapp.evaluations.models import Evaluation, TrackLimit
from webapp.evaluations.runner import run_evaluation
from webapp.evaluations.services import start_evaluation
from webapp.leagues.management.commands.seed_demo import EARLIER_DESCRIPTIONS, LEAGUE_NAME
from webapp.leagues.models import Event, LapResult, League

pytestmark = pytest.mark.django_db


def seed_demo() -> League:
    call_command("seed_demo", stdout=io.StringIO())
    return League.objects.get(name=LEAGUE_NAME)


def udacity_model(make_ready_model, team, name: str):
    """A ready behavioural-cloning model of the Udacity camera: its car is road-scale."""
    model = make_ready_model(team, name=name)
    model.card = {**model.card, "input": {**model.card["input"], "camera": "udacity_center"}}
    model.save(update_fields=["card"])
    return model


def evaluate_now(team, model, event: Event, trials: int = 3) -> Evaluation:
    """Start the evaluation through the service (its rules), then run its job body in-process."""
    TrackLimit.objects.get_or_create(track=event.track, direction=event.direction, profile="deepracer",
        physics=physics_fingerprint("deepracer"),
                                     defaults={"lap_time_s": 9.5, "line_length_m": 20.0})
    evaluation = start_evaluation(team=team, user=team.captain, model=model, track=event.track,
                                  direction=event.direction, trials=trials, off_track_penalty_s=2.0,
                                  time_limit_s=60.0)
    run_evaluation(evaluation, lambda *args, **kwargs: None, lambda: False)
    return evaluation


def test_the_demo_data_names_the_track_of_each_event():
    league = seed_demo()
    virtual = league.events.get(kind=Event.Kind.VIRTUAL)
    physical = league.events.get(kind=Event.Kind.PHYSICAL)
    assert virtual.track == "pitlane_loop" and physical.track == "reinvent_base"
    from simulator.track import load_track

    length = load_track(virtual.track).length
    assert (f"virtual time trial on pitlane_loop, a built-in DeepRacer-scale track ({length:.1f} m)"
            in league.description)
    assert "race day for physical cars on the re:Invent 2018 track (reinvent_base)" in league.description

    # An install seeded by an earlier version, whose text put the virtual trial on re:Invent 2018,
    # gets the truthful text on the next run; a description an organiser wrote stays theirs.
    League.objects.filter(pk=league.pk).update(description=EARLIER_DESCRIPTIONS[0])
    assert "virtual time trial on pitlane_loop" in seed_demo().description
    League.objects.filter(pk=league.pk).update(description="Our own words.")
    assert seed_demo().description == "Our own words."


def test_an_rl_model_enters_the_virtual_time_trial(client, team_a, team_b, make_ready_rl_model, make_ready_model):
    league = seed_demo()
    event = league.events.get(kind=Event.Kind.VIRTUAL)
    rl_model = make_ready_rl_model(team_a, name="PPO on the loop")
    road_model = udacity_model(make_ready_model, team_a, "Road cloner")
    assert road_model.is_ready
    make_ready_rl_model(team_b, name="Bravo's policy")

    client.force_login(team_a.captain)
    page = client.get(event.get_absolute_url()).content.decode()
    assert "How to enter" in page and "DeepRacer-scale track of 21.3 m" in page
    assert "data-entry-model" not in page  # the team is not registered yet
    assert client.post(f"/leagues/{league.slug}/events/{event.pk}/register/").status_code == 302

    entry = client.get(event.get_absolute_url()).content.decode().split("data-event-entry", 1)[1]
    entry = entry.split("</section>", 1)[0]
    assert f'data-entry-model="{rl_model.pk}"' in entry and "Reinforcement learning (DeepRacer)" in entry
    assert f"{rl_model.get_absolute_url()}#evaluations" in entry
    assert "Road cloner" not in entry and "Bravo" not in entry  # wrong scale; another team's

    evaluation = evaluate_now(team_a, rl_model, event)
    assert evaluation.profile == "deepracer" and evaluation.summary["completed_laps"] == 3
    detail = client.get(evaluation.get_absolute_url()).content.decode()
    assert "Virtual Time Trial" in detail and "Submit to the event" in detail
    response = client.post(f"/teams/{team_a.slug}/evaluations/{evaluation.pk}/submit/", {"event": event.pk})
    assert response.status_code == 302 and response["Location"] == event.get_absolute_url()

    laps = list(LapResult.objects.filter(event=event, team=team_a).order_by("lap_number"))
    assert [lap.lap_time_s for lap in laps] == [t["raw_lap_time"] for t in evaluation.summary["trials"]]
    assert all(lap.source == LapResult.Source.EVALUATION for lap in laps)
    # The event's race rules: a lap counts with at most max_resets_per_lap resets, each adding the penalty.
    assert [lap.valid for lap in laps] == [lap.resets <= event.max_resets_per_lap for lap in laps]
    timed = [lap.lap_time_s + lap.resets * event.off_track_penalty_s for lap in laps if lap.valid]
    assert timed, "at least one counting lap"

    client.logout()
    public = client.get(event.get_absolute_url()).content.decode()
    board = public.split("<h2>Leaderboard</h2>", 1)[1].split("</section>", 1)[0]
    assert "Team Alpha" in board and f"{min(timed):.3f} s" in board
    assert rl_model.name not in public  # the model itself stays private


def test_a_road_scale_model_cannot_be_evaluated_on_the_event_track(team_a, make_ready_model):
    from django.core.exceptions import ValidationError

    event = seed_demo().events.get(kind=Event.Kind.VIRTUAL)
    with pytest.raises(ValidationError, match="pitlane_loop is not a udacity-scale track"):
        evaluate_now(team_a, udacity_model(make_ready_model, team_a, "Road cloner"), event)


def test_an_evaluation_page_points_to_events_on_its_track_to_register_for(client, team_a, make_ready_rl_model):
    league = seed_demo()
    event = league.events.get(kind=Event.Kind.VIRTUAL)
    hidden = League.objects.create(name="Invitation Cup", visibility=League.Visibility.INVITE_ONLY)
    private = Event.objects.create(league=hidden, name="Closed round", kind=Event.Kind.VIRTUAL, track=event.track,
                                   direction=event.direction, starts=event.starts, ends=event.ends)
    evaluation = evaluate_now(team_a, make_ready_rl_model(team_a), event, trials=1)

    client.force_login(team_a.captain)
    page = client.get(evaluation.get_absolute_url()).content.decode()
    assert f'data-register-for="{event.pk}"' in page and "register Team Alpha there" in page
    assert f'data-register-for="{private.pk}"' not in page and "Closed round" not in page  # not invited
    assert "Submit to the event" not in page

    client.post(f"/leagues/{league.slug}/events/{event.pk}/register/")
    page = client.get(evaluation.get_absolute_url()).content.decode()
    assert "Submit to the event" in page and "data-register-for" not in page
