"""Evaluation pages: the model page's Evaluations section and start form, the evaluation page with
its Plotly track plot, lap table and track limit, the downloads, and the lap-time limit cache."""

from __future__ import annotations

import json
import re

import pytest
from django.contrib.staticfiles import finders

from tests.evaluations.helpers import FAKE_LIMIT_S
from webapp.evaluations.limits import ensure_limit
from webapp.evaluations.models import Evaluation, TrackLimit
from webapp.garage.models import TrainedModel

pytestmark = pytest.mark.django_db


def figure_of(html: str) -> dict:
    match = re.search(r'<script id="track-figure" type="application/json">(.*?)</script>', html, re.S)
    assert match, "the page embeds the figure JSON"
    return json.loads(match.group(1))


def test_evaluation_page_shows_track_plot_lap_table_and_limit(client, team_a, run_evaluation_now):
    evaluation = run_evaluation_now(team_a, trials=2)
    client.force_login(team_a.captain)
    html = client.get(evaluation.get_absolute_url()).content.decode()

    assert "/static/vendor/plotly/plotly.min.js" in html and "cdn" not in html.lower()
    assert finders.find("vendor/plotly/plotly.min.js"), "plotly.min.js is served locally"
    figure = figure_of(html)
    names = [trace["name"] for trace in figure["data"]]
    assert names == ["Inner border", "Outer border", "Centre line", "Path"]
    path = figure["data"][-1]
    assert len(path["x"]) == evaluation.summary["steps"]
    assert path["marker"]["color"][:3] and path["marker"]["colorbar"]["title"]["text"] == "m/s"
    assert figure["layout"]["yaxis"]["scaleanchor"] == "x"

    table = html.split("data-lap-table", 1)[1].split("</table>", 1)[0]
    assert table.count("<tr>") == 1 + 2  # header + one row per trial
    best = evaluation.summary["best_lap_time"]
    assert f"{best:.3f} s" in table
    assert f"{FAKE_LIMIT_S:.3f} s" in html and f"{100 * best / FAKE_LIMIT_S:.0f} %" in html


def test_model_page_lists_evaluations_and_offers_tracks_at_the_cars_scale(client, team_a, run_evaluation_now):
    evaluation = run_evaluation_now(team_a)
    client.force_login(team_a.captain)
    html = client.get(evaluation.model.get_absolute_url()).content.decode()
    assert 'id="evaluations"' in html and evaluation.get_absolute_url() in html
    options = re.findall(r'<option value="(pitlane_[a-z0-9_]+)"', html)
    assert "pitlane_loop" in options and not any(name.endswith("_road") for name in options)


def test_start_form_rejects_wrong_scale_and_models_that_are_not_ready(client, team_a, make_ready_model):
    client.force_login(team_a.captain)
    model = make_ready_model(team_a)
    form = {"track": "pitlane_loop_road", "direction": "counterclockwise", "trials": 1,
            "off_track_penalty_s": 2, "time_limit_s": 60}
    response = client.post(f"/teams/{team_a.slug}/evaluations/model/{model.pk}/start/", form)
    assert response.status_code == 400 and "Select a valid choice" in response.content.decode()
    training = make_ready_model(team_a, name="Still training", status=TrainedModel.Status.TRAINING)
    response = client.post(f"/teams/{team_a.slug}/evaluations/model/{training.pk}/start/",
                           {**form, "track": "pitlane_loop"}, follow=True)
    assert "is not ready to drive" in response.content.decode()
    assert not Evaluation.objects.exists()


def test_downloads_are_the_deepracer_files(client, team_a, run_evaluation_now):
    evaluation = run_evaluation_now(team_a, trials=1)
    client.force_login(team_a.captain)
    base = f"/teams/{team_a.slug}/evaluations/{evaluation.pk}/files"
    csv_text = b"".join(client.get(f"{base}/simtrace/").streaming_content).decode()
    assert csv_text.startswith("episode,steps,X,Y,yaw,steer,throttle,action,reward,done,all_wheels_on_track,progress")
    metrics = json.loads(b"".join(client.get(f"{base}/metrics/").streaming_content))
    assert metrics["metrics"][0]["completion_percentage"] == 100
    assert client.get(f"{base}/nonsense/").status_code == 404


def test_limit_is_computed_once_per_track_direction_and_car(monkeypatch):
    calls = []

    class Result:
        lap_time_s, line_length_m = 7.25, 19.0

    def fake_minimum_lap_time(track, profile):
        calls.append((track.name, track.reverse, profile))
        if track.reverse:
            raise ValueError("a bend is tighter than its steering lock")
        return Result()

    monkeypatch.setattr("simulator.limit.minimum_lap_time", fake_minimum_lap_time)
    assert ensure_limit("pitlane_loop", "counterclockwise", "deepracer").lap_time_s == 7.25
    assert ensure_limit("pitlane_loop", "counterclockwise", "deepracer").lap_time_s == 7.25
    failed = ensure_limit("pitlane_loop", "clockwise", "deepracer")
    assert failed.lap_time_s is None and "steering lock" in failed.error
    ensure_limit("pitlane_loop", "clockwise", "deepracer")
    assert calls == [("pitlane_loop", False, "deepracer"), ("pitlane_loop", True, "deepracer")]
    assert TrackLimit.objects.count() == 2


