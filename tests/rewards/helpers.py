"""Reward functions for the reward tests: a few sources and a way to make a team's function."""

from __future__ import annotations

CENTRE = '''def reward_function(params):
    half = params["track_width"] / 2.0
    distance = params["distance_from_center"]
    if distance <= 0.1 * half:
        return 1.0
    if distance <= 0.5 * half:
        return 0.5
    return 1e-3
'''

# Fine on a car on the track, raises on the off-track synthetic car (a KeyError on line 4).
BROKEN = '''def reward_function(params):
    reward = 1.0
    if not params["all_wheels_on_track"]:
        reward = params["no_such_key"]
    return float(reward)
'''


def make_function(team, name="Centre line", source=CENTRE, user=None):
    from webapp.rewards.services import create_function

    return create_function(team=team, user=user or team.captain, name=name, source=source)
