"""Race tracks: centre line, borders and the geometry queries cars, rules and rewards need.

A track is a closed centre-line polyline with a left and a right border. DeepRacer `.npy` files
(N, 6: centre, inner, outer; counter-clockwise; first row repeated last) load as they are; our own
designs are built from control points by `simulator.track_designs`. Every query comes in two forms:
a global one (nearest segment of the whole lap, vectorised over many points) and a local one that
only searches a few segments around a hint index. The local form is what a moving car uses: it is
cheap (pure Python, a handful of float operations) and it keeps the car on its own branch where a
figure-of-eight crosses itself.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np

#: Where `load_track` looks for `<name>.npy` files supplied by a user, besides `search_dirs`.
TRACK_DIRS_ENV = "PITLANE_TRACK_DIRS"
_SHARED_TRACKS = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "deepracer" / "tracks"

#: How many segments either side of the hint `project_local` examines before walking further.
_LOCAL_WINDOW = 2


class Projection(NamedTuple):
    """Where a point lies relative to the centre line.

    `segment` is the index of the centre-line segment [segment, segment + 1) holding the foot of the
    perpendicular, `t` the fraction along it, `distance` the arc length of the foot from waypoint 0
    (metres), `offset` the signed lateral distance (positive = left of the driving direction).
    """

    segment: int
    t: float
    distance: float
    offset: float
    foot_x: float
    foot_y: float


@dataclass(frozen=True, eq=False)
class Track:
    """An immutable closed track; see docs/architecture.md for the contract.

    `inner` and `outer` keep DeepRacer's meaning (the inside and outside border of the source
    file, whatever the driving direction); `left_half_widths` / `right_half_widths` give the
    distance from each centre waypoint to the border on the driver's left / right.
    """

    name: str
    center: np.ndarray
    inner: np.ndarray
    outer: np.ndarray
    scale: str
    reverse: bool = False
    # Derived in __post_init__ (read-only arrays), never passed in.
    left_border: np.ndarray = field(init=False, repr=False)
    right_border: np.ndarray = field(init=False, repr=False)
    widths: np.ndarray = field(init=False, repr=False)
    left_half_widths: np.ndarray = field(init=False, repr=False)
    right_half_widths: np.ndarray = field(init=False, repr=False)
    cumdist: np.ndarray = field(init=False, repr=False)
    seg_vec: np.ndarray = field(init=False, repr=False)
    seg_len: np.ndarray = field(init=False, repr=False)
    headings: np.ndarray = field(init=False, repr=False)
    length: float = field(init=False, repr=False)
    _cx: list[float] = field(init=False, repr=False)
    _cy: list[float] = field(init=False, repr=False)
    _dx: list[float] = field(init=False, repr=False)
    _dy: list[float] = field(init=False, repr=False)
    _inv_len2: list[float] = field(init=False, repr=False)
    _len: list[float] = field(init=False, repr=False)
    _cum: list[float] = field(init=False, repr=False)
    _lhw: list[float] = field(init=False, repr=False)
    _rhw: list[float] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        center = _as_loop(self.center)
        inner = _as_loop(self.inner)
        outer = _as_loop(self.outer)
        if not (len(center) == len(inner) == len(outer)) or len(center) < 4:
            raise ValueError(f"track {self.name!r}: centre and borders need the same >= 4 points")
        if self.scale not in ("deepracer", "udacity"):
            raise ValueError(f"track {self.name!r}: scale must be 'deepracer' or 'udacity'")
        seg = np.roll(center, -1, axis=0) - center
        seg_len = np.hypot(seg[:, 0], seg[:, 1])
        if np.any(seg_len <= 1e-9):
            raise ValueError(f"track {self.name!r}: repeated consecutive centre points")
        cumdist = np.concatenate([[0.0], np.cumsum(seg_len)[:-1]])
        # Which border lies on the left of the driving direction, judged over the whole lap.
        cross_inner = seg[:, 0] * (inner[:, 1] - center[:, 1]) - seg[:, 1] * (inner[:, 0] - center[:, 0])
        inner_is_left = float(np.sum(cross_inner)) > 0.0
        left, right = (inner, outer) if inner_is_left else (outer, inner)
        for key, value in (
            ("center", center),
            ("inner", inner),
            ("outer", outer),
            ("left_border", left),
            ("right_border", right),
            ("widths", np.hypot(*(inner - outer).T)),
            ("left_half_widths", np.hypot(*(left - center).T)),
            ("right_half_widths", np.hypot(*(right - center).T)),
            ("cumdist", cumdist),
            ("seg_vec", seg),
            ("seg_len", seg_len),
            ("headings", np.arctan2(seg[:, 1], seg[:, 0])),
        ):
            value = np.ascontiguousarray(value, dtype=np.float64)
            value.setflags(write=False)
            object.__setattr__(self, key, value)
        object.__setattr__(self, "length", float(np.sum(seg_len)))
        # Plain Python lists for the scalar fast path: indexing them is far cheaper than NumPy.
        object.__setattr__(self, "_cx", center[:, 0].tolist())
        object.__setattr__(self, "_cy", center[:, 1].tolist())
        object.__setattr__(self, "_dx", seg[:, 0].tolist())
        object.__setattr__(self, "_dy", seg[:, 1].tolist())
        object.__setattr__(self, "_inv_len2", (1.0 / seg_len**2).tolist())
        object.__setattr__(self, "_len", seg_len.tolist())
        object.__setattr__(self, "_cum", cumdist.tolist())
        object.__setattr__(self, "_lhw", self.left_half_widths.tolist())
        object.__setattr__(self, "_rhw", self.right_half_widths.tolist())

    # ------------------------------------------------------------------ basic properties
    @property
    def n_waypoints(self) -> int:
        return len(self.center)

    @property
    def waypoints(self) -> list[tuple[float, float]]:
        """Centre-line points as DeepRacer's reward `params['waypoints']` lists them.

        Like DeepRacer, the list closes the loop: its last point repeats the first, so it has
        `n_waypoints + 1` entries and waypoint indices run 0..n_waypoints.
        """
        points = list(zip(self._cx, self._cy, strict=True))
        return points + points[:1]

    def reversed(self) -> Track:
        """The same track driven the other way round (waypoint 0 stays the start line)."""
        order = np.r_[0, np.arange(self.n_waypoints - 1, 0, -1)]
        return Track(
            name=self.name,
            center=self.center[order],
            inner=self.inner[order],
            outer=self.outer[order],
            scale=self.scale,
            reverse=not self.reverse,
        )

    def as_deepracer_array(self) -> np.ndarray:
        """(N + 1, 6) array in DeepRacer's `.npy` layout (first row repeated last)."""
        rows = np.hstack([self.center, self.inner, self.outer])
        return np.vstack([rows, rows[:1]])

    # ------------------------------------------------------------------ global (vectorised) queries
    def project(self, x: float | np.ndarray, y: float | np.ndarray) -> dict[str, np.ndarray]:
        """Project points on the globally nearest centre segment (vectorised over points).

        Returns arrays `segment`, `t`, `distance`, `offset`, `foot_x`, `foot_y`. Use
        `project_local` for a car whose previous position is known (and on self-crossing tracks).
        """
        px = np.atleast_1d(np.asarray(x, dtype=np.float64))
        py = np.atleast_1d(np.asarray(y, dtype=np.float64))
        rx = px[:, None] - self.center[None, :, 0]
        ry = py[:, None] - self.center[None, :, 1]
        t = np.clip((rx * self.seg_vec[:, 0] + ry * self.seg_vec[:, 1]) / self.seg_len**2, 0.0, 1.0)
        ex = rx - t * self.seg_vec[:, 0]
        ey = ry - t * self.seg_vec[:, 1]
        seg = np.argmin(ex * ex + ey * ey, axis=1)
        rows = np.arange(len(px))
        tt = t[rows, seg]
        cross = self.seg_vec[seg, 0] * ry[rows, seg] - self.seg_vec[seg, 1] * rx[rows, seg]
        return {
            "segment": seg,
            "t": tt,
            "distance": self.cumdist[seg] + tt * self.seg_len[seg],
            "offset": np.sign(cross) * np.hypot(ex[rows, seg], ey[rows, seg]),
            "foot_x": self.center[seg, 0] + tt * self.seg_vec[seg, 0],
            "foot_y": self.center[seg, 1] + tt * self.seg_vec[seg, 1],
        }

    def progress_pct(self, x: float | np.ndarray, y: float | np.ndarray) -> np.ndarray:
        """Progress along the lap from waypoint 0, 0-100 %, global projection (vectorised)."""
        return self.project(x, y)["distance"] / self.length * 100.0

    # ------------------------------------------------------------------ local (scalar, fast) queries
    def _segment_point(self, i: int, x: float, y: float) -> tuple[float, float, float]:
        """(squared distance, t, cross) of point (x, y) against centre segment i."""
        rx = x - self._cx[i]
        ry = y - self._cy[i]
        dx = self._dx[i]
        dy = self._dy[i]
        t = (rx * dx + ry * dy) * self._inv_len2[i]
        if t < 0.0:
            t = 0.0
        elif t > 1.0:
            t = 1.0
        ex = rx - t * dx
        ey = ry - t * dy
        return ex * ex + ey * ey, t, dx * ry - dy * rx

    def project_local(self, x: float, y: float, hint: int | None) -> Projection:
        """Project (x, y) on the nearest centre segment near segment `hint`.

        Examines `hint` +- 2 segments and keeps walking while the best one sits at the edge of the
        window, so a car moving a few segments per step is always found. Without a hint it falls
        back to the global search.
        """
        if hint is None:
            return self._projection_at(int(self.project(x, y)["segment"][0]), x, y)
        n = len(self._cx)
        lo = hint - _LOCAL_WINDOW
        hi = hint + _LOCAL_WINDOW
        best_i = hint % n
        best_d = math.inf
        for i in range(lo, hi + 1):
            d = self._segment_point(i % n, x, y)[0]
            if d < best_d:
                best_d, best_i = d, i
        for step in (1, -1):  # walk on while the window edge keeps improving
            edge = hi if step == 1 else lo
            i = edge
            while best_i == i and i - hint < n // 2 and hint - i < n // 2:
                i += step
                d = self._segment_point(i % n, x, y)[0]
                if d < best_d:
                    best_d, best_i = d, i
        return self._projection_at(best_i % n, x, y)

    def _projection_at(self, i: int, x: float, y: float) -> Projection:
        d2, t, cross = self._segment_point(i, x, y)
        if t >= 1.0:
            # A foot on the segment's end vertex is the next segment's start, as AWS's bisection
            # of the distance names it: a car on the start line is at waypoint 0, 0 m into the
            # lap, not at the closing copy N a whole lap on (the local search meets segment N-1 first).
            i, t = (i + 1) % len(self._cx), 0.0
        dist = math.sqrt(d2)
        return Projection(
            segment=i,
            t=t,
            distance=self._cum[i] + t * self._len[i],
            offset=dist if cross >= 0.0 else -dist,
            foot_x=self._cx[i] + t * self._dx[i],
            foot_y=self._cy[i] + t * self._dy[i],
        )

    def closest_waypoints(self, proj: Projection) -> tuple[int, int]:
        """[behind, ahead] waypoint indices around a projection, as DeepRacer reports them.

        Indices refer to the closed `waypoints` list: on the last segment they are
        [n_waypoints - 1, n_waypoints], as AWS logs them.
        """
        return proj.segment, proj.segment + 1

    def closest_waypoint(self, proj: Projection) -> int:
        """The nearer of the two waypoints bounding the projection (simtrace `closest_waypoint`).

        Matches AWS's logs exactly, including index n_waypoints just before the start line.
        """
        return proj.segment if proj.t < 0.5 else proj.segment + 1

    def half_widths_at(self, proj: Projection) -> tuple[float, float]:
        """(left, right) distances from the centre line to the borders at a projection."""
        i = proj.segment
        j = (i + 1) % len(self._cx)
        t = proj.t
        return (
            self._lhw[i] + t * (self._lhw[j] - self._lhw[i]),
            self._rhw[i] + t * (self._rhw[j] - self._rhw[i]),
        )

    def width_at(self, proj: Projection) -> float:
        """Local track width: the distance between the nearest left and right border points."""
        left, right = self.half_widths_at(proj)
        return left + right

    def heading_at(self, proj: Projection) -> float:
        """Direction of the centre line (radians, -pi..pi) at a projection."""
        return math.atan2(self._dy[proj.segment], self._dx[proj.segment])

    def is_on_track(self, x: float, y: float, hint: int) -> bool:
        """Whether a point lies between the borders (local search from `hint`)."""
        p = self.project_local(x, y, hint)
        left, right = self.half_widths_at(p)
        return -right <= p.offset <= left

    def wheels_on_track(self, points: Sequence[tuple[float, float]], hint: int) -> list[bool]:
        """On-track flag of each wheel contact point (x, y), searched near segment `hint`.

        Wheels sit within a car length of the reference point, so only the segments from two
        behind to two ahead of `hint` are examined (the per-step hot path: no walking, no tuples).
        """
        n = len(self._cx)
        segment_point = self._segment_point
        flags = []
        for px, py in points:
            best = (math.inf, 0.0, 0.0, 0)
            for i in range(hint - 2, hint + 3):
                j = i % n
                d2, t, cross = segment_point(j, px, py)
                if d2 < best[0]:
                    best = (d2, t, cross, j)
            d2, t, cross, i = best
            k = (i + 1) % n
            if cross >= 0.0:
                flags.append(d2 <= (self._lhw[i] + t * (self._lhw[k] - self._lhw[i])) ** 2)
            else:
                flags.append(d2 <= (self._rhw[i] + t * (self._rhw[k] - self._rhw[i])) ** 2)
        return flags

    # ------------------------------------------------------------------ convenience (point queries)
    def distance_from_center(self, x: float, y: float, hint: int | None = None) -> float:
        return abs(self.project_local(x, y, hint).offset)

    def is_left_of_center(self, x: float, y: float, hint: int | None = None) -> bool:
        return self.project_local(x, y, hint).offset > 0.0

    def progress(self, x: float, y: float, hint: int | None = None) -> float:
        """Progress from waypoint 0 along the lap, percent."""
        return self.project_local(x, y, hint).distance / self.length * 100.0

    def pose_at(self, distance: float, offset: float = 0.0) -> tuple[float, float, float]:
        """(x, y, heading) of the point `distance` metres along the lap, `offset` to the left."""
        s = distance % self.length
        i = int(np.searchsorted(self.cumdist, s, side="right")) - 1
        t = (s - self._cum[i]) / self._len[i]
        heading = math.atan2(self._dy[i], self._dx[i])
        x = self._cx[i] + t * self._dx[i] - offset * math.sin(heading)
        y = self._cy[i] + t * self._dy[i] + offset * math.cos(heading)
        return x, y, heading


