"""Keep all four wheels on the track and keep moving: a steady reward on the track, more when faster."""


def reward_function(params):
    if params["is_offtrack"] or not params["all_wheels_on_track"]:
        return 1e-3
    # Anywhere on the track is fine; a little extra for speed (DeepRacer's speeds: 0.1-4 m/s).
    return 1.0 + 0.25 * params["speed"]
