"""Which car a model drives, which built-in tracks fit that car's scale, and who picks its speed."""

from __future__ import annotations

from functools import lru_cache


def profile_for_card(card: dict) -> str:
    """Udacity-camera models drive the Udacity car on road-scale tracks; the rest drive DeepRacer."""
    camera = str((card.get("input") or {}).get("camera", "udacity_center"))
    return "udacity" if camera.startswith("udacity") else "deepracer"


def action_speeds(card: dict) -> tuple[float, float] | None:
    """(slowest, fastest) commanded speed in m/s of an action-space model (DeepRacer RL models:
    every action carries its speed, which the car is driven at), or None for a steering-only model
    (the drive agent's speed controller then follows a set speed)."""
    space = card.get("action_space")
    kind = card.get("kind")
    if kind == "discrete_actions" and isinstance(space, list) and space:
        speeds = [float(row["speed"]) for row in space]
        return min(speeds), max(speeds)
    if kind == "continuous_actions" and isinstance(space, dict) and isinstance(space.get("speed"), dict):
        return float(space["speed"]["low"]), float(space["speed"]["high"])
    return None


def action_speeds_text(card: dict) -> str:
    """'0.8–1.6 m/s' for an action-space model, '' for a steering-only one."""
    speeds = action_speeds(card)
    if speeds is None:
        return ""
    return f"{speeds[0]:g} m/s" if speeds[0] == speeds[1] else f"{speeds[0]:g}–{speeds[1]:g} m/s"


@lru_cache(maxsize=1)
def _tracks() -> dict[str, tuple[str, float]]:
    """name -> (scale, length in m) of every track a model can be evaluated on: the built-in ones,
    then the DeepRacer `.npy` tracks the simulator finds, which RL training also uses
    (`training.rl.config.available_tracks`, e.g. reinvent_base)."""
    from simulator.track import list_tracks, load_track
    from training.rl.config import available_tracks

    names = list(dict.fromkeys([*list_tracks(), *available_tracks()]))
    return {name: (track.scale, track.length) for name in names for track in [load_track(name)]}


def track_facts(name: str) -> tuple[str, float] | None:
    """(scale, length in m) of a track the simulator has; None for any other name (e.g. a
    physical track that only exists on a workshop floor)."""
    return _tracks().get(name)


def tracks_for_profile(profile: str) -> list[str]:
    """Tracks at the car's scale (a DeepRacer car on a 1 km road would take minutes a lap)."""
    return [name for name, (scale, _) in _tracks().items() if scale == profile]
