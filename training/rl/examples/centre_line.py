"""Stay near the centre line: the reward falls smoothly from 1 on the line to almost 0 at the edge."""

import math


def reward_function(params):
    half_width = 0.5 * params["track_width"]
    if not params["all_wheels_on_track"] or half_width <= 0:
        return 1e-3
    # 0 on the centre line, 1 at the edge of the track.
    off_centre = params["distance_from_center"] / half_width
    # A bell curve: about 0.6 a quarter of the way out, 0.01 at the edge.
    return float(max(1e-3, math.exp(-4.6 * off_centre * off_centre)))
