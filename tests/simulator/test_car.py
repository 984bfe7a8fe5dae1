"""Car physics: determinism, actuator limits, grip-limited cornering."""

import math

import numpy as np
import pytest

from simulator.car import DEEPRACER, MPH, UDACITY, Car, CarState, Command, get_profile, wheel_positions


def drive(car: Car, commands) -> list[CarState]:
    return [car.step(c) for c in commands]


def test_same_seed_same_trajectory_with_noise():
    commands = [Command(20.0 * math.sin(k / 10), 2.0) for k in range(200)]
    a = drive(Car(DEEPRACER, seed=7, steering_noise_deg=3.0, speed_noise=0.2), commands)
    b = drive(Car(DEEPRACER, seed=7, steering_noise_deg=3.0, speed_noise=0.2), commands)
    c = drive(Car(DEEPRACER, seed=8, steering_noise_deg=3.0, speed_noise=0.2), commands)
    assert a == b
    assert a != c


def test_deepracer_speed_and_steering_limits():
    car = Car(DEEPRACER)
    states = drive(car, [Command(90.0, 10.0)] * 120)
    # 10 m/s commanded is capped at 4, and the car settles at the speed gain times that.
    assert max(s.speed for s in states) <= DEEPRACER.top_speed == 4.0 * DEEPRACER.speed_gain
    straight = drive(Car(DEEPRACER), [Command(0.0, 10.0)] * 60)
    assert straight[-1].speed == pytest.approx(DEEPRACER.top_speed)
    assert max(s.steering for s in states) == pytest.approx(math.radians(30.0) * DEEPRACER.steering_gain)
    # The command reaches the wheels one step later (response lag); then acceleration is limited.
    first, second = drive(Car(DEEPRACER), [Command(0.0, 4.0)] * 2)
    assert DEEPRACER.response_lag_s == pytest.approx(1.0 / 15.0) and first.speed == 0.0
    assert second.speed == pytest.approx(DEEPRACER.max_accel / 15.0, rel=1e-6)


def test_response_lag_holds_the_state_the_car_was_reset_to():
    cruising = CarState(0.0, 0.0, 0.0, speed=2.0, steering=0.0)
    car = Car(DEEPRACER, cruising)
    held = car.step(Command(-30.0, 0.5))  # still in flight: the car carries on as it was
    assert held.speed == pytest.approx(2.0) and held.steering == 0.0 and held.y == 0.0
    slowing = car.step(Command(-30.0, 0.5))
    assert slowing.speed < 1.9 and slowing.steering < 0.0
    car.reset(CarState(0.0, 0.0, 0.0))  # commands in flight are dropped with the old state
    assert car.step(Command(30.0, 4.0)).speed == 0.0
    assert car.step(Command(30.0, 4.0)).speed > 0.0


def test_udacity_responds_at_once():
    """The response model is DeepRacer's; Udacity's car keeps the ideal defaults."""
    assert (UDACITY.response_lag_s, UDACITY.speed_gain, UDACITY.steering_gain) == (0.0, 1.0, 1.0)
    assert (UDACITY.speed_time_constant_s, UDACITY.steering_time_constant_s, UDACITY.lag_substeps) == (0.0, 0.0, 0)
    first = Car(UDACITY).step(Command.udacity(-1.0, 1.0))
    assert first.speed > 0.0 and first.steering == pytest.approx(math.radians(UDACITY.steering_rate_deg_s) / 15.0)


def test_udacity_top_speed_and_braking():
    car = Car(UDACITY)
    states = drive(car, [Command.udacity(0.0, 1.0)] * (15 * 60))
    assert states[-1].speed <= 30 * MPH + 1e-9
    assert states[-1].speed > 28 * MPH
    assert Command.udacity(-1.0, 0.0).steering_deg == 25.0  # Udacity's left is negative
    braking = drive(car, [Command.udacity(0.0, 0.0, brake=1.0)] * 15)
    assert braking[-1].speed < states[-1].speed - 6.0
    stopped = drive(car, [Command.udacity(0.0, 0.0, brake=1.0)] * 60)
    assert stopped[-1].speed == 0.0
    reverse = drive(car, [Command.udacity(0.0, -1.0)] * 60)
    assert -UDACITY.max_reverse_speed - 1e-9 <= reverse[-1].speed < -1.0


def circle_radius(speed: float) -> float:
    car = Car(DEEPRACER, CarState(0.0, 0.0, 0.0, speed, 0.0))
    pts = np.array([(s.x, s.y) for s in drive(car, [Command(30.0, speed)] * 150)[75:]])
    return float(np.hypot(*(pts - pts.mean(axis=0)).T).mean())


def test_too_fast_corner_slides_wide():
    kinematic = DEEPRACER.wheelbase / math.tan(math.radians(30.0) * DEEPRACER.steering_gain)
    slow = circle_radius(0.5)
    fast = circle_radius(3.5)
    assert slow == pytest.approx(kinematic, rel=0.05)  # grip is no limit at walking pace
    assert fast == pytest.approx((3.5 * DEEPRACER.speed_gain) ** 2 / DEEPRACER.grip, rel=0.05)  # lateral accel = grip
    assert fast > 3 * kinematic


def test_wheels_and_profiles():
    fl, fr, rl, rr = wheel_positions(DEEPRACER, CarState(1.0, 2.0, math.pi / 2))
    assert fl == pytest.approx((1.0 - 0.085, 2.0 + 0.165))
    assert rr == pytest.approx((1.0 + 0.085, 2.0))
    assert get_profile("UDACITY") is UDACITY
    with pytest.raises(KeyError):
        get_profile("f1")
