"""Follow a racing line with the waypoints: aim at a point a few waypoints ahead, cutting corners.

The target is the centre-line waypoint LOOKAHEAD points ahead of the car. Pointing the car at it
(rather than along the nearest segment) turns in early and straightens the path through corners.
"""

import math

LOOKAHEAD = 6  # waypoints (about 0.9 m on reinvent_base)


def reward_function(params):
    if not params["all_wheels_on_track"]:
        return 1e-3
    waypoints = params["waypoints"]
    ahead = params["closest_waypoints"][1]
    target_x, target_y = waypoints[(ahead + LOOKAHEAD) % len(waypoints)]
    wanted = math.degrees(math.atan2(target_y - params["y"], target_x - params["x"]))
    # Heading error in -180..180 degrees.
    error = abs((wanted - params["heading"] + 180.0) % 360.0 - 180.0)
    aim = max(0.0, 1.0 - error / 30.0)  # 1 pointing at the target, 0 beyond 30 degrees off
    # Stay away from the edges, but anywhere in the middle half is as good as the centre.
    edge = params["distance_from_center"] / (0.5 * params["track_width"])
    margin = 1.0 if edge < 0.5 else max(0.0, 1.0 - (edge - 0.5) * 2.0)
    return float(max(1e-3, 0.2 + aim * margin))
