"""Tracks: DeepRacer .npy loading, built-in designs, reversing and geometry queries."""

import math

import numpy as np
import pytest
from shapely.geometry import LineString

from simulator.track import Track, list_tracks, load_track, track_from_deepracer_array
from tests.support.paths import SHARED_DATA

TRACKS_DIR = SHARED_DATA / "deepracer" / "tracks"
NPY_FILES = sorted(TRACKS_DIR.glob("*.npy"))

# Lengths from shared/REFERENCE.md section 2.
REFERENCE_LENGTHS = {
    "reinvent_base": 17.7,
    "reInvent2019_track": 23.1,
    "reInvent2019_wide": 16.6,
    "Oval_track": 19.6,
    "Bowtie_track": 17.4,
}


def square_track(width: float = 1.0) -> Track:
    """A 4 m x 4 m square loop, counter-clockwise, points every metre: easy to check by hand."""
    pts = [(x, 0.0) for x in range(4)] + [(4.0, y) for y in range(4)]
    pts += [(x, 4.0) for x in range(4, 0, -1)] + [(0.0, y) for y in range(4, 0, -1)]
    c = np.array(pts, dtype=float)
    centre = np.array([2.0, 2.0])
    direction = (c - centre) / np.linalg.norm(c - centre, axis=1)[:, None]
    # Borders half a width in and out along the straight-edge normals (corners diagonally).
    normal = np.sign(np.round(direction, 6)) * (np.abs(direction) > 0.5)
    normal = normal / np.linalg.norm(normal, axis=1)[:, None]
    return Track("square", c, c - normal * width / 2, c + normal * width / 2, "deepracer")


def test_shared_tracks_exist():
    assert len(NPY_FILES) >= 8


@pytest.mark.parametrize("path", NPY_FILES, ids=lambda p: p.stem)
def test_every_shared_npy_loads(path):
    track = load_track(path)
    raw = np.load(path)
    assert track.name == path.stem
    assert track.center.shape[1] == 2 and len(track.center) == len(track.widths)
    assert not np.allclose(track.center[0], track.center[-1])  # closing row removed
    assert track.widths.min() >= 0.55 and track.widths.max() <= 1.25
    expected = np.sum(np.linalg.norm(np.diff(raw[:, 0:2], axis=0), axis=1))
    assert track.length == pytest.approx(expected, rel=1e-9)
    assert track.scale == "deepracer"


@pytest.mark.parametrize("name,length", REFERENCE_LENGTHS.items())
def test_reference_lengths(name, length):
    assert load_track(TRACKS_DIR / f"{name}.npy").length == pytest.approx(length, rel=0.01)


def test_reinvent_base_width_by_name():
    track = load_track("reinvent_base", search_dirs=[TRACKS_DIR])
    assert track.widths.mean() == pytest.approx(0.76, abs=0.01)


def test_builtin_tracks_have_both_scales():
    names = list_tracks()
    small = [n for n in names if not n.endswith("_road")]
    road = [n for n in names if n.endswith("_road")]
    assert len(small) >= 5 and len(road) >= 5
    for name in small:
        t = load_track(name)
        assert t.scale == "deepracer"
        assert t.widths.min() >= 0.76 - 1e-6 and t.widths.max() <= 1.07 + 1e-6
        assert 15.0 <= t.length <= 40.0
    for name in road:
        t = load_track(name)
        assert t.scale == "udacity"
        assert t.widths.min() >= 8.0 - 1e-6 and t.widths.max() <= 10.0 + 1e-6
        assert 900.0 <= t.length <= 3000.0


@pytest.mark.parametrize("name", [n for n in list_tracks() if "figure8" not in n])
def test_builtin_borders_do_not_cross(name):
    t = load_track(name)
    for line in (t.center, t.inner, t.outer):
        assert LineString(np.vstack([line, line[:1]])).is_simple


def test_unknown_track_names_the_choices():
    with pytest.raises(FileNotFoundError, match="pitlane_loop"):
        load_track("no_such_track", search_dirs=[])


