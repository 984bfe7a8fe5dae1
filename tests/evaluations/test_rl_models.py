"""RL models (kind REINFORCEMENT, a `discrete_actions` card for the DeepRacer camera) through the
existing evaluation path: the start form offers DeepRacer-scale tracks and no set speed (each
action commands its speed), the job's runner loads the card through the drive agent, drives at the
chosen actions' steering and speed, and stores DeepRacer's sim-trace (action indices, commanded
speed) and the lap times; through a real worker too."""

from __future__ import annotations

import csv
import io
import re

import pytest
from django.core.exceptions import ValidationError

from simulator.limit import physics_fingerprint
from tests.support.waiting import wait_for
from webapp.evaluations.forms import EvaluationForm
from webapp.evaluations.models import Evaluation, TrackLimit
from webapp.evaluations.services import start_evaluation
from webapp.evaluations.tracks import action_speeds, action_speeds_text
from webapp.garage.models import TrainedModel
from webapp.jobs.models import Job

pytestmark = pytest.mark.django_db


def simtrace_rows(evaluation: Evaluation) -> list[dict]:
    with evaluation.simtrace.open("rb") as fh:
        return list(csv.DictReader(io.StringIO(fh.read().decode())))


def test_the_form_offers_deepracer_tracks_and_no_set_speed(client, team_a, make_ready_rl_model):
    model = make_ready_rl_model(team_a)
    assert model.kind == TrainedModel.Kind.REINFORCEMENT and model.is_ready
    speeds = [row["speed"] for row in model.card["action_space"]]
    assert action_speeds(model.card) == (min(speeds), max(speeds))

    form = EvaluationForm(model=model)
    assert "set_speed" not in form.fields and form.profile == "deepracer"
    tracks = [value for value, _ in form.fields["track"].choices]
    assert "pitlane_loop" in tracks and not any(name.endswith("_road") for name in tracks)
    # ... and the DeepRacer tracks RL training uses (../shared/data's .npy tracks, e.g. re:Invent 2018).
    assert "reinvent_base" in tracks

    client.force_login(team_a.captain)
    html = client.get(model.get_absolute_url(), follow=True).content.decode()  # the RL model page
    section = html.split('id="evaluations"', 1)[1]
    assert 'name="set_speed"' not in section
    assert re.search(r"data-action-speeds>.*0\.6–1\.2 m/s", section)


def test_action_speeds_of_discrete_continuous_and_steering_cards():
    table = [{"steering_angle": 0, "speed": 2.5}, {"steering_angle": 30, "speed": 1}]
    assert action_speeds({"kind": "discrete_actions", "action_space": table}) == (1.0, 2.5)
    continuous = {"steering_angle": {"low": -30, "high": 30}, "speed": {"low": 0.5, "high": 3.5}}
    assert action_speeds_text({"kind": "continuous_actions", "action_space": continuous}) == "0.5–3.5 m/s"
    assert action_speeds_text({"kind": "discrete_actions", "action_space": table[:1]}) == "2.5 m/s"
    assert action_speeds({"kind": "regression_steering", "action_space": None}) is None


def test_a_set_speed_or_a_road_track_is_refused_for_an_rl_model(team_a, make_ready_rl_model):
    model = make_ready_rl_model(team_a)
    common = {"team": team_a, "user": team_a.captain, "model": model, "direction": "counterclockwise",
              "trials": 1, "off_track_penalty_s": 2.0, "time_limit_s": 60.0}
    with pytest.raises(ValidationError, match="drives at the speed of each action it chooses"):
        start_evaluation(track="pitlane_loop", set_speed=2.0, **common)
    with pytest.raises(ValidationError, match="not a deepracer-scale track"):
        start_evaluation(track="pitlane_loop_road", **common)
    assert not Evaluation.objects.exists()
    evaluation = start_evaluation(track="pitlane_loop", **common)
    assert evaluation.profile == "deepracer" and evaluation.set_speed is None


def test_the_runner_drives_the_chosen_actions_and_records_them(client, team_a, make_ready_rl_model,
                                                              run_evaluation_now):
    model = make_ready_rl_model(team_a)
    evaluation = run_evaluation_now(team_a, model=model, trials=2)
    summary = evaluation.summary
    assert summary["completed_laps"] == 2 and summary["completion_pct"] == 100.0
    assert all(5.0 < t["lap_time"] < 60.0 for t in summary["trials"])

    actions = model.card["action_space"]
    rows = simtrace_rows(evaluation)
    assert len(rows) == summary["steps"]
    used = {int(row["action"]) for row in rows}
    assert used <= set(range(len(actions))) and len(used) >= 3, used  # it steers, not one fixed action
    for row in rows:
        chosen = actions[int(row["action"])]
        # The sim-trace's steer and throttle are the chosen action's commanded angle and speed.
        assert float(row["steer"]) == pytest.approx(chosen["steering_angle"])
        assert float(row["throttle"]) == pytest.approx(chosen["speed"])
    assert {row["episode_status"] for row in rows} >= {"in_progress", "lap_complete"}

    client.force_login(team_a.captain)
    html = client.get(evaluation.get_absolute_url()).content.decode()
    assert "the model's actions command 0.6–1.2 m/s" in html
    assert html.count("Lap complete") == 2


def test_an_rl_model_evaluates_on_a_deepracer_npy_track(team_a, make_ready_rl_model, run_evaluation_now):
    evaluation = run_evaluation_now(team_a, model=make_ready_rl_model(team_a), track="reinvent_base",
                                    direction="clockwise", trials=1)
    assert evaluation.summary["completed_laps"] == 1
    assert float(simtrace_rows(evaluation)[0]["track_len"]) == pytest.approx(17.71, abs=0.01)  # reinvent_base


@pytest.mark.worker
@pytest.mark.slow
def test_an_rl_model_evaluates_through_a_real_worker(client, celery_worker_process, team_a, make_ready_rl_model):
    model = make_ready_rl_model(team_a)
    TrackLimit.objects.create(track="pitlane_hairpin", direction="clockwise", profile="deepracer",
        physics=physics_fingerprint("deepracer"),
                              lap_time_s=8.0, line_length_m=21.0)
    client.force_login(team_a.captain)
    response = client.post(f"/teams/{team_a.slug}/evaluations/model/{model.pk}/start/", {
        "track": "pitlane_hairpin", "direction": "clockwise", "trials": 2, "off_track_penalty_s": 2,
        "time_limit_s": 60,
    })
    evaluation = Evaluation.objects.get(model=model)
    assert response.status_code == 302 and evaluation.set_speed is None
    job = wait_for(lambda: Job.objects.filter(pk=evaluation.job_id, status__in=Job.FINISHED).first(),
                   timeout_s=90, message="the RL model's evaluation job to finish")
    assert job.status == Job.Status.SUCCEEDED, job.error
    evaluation.refresh_from_db()
    assert evaluation.summary["completed_laps"] == 2
    assert {int(row["action"]) for row in simtrace_rows(evaluation)} <= set(range(len(model.card["action_space"])))
