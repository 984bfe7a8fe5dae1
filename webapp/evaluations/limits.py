"""The lap-time limit of a (track, direction, car) from `simulator.limit`, cached in the database.

Why: the solver takes seconds (more on road tracks), while every evaluation page shows the limit.
The evaluation job computes it once after driving; pages only read the cache. Each limit is
keyed by `simulator.limit.physics_fingerprint` (the car profile's values and the solver's version),
so a change to the car's physics never serves a limit computed for the old car.
"""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils import timezone

from .models import TrackLimit


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
