"""The lap-time limit of a (track, direction, car) from `simulator.limit`, cached in the database.

Why: the solver takes seconds (more on road tracks), while every evaluation page shows the limit.
The evaluation job computes it once after driving; pages only read the cache. Each limit is
keyed by `simulator.limit.physics_fingerprint` (the car profile's values and the solver's version),
so a change to the car's physics never serves a limit computed for the old car.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone

from simulator.car import MPH

from .models import TrackLimit


def speed_text(metres_per_s: float, profile: str) -> str:
    """A speed as the evaluation pages write every speed: m/s, with mph in brackets for the Udacity
    car (whose agent is given its set speed in mph)."""
    text = f"{metres_per_s:.2f} m/s"
    return f"{text} ({metres_per_s / MPH:.3g} mph)" if profile == "udacity" else text


@dataclass(frozen=True)
class LimitGap:
    """How a best lap compares with the physics' limit, and how much of the gap the set speed makes.

    `set_speed_lap_s` is the lap of a car at the set speed all the way round the racing line
    (line length / set speed): no model held to that speed can be faster, so the part of the gap
    up to it is the set speed's, and only the rest (`driving_gap_s`) the model's driving."""

    best_s: float
    limit_s: float
    limit_pct: float
    gap_s: float
    set_speed_ms: float | None = None
    set_speed_lap_s: float | None = None
    set_speed_gap_s: float | None = None  # of gap_s, what the set speed alone costs
    set_speed_share_pct: float | None = None
    driving_gap_s: float | None = None


def explain_gap(best_s: float | None, limit_s: float | None, line_length_m: float | None,
                set_speed_ms: float | None) -> LimitGap | None:
    """The comparison of `best_s` with the limit (None without a best lap or a limit); with a set
    speed (steering models) also its share of the gap."""
    if not best_s or not limit_s:
        return None
    gap = best_s - limit_s
    if not set_speed_ms or not line_length_m:
        return LimitGap(best_s, limit_s, 100.0 * best_s / limit_s, gap)
    at_set_speed = line_length_m / set_speed_ms
    set_speed_gap = min(max(at_set_speed - limit_s, 0.0), max(gap, 0.0))
    share = 100.0 * set_speed_gap / gap if gap > 0 else 0.0
    return LimitGap(best_s, limit_s, 100.0 * best_s / limit_s, gap, set_speed_ms, at_set_speed, set_speed_gap,
                    share, best_s - at_set_speed)


def cached_limit(track: str, direction: str, profile: str) -> TrackLimit | None:
    from simulator.limit import physics_fingerprint  # scipy: only where limits are used

    return TrackLimit.objects.filter(track=track, direction=direction, profile=profile,
                                     physics=physics_fingerprint(profile)).first()


def ensure_limit(track: str, direction: str, profile: str) -> TrackLimit:
    """The cached limit, computing and storing it on a miss. A track the car cannot drive (a
    bend tighter than its steering lock) is cached too, with the solver's message."""
    found = cached_limit(track, direction, profile)
    if found is not None:
        return found
    from simulator.limit import minimum_lap_time, physics_fingerprint
    from simulator.track import load_track

    lap_time_s = line_length_m = None
    error = ""
    try:
        result = minimum_lap_time(load_track(track, reverse=direction == "clockwise"), profile)
        lap_time_s, line_length_m = result.lap_time_s, result.line_length_m
    except ValueError as exc:
        error = str(exc)[:300]
    try:
        with transaction.atomic():
            return TrackLimit.objects.create(track=track, direction=direction, profile=profile,
                                             physics=physics_fingerprint(profile),
                                             lap_time_s=lap_time_s, line_length_m=line_length_m,
                                             error=error, computed=timezone.now())
    except IntegrityError:  # another worker computed it meanwhile
        return cached_limit(track, direction, profile)
