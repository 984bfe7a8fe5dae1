"""Fast on the straights, careful in the corners: the waypoints ahead tell which is coming.

The bend ahead is the change of direction of the centre line over the next waypoints. On a
straight the reward grows with speed and punishes steering; in a corner it prefers a moderate
speed, so the policy learns to brake before the turn rather than to fly off.
"""

import math

HORIZON = 8  # waypoints ahead used to judge the bend


def direction(a, b):
    return math.atan2(b[1] - a[1], b[0] - a[0])


def bend_ahead(waypoints, start):
    """Total absolute change of direction (degrees) over the next HORIZON segments."""
    n = len(waypoints)
    total = 0.0
    previous = direction(waypoints[start % n], waypoints[(start + 1) % n])
    for k in range(1, HORIZON):
        current = direction(waypoints[(start + k) % n], waypoints[(start + k + 1) % n])
        total += abs((math.degrees(current - previous) + 180.0) % 360.0 - 180.0)
        previous = current
    return total


def reward_function(params):
    if not params["all_wheels_on_track"] or params["is_offtrack"]:
        return 1e-3
    speed = params["speed"]
    bend = bend_ahead(params["waypoints"], params["closest_waypoints"][1])
    centre = 1.0 - min(1.0, params["distance_from_center"] / (0.5 * params["track_width"]))
    if bend < 15.0:  # a straight: go fast, keep the wheels straight
        reward = 0.5 + speed / 4.0 - abs(params["steering_angle"]) / 60.0
    else:  # a corner: the sharper it is, the slower the best speed
        best = max(1.0, 3.0 - bend / 30.0)
        reward = 0.5 + max(0.0, 1.0 - abs(speed - best) / best)
    return float(max(1e-3, reward * (0.5 + 0.5 * centre)))
