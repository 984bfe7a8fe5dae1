"""The DEEPRACER car moves like the AWS console's: its commands replayed from the console's traces.

The console's simtraces on reinvent_base (20 training episodes, 3 evaluation laps) are replayed
through `simulator.car` from each episode's first pose (simulator.car_fit says how). Tolerances
sit between what the fitted profile achieves and what the ideal car (no lag, gain 1, instant
response, the profile before the fit) does, so a physics change that undoes the fit fails here:

    figure (fitted / ideal car)                          tolerance
    speed error per step, rms (0.075 / 0.19 m/s)         0.09
    speed error per step, 95th percentile (0.16 / 0.41)  0.20
    first 10 steps from rest, worst step (0.06 / 0.49)   0.08
    steady 1 m/s command: console 1.064, ours 1.047      0.025
    heading error per step, rms (0.78 / 7.5 degrees)     1.0
    path after 1 s from the first pose (mean 0.10, max 0.25 / 0.28, 0.98 m)   0.13, 0.30
    path after 2 s from the first pose (mean 0.27, max 0.71 / 0.54, 0.94 m)   0.35, 0.80
    path after 1 s / 2 s from a logged pose every second (mean 0.11 / 0.32; 0.57 / 1.21 m)  0.14 / 0.38
"""

from dataclasses import replace

import numpy as np
import pytest

from simulator.car import DEEPRACER
from simulator.car_fit import FITTED, fit, load_console_traces, measure, read_simtrace, replay

IDEAL = replace(DEEPRACER, max_accel=4.0, response_lag_s=0.0, speed_gain=1.0, speed_time_constant_s=0.0,
                steering_gain=1.0, steering_time_constant_s=0.0)


@pytest.fixture(scope="module")
def episodes(shared_data):
    return load_console_traces(shared_data / "deepracer" / "logs")


@pytest.fixture(scope="module")
def fitted(episodes):
    return measure(DEEPRACER, episodes)


@pytest.fixture(scope="module")
def ideal(episodes):
    return measure(IDEAL, episodes)


def test_traces_are_the_consoles_episodes(episodes):
    assert len(episodes) == 23 and sum(len(e) for e in episodes) == 1256
    assert {len(e) for e in episodes if len(e) > 100} == {244, 246, 247}  # three evaluation laps
    first = episodes[0]
    assert first.steering_deg[0] == 20.0 and first.speed[0] == 2.0  # the 'prepare' row's action
    # Row 0 is the prepare step: our replay holds the car there, as the console does.
    np.testing.assert_allclose(replay(DEEPRACER, first)[0], first.points[0], atol=1e-12)


def test_speed_per_step_follows_the_console(fitted, ideal):
    assert fitted.speed_error_rms < 0.09 < ideal.speed_error_rms
    assert fitted.speed_error_p95 < 0.20 < ideal.speed_error_p95


def test_the_car_gets_going_as_slowly_as_the_consoles(fitted, ideal):
    """From rest at a 1 m/s command the console's car needs about half a second to reach 1 m/s."""
    console = np.array(fitted.start_speeds_console)
    assert console[1] < 0.2 and console[3] < 0.7 and console[7] > 0.95
    assert np.abs(np.array(fitted.start_speeds_ours) - console).max() < 0.08
    assert np.abs(np.array(ideal.start_speeds_ours) - console).max() > 0.3


def test_steady_speed_is_the_consoles(fitted):
    assert fitted.steady_speed_console == pytest.approx(1.064, abs=0.002)
    assert abs(fitted.steady_speed_ours - fitted.steady_speed_console) < 0.025


def test_heading_and_path_follow_the_console(fitted, ideal):
    assert fitted.heading_error_rms_deg < 1.0 < ideal.heading_error_rms_deg
    assert len(fitted.path_error_1s) == 22 and len(fitted.path_error_2s) == 7
    assert np.mean(fitted.path_error_1s) < 0.13 < np.mean(ideal.path_error_1s)
    assert max(fitted.path_error_1s) < 0.30 < max(ideal.path_error_1s)
    assert np.mean(fitted.path_error_2s) < 0.35 < np.mean(ideal.path_error_2s)
    assert max(fitted.path_error_2s) < 0.80 < max(ideal.path_error_2s)
    assert len(fitted.window_path_error_1s) == len(fitted.window_path_error_2s) >= 40
    assert np.mean(fitted.window_path_error_1s) < 0.14 < np.mean(ideal.window_path_error_1s)
    assert np.mean(fitted.window_path_error_2s) < 0.38 < np.mean(ideal.window_path_error_2s)


def test_profile_holds_the_fitted_optimum(episodes):
    """Refitting at the profile's lag from its own constants moves none of them by more than 3 %:
    the constants in simulator/car.py are the fit of today's physics, not of an older one."""
    start = [getattr(DEEPRACER, name) for name in FITTED]
    result = fit(episodes, lags=[DEEPRACER.lag_substeps], start=start)
    refit = [getattr(result.profile, name) for name in FITTED]
    np.testing.assert_allclose(refit, start, rtol=0.03)


def test_a_file_that_is_not_a_simtrace_is_refused(tmp_path):
    path = tmp_path / "laps.csv"
    path.write_text("episode,steps,X,Y\n0,1,0.0,0.0\n")
    with pytest.raises(ValueError, match="laps.csv: not a DeepRacer simtrace"):
        read_simtrace(path)
    path.write_text("episode,steps,X,Y,yaw,steer,throttle\nfirst,1,0,0,0,0,1\n")
    with pytest.raises(ValueError, match="line 2: episode 'first' is not a number"):
        read_simtrace(path)