def test_a_limit_cached_for_other_physics_is_computed_again(monkeypatch):
    """The car's physics changed (the DeepRacer fit): a limit stored for the old car is not served."""
    import dataclasses

    from simulator import car

    class Result:
        lap_time_s, line_length_m = 7.25, 19.0

    monkeypatch.setattr("simulator.limit.minimum_lap_time", lambda track, profile: Result())
    assert ensure_limit("pitlane_loop", "counterclockwise", "deepracer").lap_time_s == 7.25
    faster = dataclasses.replace(car.DEEPRACER, max_speed=car.DEEPRACER.max_speed * 2)
    monkeypatch.setitem(car.PROFILES, "deepracer", faster)
    Result.lap_time_s = 3.6
    assert ensure_limit("pitlane_loop", "counterclockwise", "deepracer").lap_time_s == 3.6
    assert TrackLimit.objects.count() == 2


def test_every_evaluation_url_is_404_for_another_team(client, team_a, team_b, run_evaluation_now):
    evaluation = run_evaluation_now(team_a, trials=1)
    model = evaluation.model
    client.force_login(team_b.captain)
    gets = [
        f"/teams/{team_a.slug}/evaluations/",
        f"/teams/{team_a.slug}/evaluations/{evaluation.pk}/",
        f"/teams/{team_a.slug}/evaluations/{evaluation.pk}/files/simtrace/",
        f"/teams/{team_a.slug}/evaluations/{evaluation.pk}/files/metrics/",
        f"/teams/{team_a.slug}/agent/",
        f"/teams/{team_a.slug}/agent/wheel/",
        # Team B's own URLs with team A's objects in them.
        f"/teams/{team_b.slug}/evaluations/{evaluation.pk}/",
        f"/teams/{team_b.slug}/evaluations/{evaluation.pk}/files/simtrace/",
    ]
    for url in gets:
        assert client.get(url).status_code == 404, url
    posts = [
        f"/teams/{team_a.slug}/evaluations/model/{model.pk}/start/",
        f"/teams/{team_b.slug}/evaluations/model/{model.pk}/start/",
        f"/teams/{team_a.slug}/evaluations/{evaluation.pk}/submit/",
        f"/teams/{team_b.slug}/evaluations/{evaluation.pk}/submit/",
    ]
    for url in posts:
        assert client.post(url, {"track": "pitlane_loop", "trials": 1}).status_code == 404, url
    assert Evaluation.objects.count() == 1
    own = client.get(f"/teams/{team_b.slug}/evaluations/").content.decode()
    assert model.name not in own


def test_set_speed_from_the_form_reaches_the_agents_speed_controller(client, team_a, make_ready_model,
                                                                     run_evaluation_now, monkeypatch):
    monkeypatch.setattr("webapp.jobs.dispatch.enqueue", lambda job: None)
    client.force_login(team_a.captain)
    model = make_ready_model(team_a)
    response = client.post(f"/teams/{team_a.slug}/evaluations/model/{model.pk}/start/", {
        "track": "pitlane_loop", "direction": "counterclockwise", "trials": 1, "off_track_penalty_s": 2,
        "time_limit_s": 60, "set_speed": 1.0})
    assert response.status_code == 302
    assert Evaluation.objects.get(model=model).set_speed == 1.0

    slow = run_evaluation_now(team_a, model=model, trials=1, set_speed=0.8)
    fast = run_evaluation_now(team_a, model=model, trials=1, set_speed=1.6)
    assert slow.summary["best_lap_time"] and fast.summary["best_lap_time"]
    assert fast.summary["best_lap_time"] < 0.75 * slow.summary["best_lap_time"]


def test_deepracer_set_speed_above_the_cars_top_speed_is_refused(client, team_a, make_ready_model, monkeypatch):
    monkeypatch.setattr("webapp.jobs.dispatch.enqueue", lambda job: None)
    client.force_login(team_a.captain)
    model = make_ready_model(team_a)
    client.post(f"/teams/{team_a.slug}/evaluations/model/{model.pk}/start/", {
        "track": "pitlane_loop", "direction": "counterclockwise", "trials": 1, "off_track_penalty_s": 2,
        "time_limit_s": 60, "set_speed": 12})
    assert not Evaluation.objects.filter(model=model).exists()