def test_reverse_keeps_start_and_flips_direction():
    t = load_track(TRACKS_DIR / "reinvent_base.npy")
    r = load_track(TRACKS_DIR / "reinvent_base.npy", reverse=True)
    assert r.reverse and r.length == pytest.approx(t.length)
    np.testing.assert_allclose(r.center[0], t.center[0])
    np.testing.assert_allclose(r.center[1], t.center[-1])
    # Counter-clockwise becomes clockwise: the inner border moves to the driver's right.
    np.testing.assert_allclose(t.left_border, t.inner)
    np.testing.assert_allclose(r.right_border, r.inner)
    # Progress grows the other way round.
    x, y, _ = t.pose_at(1.0)
    assert t.progress(x, y) == pytest.approx(100 / t.length, rel=1e-6)
    assert r.progress(x, y) == pytest.approx(100 * (1 - 1.0 / t.length), rel=1e-6)
    assert load_track("pitlane_loop", reverse=True).reverse


def test_square_geometry_by_hand():
    t = square_track()
    assert t.length == pytest.approx(16.0)
    # A point 0.3 m inside the bottom edge, 1.5 m along: left of centre, 1.5 m of 16 m.
    p = t.project_local(1.5, 0.3, hint=0)
    assert p.segment == 1 and p.t == pytest.approx(0.5)
    assert p.offset == pytest.approx(0.3) and p.distance == pytest.approx(1.5)
    assert t.closest_waypoints(p) == (1, 2)
    assert t.closest_waypoint(p) in (1, 2)
    assert t.is_left_of_center(1.5, 0.3, 0) and not t.is_left_of_center(1.5, -0.3, 0)
    assert t.distance_from_center(1.5, -0.3, 0) == pytest.approx(0.3)
    assert t.progress(1.5, 0.3) == pytest.approx(1.5 / 16 * 100)
    assert math.degrees(t.heading_at(p)) == pytest.approx(0.0)
    assert math.degrees(t.heading_at(t.project_local(4.2, 2.5, 4))) == pytest.approx(90.0)
    assert t.width_at(p) == pytest.approx(1.0)
    assert t.wheels_on_track([(1.5, 0.4), (1.5, -0.49), (1.5, 0.6), (1.5, -0.7)], 1) == [True, True, False, False]
    # Last segment: DeepRacer indexes the closing point as n_waypoints, not 0.
    end = t.project_local(0.0, 0.3, hint=15)
    assert t.closest_waypoints(end) == (15, 16) and t.closest_waypoint(end) == 16
    assert len(t.waypoints) == t.n_waypoints + 1


def test_global_projection_is_vectorised_and_matches_local():
    t = load_track(TRACKS_DIR / "reInvent2019_track.npy")
    rng = np.random.default_rng(0)
    s = rng.uniform(0, t.length, 200)
    off = rng.uniform(-0.4, 0.4, 200)
    pts = np.array([t.pose_at(a, b)[:2] for a, b in zip(s, off, strict=True)])
    g = t.project(pts[:, 0], pts[:, 1])
    for k in range(len(pts)):
        local = t.project_local(pts[k, 0], pts[k, 1], int(g["segment"][k]) + 2)
        assert local.distance == pytest.approx(g["distance"][k], abs=1e-9)
        assert local.offset == pytest.approx(g["offset"][k], abs=1e-9)
    np.testing.assert_allclose(np.abs(g["offset"]), np.abs(off), atol=0.02)


def test_figure_eight_crossing_uses_the_local_branch():
    t = load_track("pitlane_figure8")
    inter = LineString(np.vstack([t.center, t.center[:1]]))
    assert not inter.is_simple  # it really crosses itself
    # Find the two passes through the crossing: points of the centre line near (0, 0).
    near = np.where(np.hypot(t.center[:, 0], t.center[:, 1]) < 0.3)[0]
    first, second = near.min(), near.max()
    assert second - first > t.n_waypoints // 4
    # A car at the crossing, driving the second pass, must be projected on the second pass.
    for hint, other in ((first, second), (second, first)):
        x, y = t.center[hint]
        p = t.project_local(x + 0.05, y + 0.02, hint)
        assert abs(p.segment - hint) <= 2 and abs(p.segment - other) > 5
    # Walking the whole lap step by step never jumps to the other branch.
    hint, last = 0, 0.0
    for s in np.arange(0.05, t.length, 0.05):
        x, y, _ = t.pose_at(s, 0.2)
        p = t.project_local(x, y, hint)
        hint = p.segment
        assert p.distance == pytest.approx(s, abs=0.05)
        last = p.distance
    assert last > t.length - 0.1


def test_from_array_rejects_bad_shapes():
    with pytest.raises(ValueError, match=r"\(N, 6\)"):
        track_from_deepracer_array(np.zeros((10, 4)), "bad")
