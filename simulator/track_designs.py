"""Pitlane's own tracks, built from the design data in `simulator/tracks/designs.json`.

A design is a handful of control points joined by a periodic cubic spline, so tracks are data,
not code: adding one means adding an entry. Each design is built at two scales: DeepRacer scale
(`<name>`, a 1/18 car, 0.76-1.07 m wide) and road scale (`<name>_road`, a full-size car, 8-10 m wide,
laps of about 1-3 km like the Udacity simulator's lake track).
"""

from __future__ import annotations

import json
from functools import cache, lru_cache
from pathlib import Path

import numpy as np
from scipy.interpolate import splev, splprep

from simulator.track import Track

DESIGNS_FILE = Path(__file__).resolve().parent / "tracks" / "designs.json"
ROAD_SUFFIX = "_road"


@lru_cache(maxsize=1)
def _designs() -> dict[str, dict]:
    data = json.loads(DESIGNS_FILE.read_text())
    return {name: spec for name, spec in data.items() if not name.startswith("_")}


def design_names() -> list[str]:
    """Every built-in track name: each design at DeepRacer scale, then at road scale."""
    names = list(_designs())
    return names + [n + ROAD_SUFFIX for n in names]


def spline_loop(points: np.ndarray, spacing: float, oversample: int = 20) -> np.ndarray:
    """Closed centre line through `points`, resampled every `spacing` metres along its length."""
    pts = np.asarray(points, dtype=np.float64)
    closed = np.vstack([pts, pts[:1]])
    tck, _ = splprep([closed[:, 0], closed[:, 1]], s=0.0, per=True)
    u = np.linspace(0.0, 1.0, len(pts) * oversample * 10, endpoint=False)
    dense = np.column_stack(splev(u, tck))
    step = np.hypot(*np.diff(np.vstack([dense, dense[:1]]), axis=0).T)
    arc = np.concatenate([[0.0], np.cumsum(step)])
    n = max(8, int(round(arc[-1] / spacing)))
    target = np.linspace(0.0, arc[-1], n, endpoint=False)
    u_closed = np.append(u, 1.0)
    return np.column_stack(splev(np.interp(target, arc, u_closed), tck))


def borders(center: np.ndarray, width: float) -> tuple[np.ndarray, np.ndarray]:
    """(left, right) borders at `width / 2` either side of a closed centre line."""
    tangent = np.roll(center, -1, axis=0) - np.roll(center, 1, axis=0)
    tangent /= np.hypot(tangent[:, 0], tangent[:, 1])[:, None]
    normal = np.column_stack([-tangent[:, 1], tangent[:, 0]])
    return center + normal * width / 2.0, center - normal * width / 2.0


@cache
def build_design(name: str) -> Track:
    """Build a built-in track by name (`<design>` or `<design>_road`)."""
    road = name.endswith(ROAD_SUFFIX)
    design = name[: -len(ROAD_SUFFIX)] if road else name
    spec = _designs().get(design)
    if spec is None:
        raise KeyError(f"no built-in track {name!r}; known: {design_names()}")
    scale_spec = spec["udacity" if road else "deepracer"]
    points = np.asarray(spec["points"], dtype=np.float64) * float(scale_spec["scale"])
    center = spline_loop(points, float(scale_spec["spacing"]))
    left, right = borders(center, float(scale_spec["width"]))
    # DeepRacer convention: for a counter-clockwise loop the inner border is on the left.
    x, y = center[:, 0], center[:, 1]
    signed_area = 0.5 * float(np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y))
    inner, outer = (left, right) if signed_area >= 0.0 else (right, left)
    return Track(
        name=name,
        center=center,
        inner=inner,
        outer=outer,
        scale="udacity" if road else "deepracer",
    )