def _as_loop(points: np.ndarray) -> np.ndarray:
    """(N, 2) float array without the repeated closing point."""
    arr = np.asarray(points, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise ValueError(f"expected an (N, 2) array, got shape {arr.shape}")
    if len(arr) > 1 and np.allclose(arr[0], arr[-1]):
        arr = arr[:-1]
    return arr


def track_from_deepracer_array(array: np.ndarray, name: str, scale: str = "deepracer") -> Track:
    """A Track from a DeepRacer (N, 6) waypoint array."""
    arr = np.asarray(array, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != 6:
        raise ValueError(f"track {name!r}: expected an (N, 6) array, got {arr.shape}")
    # Some bundles repeat points inside the lap; drop consecutive duplicates of the centre line.
    keep = np.r_[True, np.any(np.abs(np.diff(arr[:, 0:2], axis=0)) > 1e-9, axis=1)]
    arr = arr[keep]
    return Track(name=name, center=arr[:, 0:2], inner=arr[:, 2:4], outer=arr[:, 4:6], scale=scale)


def _search_dirs(extra: Sequence[str | os.PathLike] | None) -> list[Path]:
    dirs = [Path(d) for d in (extra or [])]
    dirs += [Path(d) for d in os.environ.get(TRACK_DIRS_ENV, "").split(os.pathsep) if d]
    if _SHARED_TRACKS.is_dir():
        dirs.append(_SHARED_TRACKS)
    return dirs


def list_tracks() -> list[str]:
    """Names of the built-in Pitlane tracks."""
    from simulator.track_designs import design_names

    return design_names()


def load_track(
    name_or_path: str | os.PathLike,
    reverse: bool = False,
    search_dirs: Sequence[str | os.PathLike] | None = None,
) -> Track:
    """Load a built-in track by name, or a DeepRacer `.npy` by path or by name.

    Names not built in are looked up as `<name>.npy` in `search_dirs`, then in the folders of the
    `PITLANE_TRACK_DIRS` environment variable, then in the shared DeepRacer tracks folder.
    """
    from simulator.track_designs import build_design, design_names

    text = os.fspath(name_or_path)
    path = Path(text)
    if text in design_names():
        track = build_design(text)
    elif path.suffix == ".npy" and path.is_file():
        track = track_from_deepracer_array(np.load(path), name=path.stem)
    else:
        for folder in _search_dirs(search_dirs):
            candidate = folder / f"{text}.npy"
            if candidate.is_file():
                track = track_from_deepracer_array(np.load(candidate), name=text)
                break
        else:
            searched = _search_dirs(search_dirs)
            where = f"in {', '.join(str(d) for d in searched)}" if searched else "found"
            raise FileNotFoundError(
                f"unknown track {text!r}: not built in ({', '.join(design_names())}) "
                f"and no {text}.npy {where} (give a DeepRacer .npy's path, or its folder in {TRACK_DIRS_ENV})"
            )
    return track.reversed() if reverse else track
