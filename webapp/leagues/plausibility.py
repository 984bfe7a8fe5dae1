"""The fastest lap an event believes without a timekeeper's confirmation.

An organiser may set it per event (`Event.min_plausible_lap_s`); otherwise it follows the track:
a share of the simulator's physical-limit lap for the car at the track's scale
(`evaluations.limits.ensure_limit`, computed once per track, direction and car physics and stored),
and for a track the simulator does not know, a floor that catches sensor bounces and typing slips
(a 0.4 s "best lap"). Laps from the platform's own evaluations are never held.
"""

from __future__ import annotations

import functools

from .models import Event

#: A physical car does not beat the simulator's physical limit by more than this margin.
PHYSICAL_LIMIT_SHARE = 0.9
#: No lap of any track is believed below this without confirmation.
FLOOR_S = 1.0


@functools.lru_cache(maxsize=128)
def track_limit_s(track: str, direction: str) -> float | None:
    """The simulator's physical-limit lap of the track for the car at its scale, or None when the
    simulator does not know the track (or the car cannot drive it). Kept per process: it changes
    only with the simulator's car physics, that is with a deployment."""
    from simulator.track import load_track
    from webapp.evaluations.limits import ensure_limit

    try:
        scale = load_track(track).scale
    except (ValueError, OSError, KeyError):
        return None
    return ensure_limit(track, direction, scale).lap_time_s


def plausible_minimum_s(event: Event) -> float:
    """The event's own minimum, else PHYSICAL_LIMIT_SHARE of its track's limit, never below FLOOR_S."""
    if event.min_plausible_lap_s is not None:
        return event.min_plausible_lap_s
    limit = track_limit_s(event.track, event.direction)
    return round(max(FLOOR_S, PHYSICAL_LIMIT_SHARE * limit), 3) if limit else FLOOR_S


def is_implausible(event: Event, lap_time_s: float) -> bool:
    return lap_time_s < plausible_minimum_s(event)
