"""The physics' lap-time limit for a track and a car: a racing line plus the fastest speed profile.

Why: a team needs to know how far its model is from what the car could do. The line is the
minimum-curvature line (lateral offsets within the track width minus half the car's width, solved
as a bounded linear least-squares problem); the speed profile is the classic forward-backward pass
under the car's top speed, acceleration, braking and lateral grip. It is an upper bound on what our
simulator's car can achieve (the real car also loses time to steering lag and slip).

It follows the car's fitted response (simulator.car_fit): top speed is the top command times the
speed gain, acceleration and braking fade with the speed time constant near the speeds the car
can be commanded to, and the steering lock is the lock times the steering gain. The response lag
and the steering time constant are left out: a driver who knows the line commands early, and the
fastest the wheel angle can then swing (full opposite lock over the time constant) is faster than
any line here needs at its speed (on reinvent_base it would cap the speed at one point, at 3.95
m/s, where the profile is slower already).
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass

import numpy as np
from scipy.interpolate import splev, splprep
from scipy.optimize import lsq_linear
from scipy.sparse import diags, vstack

from simulator.car import CarProfile, get_profile
from simulator.track import Track, load_track

#: Bump when the solver changes in a way that moves its answers (cached limits are keyed by it).
SOLVER_VERSION = 2


def physics_fingerprint(profile: CarProfile | str) -> str:
    """A short key of everything a limit depends on besides the track: the car profile's values and
    the solver's version. Limits cached under another fingerprint were computed for other physics."""
    profile = get_profile(profile) if isinstance(profile, str) else profile
    text = json.dumps({"profile": asdict(profile), "solver": SOLVER_VERSION}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class LimitResult:
    """Minimum lap time (s), the racing line ((N, 2) metres), the speed at each line point (m/s)."""

    lap_time_s: float
    line_xy: np.ndarray
    speeds: np.ndarray
    line_length_m: float
    offsets: np.ndarray  # lateral offset of each line point from the centre line (left positive)


def _left_normals(center: np.ndarray) -> np.ndarray:
    tangent = np.roll(center, -1, axis=0) - np.roll(center, 1, axis=0)
    tangent /= np.hypot(tangent[:, 0], tangent[:, 1])[:, None]
    return np.column_stack([-tangent[:, 1], tangent[:, 0]])


def racing_line(track: Track, margin: float) -> tuple[np.ndarray, np.ndarray]:
    """Minimum-curvature line: offsets a_i along the left normals minimising the summed squared
    second differences of the line points, with -right_i + margin <= a_i <= left_i - margin."""
    c = track.center
    n = len(c)
    normals = _left_normals(c)
    # Second difference operator on a closed loop: D p = p[i-1] - 2 p[i] + p[i+1].
    second = diags([1.0, -2.0, 1.0], [-1, 0, 1], shape=(n, n)).tolil()
    second[0, n - 1] = 1.0
    second[n - 1, 0] = 1.0
    second = second.tocsr()
    a = vstack([second @ diags(normals[:, 0]), second @ diags(normals[:, 1])]).tocsr()
    b = -np.concatenate([second @ c[:, 0], second @ c[:, 1]])
    upper = np.maximum(track.left_half_widths - margin, 0.0)
    lower = -np.maximum(track.right_half_widths - margin, 0.0)
    # Keep the bounds strictly ordered where the track is narrower than the car.
    upper = np.maximum(upper, lower + 1e-9)
    matrix = a.toarray() if n < 400 else a
    solution = lsq_linear(matrix, b, bounds=(lower, upper), method="bvls" if n < 400 else "trf", tol=1e-10)
    offsets = np.clip(solution.x, lower, upper)
    return c + normals * offsets[:, None], offsets


def smooth_loop(points: np.ndarray, spacing: float) -> np.ndarray:
    """Resample a closed line every `spacing` metres through a periodic smoothing spline, so the
    curvature the speed profile sees is that of a drivable line, not of waypoint kinks.

    The periodic spline's seam is put at the straightest point: a seam inside a tight bend
    leaves a curvature spike there, which made the answer depend on the driving direction."""
    points = np.roll(points, -int(np.argmin(curvature(points))), axis=0)
    closed = np.vstack([points, points[:1]])
    ds = np.hypot(*np.diff(closed, axis=0).T)
    u = np.concatenate([[0.0], np.cumsum(ds)])
    # Smoothing budget: a few millimetres per point at DeepRacer scale, scaled with the spacing.
    tol = (0.02 * float(np.median(ds))) ** 2 * len(points)
    tck, _ = splprep([closed[:, 0], closed[:, 1]], u=u, s=tol, per=True)
    n = max(int(u[-1] / spacing), 16)
    return np.column_stack(splev(np.linspace(0.0, u[-1], n, endpoint=False), tck))


def curvature(points: np.ndarray) -> np.ndarray:
    """Unsigned curvature (1/m) at each point of a closed polyline (circle through neighbours)."""
    prev = np.roll(points, 1, axis=0)
    nxt = np.roll(points, -1, axis=0)
    a = np.hypot(*(points - prev).T)
    b = np.hypot(*(nxt - points).T)
    c = np.hypot(*(nxt - prev).T)
    cross = np.abs((points - prev)[:, 0] * (nxt - prev)[:, 1] - (points - prev)[:, 1] * (nxt - prev)[:, 0])
    return 2.0 * cross / np.maximum(a * b * c, 1e-12)


def speed_profile(points: np.ndarray, profile: CarProfile) -> tuple[np.ndarray, np.ndarray]:
    """Fastest speeds along a closed line and the segment lengths between consecutive points."""
    ds = np.hypot(*(np.roll(points, -1, axis=0) - points).T)
    kappa = curvature(points)
    # Grip bounds the cornering speed. Where the smoothed line bends tighter than the steering
    # lock allows, the car takes the bend at full lock, a few millimetres wide of the line: the
    # bend is then as slow as the lock's radius makes it, not impassable.
    min_radius = profile.wheelbase / math.tan(math.radians(profile.max_steering_deg) * profile.steering_gain)
    kappa = np.minimum(kappa, 1.0 / min_radius)
    vmax = np.minimum(profile.top_speed, np.sqrt(profile.grip / np.maximum(kappa, 1e-9)))
    throttle_driven = profile.min_speed == 0.0  # Udacity-style: thrust fades towards top speed
    # A speed-controlled car closes on its target speed with a time constant: the acceleration
    # fades as it nears the top speed, the braking as it nears the slowest commanded speed.
    tau = max(profile.speed_time_constant_s, 1.0 / (profile.action_hz * profile.substeps))
    slowest = profile.min_speed * profile.speed_gain

    def accel(v: float) -> float:
        if throttle_driven:
            return max(profile.max_accel * (1.0 - (v / profile.max_speed) ** 2) - profile.coast_decel, 0.0)
        return max(min(profile.max_accel, (profile.top_speed - v) / tau), 0.0)

    def brake(v: float) -> float:
        if throttle_driven:
            return profile.max_brake
        return max(min(profile.max_brake, (v - slowest) / tau), 0.0)

    n = len(points)
    v = vmax.copy()
    start = int(np.argmin(vmax))
    for _ in range(2):  # forward (acceleration), twice round the loop from the slowest point
        for k in range(n):
            i = (start + k) % n
            j = (i + 1) % n
            v[j] = min(v[j], math.sqrt(v[i] ** 2 + 2.0 * accel(v[i]) * ds[i]))
    for _ in range(2):  # backward (braking)
        for k in range(n):
            j = (start - k) % n
            i = (j - 1) % n
            v[i] = min(v[i], math.sqrt(v[j] ** 2 + 2.0 * brake(v[j]) * ds[i]))
    return v, ds


def minimum_lap_time(track: Track | str, profile: CarProfile | str) -> LimitResult:
    """The fastest lap the physics allows on `track` for `profile` (names accepted for both)."""
    track = load_track(track) if isinstance(track, str) else track
    profile = get_profile(profile) if isinstance(profile, str) else profile
    line, offsets = racing_line(track, margin=profile.width / 2.0)
    smooth = smooth_loop(line, spacing=float(np.median(track.seg_len)) / 2.0)
    speeds, ds = speed_profile(smooth, profile)
    mean_speed = 0.5 * (speeds + np.roll(speeds, -1))
    if np.any(mean_speed <= 0.0):
        raise ValueError(f"{profile.name} car cannot follow the line on {track.name}: "
                         "a bend is tighter than its steering lock")
    lap_time = float(np.sum(ds / mean_speed))
    return LimitResult(lap_time, smooth, speeds, float(np.sum(ds)), offsets)


def format_limit(result: LimitResult, track_name: str, profile_name: str) -> str:
    """A human-readable summary, for the command line."""
    return (
        f"{track_name} / {profile_name}: minimum lap {result.lap_time_s:.2f} s on a "
        f"{result.line_length_m:.2f} m racing line (top {result.speeds.max():.2f} m/s, "
        f"slowest {result.speeds.min():.2f} m/s)"
    )
