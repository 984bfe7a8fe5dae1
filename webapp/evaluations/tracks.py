"""Which car a model drives and which built-in tracks fit that car's scale."""

from __future__ import annotations

from functools import lru_cache


def profile_for_card(card: dict) -> str:
    """Udacity-camera models drive the Udacity car on road-scale tracks; the rest drive DeepRacer."""
    camera = str((card.get("input") or {}).get("camera", "udacity_center"))
    return "udacity" if camera.startswith("udacity") else "deepracer"


@lru_cache(maxsize=1)
def _track_scales() -> dict[str, str]:
    from simulator.track import list_tracks, load_track

    return {name: load_track(name).scale for name in list_tracks()}


def tracks_for_profile(profile: str) -> list[str]:
    """Built-in tracks at the car's scale (a DeepRacer car on a 1 km road would take minutes a lap)."""
    return [name for name, scale in _track_scales().items() if scale == profile]
