"""The evaluation page explains its gap to the physical limit: how much of it the set speed makes
(a car at the set speed on the racing line), and it writes every speed in one unit (m/s, mph in
brackets)."""

from __future__ import annotations

import re

import pytest

from simulator.car import MPH
from simulator.limit import physics_fingerprint
from webapp.evaluations.limits import explain_gap, speed_text
from webapp.evaluations.models import Evaluation, TrackLimit

pytestmark = pytest.mark.django_db

SET_SPEED_MS = 15 * MPH  # 6.7056 m/s


def test_explain_gap_splits_the_gap_between_set_speed_and_driving() -> None:
    gap = explain_gap(142.0, 70.0, 940.0, SET_SPEED_MS)
    assert gap is not None
    assert gap.limit_pct == pytest.approx(202.857, abs=1e-3) and gap.gap_s == pytest.approx(72.0)
    assert gap.set_speed_lap_s == pytest.approx(940.0 / SET_SPEED_MS)  # 140.18 s
    assert gap.set_speed_gap_s == pytest.approx(940.0 / SET_SPEED_MS - 70.0)
    assert gap.set_speed_share_pct == pytest.approx(100 * (940.0 / SET_SPEED_MS - 70.0) / 72.0)
    assert gap.driving_gap_s == pytest.approx(142.0 - 940.0 / SET_SPEED_MS)
    # A set speed faster than the racing line needs costs nothing; an action model has no set speed.
    assert explain_gap(142.0, 70.0, 940.0, 30.0).set_speed_share_pct == 0.0
    plain = explain_gap(142.0, 70.0, 940.0, None)
    assert plain.set_speed_lap_s is None and plain.limit_pct == pytest.approx(202.857, abs=1e-3)
    assert explain_gap(None, 70.0, 940.0, SET_SPEED_MS) is None and explain_gap(142.0, None, None, 1.0) is None


def test_speed_text_is_metres_per_second_with_mph_for_the_udacity_car() -> None:
    assert speed_text(SET_SPEED_MS, "udacity") == "6.71 m/s (15 mph)"
    assert speed_text(1.5, "deepracer") == "1.50 m/s"


def test_page_shows_the_set_speeds_share_of_the_gap_in_metres_per_second(client, team_a, make_ready_model):
    model = make_ready_model(team_a)
    TrackLimit.objects.create(track="pitlane_loop_road", direction="counterclockwise", profile="udacity",
                              physics=physics_fingerprint("udacity"), lap_time_s=70.0, line_length_m=940.0)
    summary = {"trials": [], "completed_laps": 1, "best_lap_time": 142.0, "completion_pct": 100.0,
               "off_track_count": 0, "reset_count": 0, "steps": 10}
    evaluation = Evaluation.objects.create(team=team_a, model=model, track="pitlane_loop_road", trials=1,
                                           profile="udacity", set_speed=15.0, summary=summary)
    client.force_login(team_a.captain)
    html = client.get(evaluation.get_absolute_url()).content.decode()
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))

    assert "best lap is 203 % of it, 72.00 s slower" in text
    share = html.split("data-set-speed-share>", 1)[1].split("</dd>", 1)[0]
    assert "6.71 m/s (15 mph)" in share and "140.18 s" in share
    assert "70.18 s (97 %) of the 72.00 s gap" in share and "the model's driving for 1.82 s" in share
    set_speed = html.split("data-set-speed>", 1)[1].split("</dd>", 1)[0]
    assert set_speed.strip() == "6.71 m/s (15 mph)"
    # One unit: every mph on the page is a bracket after the same speed in m/s.
    assert text.count("mph") == len(re.findall(r"\d+\.\d\d m/s \(\d+(\.\d+)? mph\)", text)) >= 3


def test_default_set_speed_is_explained_too_and_action_models_get_no_share(client, team_a, make_ready_model,
                                                                         make_ready_rl_model):
    TrackLimit.objects.create(track="pitlane_loop", direction="counterclockwise", profile="deepracer",
                              physics=physics_fingerprint("deepracer"), lap_time_s=5.0, line_length_m=18.0)
    summary = {"trials": [], "completed_laps": 1, "best_lap_time": 14.0, "completion_pct": 100.0,
               "off_track_count": 0, "reset_count": 0, "steps": 10}
    steering = Evaluation.objects.create(team=team_a, model=make_ready_model(team_a), track="pitlane_loop",
                                         trials=1, profile="deepracer", summary=summary)
    client.force_login(team_a.captain)
    html = client.get(steering.get_absolute_url()).content.decode()
    share = html.split("data-set-speed-share>", 1)[1].split("</dd>", 1)[0]
    assert "1.50 m/s" in share and "12.00 s" in share  # 18 m at the agent's default 1.5 m/s
    assert "1.50 m/s, the agent's default" in html

    actions = Evaluation.objects.create(team=team_a, model=make_ready_rl_model(team_a), track="pitlane_loop",
                                        trials=1, profile="deepracer", summary=summary)
    html = client.get(actions.get_absolute_url()).content.decode()
    assert "data-set-speed-share" not in html and "280 % of it" in html
