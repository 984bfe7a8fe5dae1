"""Lap pace: reward the speed along the track, squared, so the top speeds count most.

The speed that counts is the part of the car's speed along the centre line (a car pointing across
the track makes little progress however fast it goes). Squaring it makes 4 m/s worth sixteen times
1 m/s, so the policy reaches for the fastest actions wherever it can keep the car on the track;
leaving the track ends the episode, which is the brake. The edge of the track costs a little, so
the car keeps some margin for the steering's lag. Train it with a fast action space and frame
stacking (the stacked frames show how the car is turning, which one frame cannot).
"""

import math

TOP_SPEED = 4.0  # m/s, DeepRacer's fastest action


def reward_function(params):
    if params["is_offtrack"] or not params["all_wheels_on_track"]:
        return 1e-3
    waypoints = params["waypoints"]
    behind, ahead = params["closest_waypoints"]
    track_direction = math.degrees(math.atan2(waypoints[ahead][1] - waypoints[behind][1],
                                              waypoints[ahead][0] - waypoints[behind][0]))
    heading_error = abs((params["heading"] - track_direction + 180.0) % 360.0 - 180.0)
    along = params["speed"] * math.cos(math.radians(min(heading_error, 90.0)))
    edge = params["distance_from_center"] / (0.5 * params["track_width"])
    margin = 1.0 - 0.5 * edge ** 4
    return float(max(1e-3, (along / TOP_SPEED) ** 2 * margin))
