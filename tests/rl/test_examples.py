"""Our example reward functions validate and reward what they say; console-style reward functions
(written the way the AWS documentation's examples are: waypoints, closest_waypoints, heading,
steering_angle, speed) run unchanged."""

from __future__ import annotations

import pytest

from simulator.track import load_track
from training.rl.examples import EXAMPLES, example
from training.rl.reward_check import synthetic_cars, validate
from training.rl.sandbox import RewardSandbox

#: Console style: three bands around the centre line, as a first model's function usually is.
CONSOLE_CENTRE_BANDS = '''
def reward_function(params):
    """Three bands around the centre line."""
    track_width = params['track_width']
    distance_from_center = params['distance_from_center']

    marker_1 = 0.1 * track_width
    marker_2 = 0.25 * track_width
    marker_3 = 0.5 * track_width

    if distance_from_center <= marker_1:
        reward = 1.0
    elif distance_from_center <= marker_2:
        reward = 0.5
    elif distance_from_center <= marker_3:
        reward = 0.1
    else:
        reward = 1e-3  # likely crashed / close to off track

    return float(reward)
'''

#: Console style: punish zig-zagging with a steering threshold.
CONSOLE_NO_ZIGZAG = '''
def reward_function(params):
    distance_from_center = params['distance_from_center']
    track_width = params['track_width']
    abs_steering = abs(params['steering_angle'])  # only the magnitude matters

    reward = 1e-3
    if distance_from_center <= 0.5 * track_width:
        reward = 1.0

    ABS_STEERING_THRESHOLD = 15
    if abs_steering > ABS_STEERING_THRESHOLD:
        reward *= 0.8

    return float(reward)
'''

#: Console style: point along the track, from the two closest waypoints, with math and speed.
CONSOLE_DIRECTION = '''
import math


def reward_function(params):
    waypoints = params['waypoints']
    closest_waypoints = params['closest_waypoints']
    heading = params['heading']
    speed = params['speed']

    reward = 1.0

    next_point = waypoints[closest_waypoints[1]]
    prev_point = waypoints[closest_waypoints[0]]

    track_direction = math.atan2(next_point[1] - prev_point[1], next_point[0] - prev_point[0])
    track_direction = math.degrees(track_direction)

    direction_diff = abs(track_direction - heading)
    if direction_diff > 180:
        direction_diff = 360 - direction_diff

    DIRECTION_THRESHOLD = 10.0
    if direction_diff > DIRECTION_THRESHOLD:
        reward *= 0.5

    if params['is_offtrack'] or not params['all_wheels_on_track']:
        reward = 1e-3
    elif speed > 2.0:
        reward += 0.5

    return float(reward)
'''

CONSOLE_STYLE = {"centre_bands": CONSOLE_CENTRE_BANDS, "no_zigzag": CONSOLE_NO_ZIGZAG,
                 "direction": CONSOLE_DIRECTION}


@pytest.mark.parametrize("item", EXAMPLES, ids=lambda item: item.slug)
def test_each_example_validates_and_punishes_leaving_the_track(item):
    for track in ("reinvent_base", "reInvent2019_track"):
        report = validate(item.source, track, preview_steps=150)
        assert report.ok, report.issues
        rewards = {car.name: car.reward for car in report.cars}
        assert rewards["off_track"] == min(rewards.values()) and rewards["off_track"] < 0.01
        # lap pace pays (speed / 4 m/s) squared: 1/16 at the synthetic start's 1 m/s
        floor = 0.05 if item.slug == "lap_pace" else 0.5
        assert rewards["start"] > floor and len(report.preview) == 150


@pytest.mark.parametrize("name", sorted(CONSOLE_STYLE))
def test_console_style_functions_run_unchanged(name):
    report = validate(CONSOLE_STYLE[name], "reinvent_base", preview_steps=100)
    assert report.ok, report.issues
    assert all(car.reward is not None for car in report.cars)
    assert len({step.reward for step in report.preview}) >= 1


def test_examples_are_listed_in_order_and_found_by_slug():
    assert [item.slug for item in EXAMPLES] == ["centre_line", "all_wheels_on_track", "racing_line",
                                                "speed_on_straights", "lap_pace"]
    assert example("racing_line").source.startswith('"""Follow a racing line')
    with pytest.raises(KeyError, match="known: centre_line"):
        example("nope")


def _rewards(slug: str, variants: list[dict]) -> list[float]:
    track = load_track("reinvent_base")
    with RewardSandbox(example(slug).source, waypoints={"t": track.waypoints}) as sandbox:
        return sandbox.rewards("t", variants).tolist()


def _start_car() -> dict:
    return dict(synthetic_cars(load_track("reinvent_base")))["start"]


def test_centre_line_prefers_the_centre():
    car = _start_car()
    near, far = dict(car, distance_from_center=0.02), dict(car, distance_from_center=0.3)
    a, b = _rewards("centre_line", [near, far])
    assert a > 0.9 > 0.3 > b


def test_speed_on_straights_prefers_speed_on_the_straight_start():
    car = _start_car()  # reinvent_base starts on a straight
    slow, fast = dict(car, speed=1.0), dict(car, speed=3.5)
    steering = dict(car, speed=3.5, steering_angle=25.0)
    a, b, c = _rewards("speed_on_straights", [slow, fast, steering])
    assert b > a and b > c


def test_racing_line_prefers_pointing_at_the_target():
    car = _start_car()
    along, across = dict(car), dict(car, heading=car["heading"] + 60.0)
    a, b = _rewards("racing_line", [along, across])
    assert a > b


def test_lap_pace_pays_the_speed_along_the_track_squared():
    car = _start_car()  # on the centre line, pointing along the track
    slow, fast = dict(car, speed=1.0), dict(car, speed=4.0)
    across = dict(car, speed=4.0, heading=car["heading"] + 60.0)  # half the speed goes along
    edge = dict(car, speed=4.0, distance_from_center=0.5 * car["track_width"])
    off = dict(car, speed=4.0, is_offtrack=True)
    a, b, c, d, e = _rewards("lap_pace", [slow, fast, across, edge, off])
    assert b == pytest.approx(16 * a, rel=1e-6) and b == pytest.approx(1.0, rel=1e-4)
    assert c == pytest.approx(0.25, rel=0.02)
    assert d == pytest.approx(0.5, rel=1e-4) and e == pytest.approx(1e-3)
