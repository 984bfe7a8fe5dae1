"""Minimum lap time: plausible on reinvent_base and consistent with simple bounds."""

import math
from dataclasses import replace

import numpy as np
import pytest

from simulator.car import DEEPRACER
from simulator.limit import curvature, minimum_lap_time
from simulator.track import load_track


@pytest.fixture(scope="module")
def base(shared_data):
    return load_track(shared_data / "deepracer" / "tracks" / "reinvent_base.npy")


@pytest.fixture(scope="module")
def result(base):
    return minimum_lap_time(base, DEEPRACER)


def test_reinvent_base_limit_is_plausible(base, result):
    assert 4.0 < result.lap_time_s < 5.0
    # Bounds: no faster than the line at top speed; no slower than the centre line at the
    # slowest corner speed of the line.
    assert result.lap_time_s >= result.line_length_m / DEEPRACER.top_speed
    assert result.lap_time_s <= base.length / result.speeds.min()
    # The racing line is shorter than the centre line and never leaves the track (car width).
    assert result.line_length_m < base.length
    margin = DEEPRACER.width / 2
    assert np.all(result.offsets <= base.left_half_widths - margin + 1e-6)
    assert np.all(result.offsets >= -base.right_half_widths + margin - 1e-6)
    # The speeds respect the grip limit and the top speed.
    lateral = result.speeds**2 * curvature(result.line_xy)
    assert lateral.max() <= DEEPRACER.grip + 1e-6
    assert result.speeds.max() <= DEEPRACER.top_speed + 1e-9


def test_limit_responds_to_the_car(base, result):
    slower = minimum_lap_time(base, replace(DEEPRACER, max_speed=2.0))
    assert slower.lap_time_s > result.lap_time_s
    assert slower.lap_time_s >= base.length * 0.9 / 2.0
    grippier = minimum_lap_time(base, replace(DEEPRACER, grip=20.0))
    assert grippier.lap_time_s < result.lap_time_s
    assert minimum_lap_time("pitlane_loop", "deepracer").lap_time_s > 0


@pytest.mark.parametrize("name", ["pitlane_loop", "pitlane_figure8", "pitlane_hairpin"])
def test_both_directions_have_a_limit_and_agree(name):
    """The line is the same either way round; only the speed profile may differ a little."""
    forward = minimum_lap_time(load_track(name), DEEPRACER).lap_time_s
    backward = minimum_lap_time(load_track(name, reverse=True), DEEPRACER).lap_time_s
    assert math.isfinite(forward) and math.isfinite(backward)
    assert abs(forward - backward) / forward < 0.05
