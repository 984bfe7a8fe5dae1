"""Cameras: frame shapes, what is visible where, lens geometry, seeded and switchable randomisation."""

import math

import numpy as np
import pytest

from simulator.appearance import Randomisation, to_gray
from simulator.camera import DEEPRACER_FRONT, UDACITY_CENTER, CameraRig, DeepRacerCamera, UdacityCameras, pixel_rays
from simulator.render_texture import BORDER, GROUND, SHADES, SURFACE, texture_for
from simulator.track import load_track


@pytest.fixture(scope="module")
def reinvent():
    return load_track("reinvent_base")


@pytest.fixture(scope="module")
def road():
    return load_track("pitlane_loop_road")


def class_values(palette: np.ndarray, cls: int) -> set:
    """Every colour (gray level or RGB tuple) the lit palette gives a surface class."""
    entries = palette[cls * SHADES:(cls + 1) * SHADES]
    return {int(v) for v in entries} if entries.ndim == 1 else {tuple(int(c) for c in v) for v in entries}


def straight_pose(track, min_straight: float):
    """A pose on the centre line whose next `min_straight` metres are nearly straight."""
    for d in np.linspace(0, track.length, 200, endpoint=False):
        headings = [track.pose_at(d + s)[2] for s in np.linspace(0, min_straight, 6)]
        if max(abs((h - headings[0] + math.pi) % (2 * math.pi) - math.pi) for h in headings) < 0.05:
            return track.pose_at(d)
    raise AssertionError("no straight found")


def test_deepracer_frame_shape_and_dtype(reinvent):
    frame = DeepRacerCamera(reinvent).render(*reinvent.pose_at(1.0))
    assert frame.shape == (120, 160) and frame.dtype == np.uint8


def test_udacity_frames_shapes_and_dtypes(road):
    frames = UdacityCameras(road).render(*road.pose_at(10.0))
    assert set(frames) == {"center", "left", "right"}
    for image in frames.values():
        assert image.shape == (160, 320, 3) and image.dtype == np.uint8


def test_deepracer_sees_track_when_centred_and_ground_when_far_off(reinvent):
    camera = DeepRacerCamera(reinvent)
    gray = to_gray(camera.rig.look.palette)
    x, y, yaw = straight_pose(reinvent, 1.0)
    # Just off the centre line so the dashed centre marking is not under the bottom pixel.
    side = 0.2
    on = camera.render(x - side * math.sin(yaw), y + side * math.cos(yaw), yaw)
    assert int(on[-1, 80]) in class_values(gray, SURFACE)
    # 3 m outside the outer border's bounding box, looking away from the track.
    far_x = reinvent.outer[:, 0].max() + 3.0
    off = camera.render(far_x, y, 0.0)
    assert int(off[-1, 80]) in class_values(gray, GROUND)
    # Above the horizon: background, the same whatever the position.
    assert on[0, 80] == camera.render(far_x, y, yaw)[0, 80]


def test_udacity_center_sees_road_then_grass(road):
    cameras = UdacityCameras(road)
    palette = cameras.rig.look.palette
    x, y, yaw = straight_pose(road, 40.0)
    lateral = 2.0  # off the centre dashes
    frames = cameras.render(x - lateral * math.sin(yaw), y + lateral * math.cos(yaw), yaw)
    row = 160 - 30  # above the bonnet
    assert tuple(int(c) for c in frames["center"][row, 160]) in class_values(palette, SURFACE)
    far = cameras.render(road.outer[:, 0].max() + 60.0, y, 0.0)
    assert tuple(int(c) for c in far["center"][row, 160]) in class_values(palette, GROUND)
    # The road's edge lines are visible somewhere in the lower half of the centre frame.
    lower = frames["center"][90:130].reshape(-1, 3)
    edge = class_values(palette, BORDER)
    assert sum(tuple(int(c) for c in p) in edge for p in lower[::7]) > 10


def test_wing_camera_is_the_centre_camera_moved_sideways(road):
    cameras = UdacityCameras(road)
    x, y, yaw = road.pose_at(50.0)
    frames = cameras.render(x, y, yaw)
    offset = 1.0  # UDACITY_LEFT sits 1 m to the left of the centre camera
    shifted = cameras.render(x - offset * math.sin(yaw), y + offset * math.cos(yaw), yaw)["center"]
    band = slice(70, 125)  # road rows, above any bonnet
    assert np.array_equal(frames["left"][band], shifted[band])
    assert not np.array_equal(frames["left"][band], frames["center"][band])


def test_rays_are_unit_and_pitched_down():
    for spec in (DEEPRACER_FRONT, UDACITY_CENTER):
        rays = pixel_rays(spec)
        assert np.allclose(np.linalg.norm(rays, axis=-1), 1.0)
        h, w = spec.height, spec.width
        centre = rays[h // 2 - 1: h // 2 + 1, w // 2 - 1: w // 2 + 1].mean(axis=(0, 1))
        assert math.degrees(math.atan2(-centre[2], centre[0])) == pytest.approx(spec.pitch_down_deg, abs=1.0)
    # 120-degree lens: the middle row's outermost pixels look about 60 degrees to each side.
    rays = pixel_rays(DEEPRACER_FRONT)
    edge = rays[60, 0]
    assert math.degrees(math.atan2(edge[1], edge[0])) == pytest.approx(60, abs=3)


def test_texture_classes_follow_the_track(reinvent):
    texture = texture_for(reinvent)
    n = len(reinvent.center)
    quarter = n // 4
    assert texture.class_at(*(0.7 * reinvent.inner[quarter] + 0.3 * reinvent.center[quarter])) == SURFACE
    assert texture.class_at(*reinvent.inner[quarter]) == BORDER
    assert texture.class_at(texture.x0 + 0.1, texture.y0 + 0.1) == GROUND
    assert texture_for(reinvent) is texture  # shared, built once


def test_randomisation_is_seeded_and_switchable(reinvent):
    pose = reinvent.pose_at(2.0)
    plain = DeepRacerCamera(reinvent).render(*pose)
    off = DeepRacerCamera(reinvent, Randomisation.off()).render(*pose)
    assert np.array_equal(plain, off)
    a = DeepRacerCamera(reinvent, Randomisation(seed=5))
    b = DeepRacerCamera(reinvent, Randomisation(seed=5))
    c = DeepRacerCamera(reinvent, Randomisation(seed=6))
    first = a.render(*pose)
    assert np.array_equal(first, b.render(*pose))
    assert not np.array_equal(first, c.render(*pose))
    assert not np.array_equal(first, plain)
    before = a.rig.look.palette.copy()
    a.randomise()
    assert not np.array_equal(before, a.rig.look.palette)
    a.randomise(seed=5)
    b.randomise(seed=5)
    assert np.array_equal(a.render(*pose), b.render(*pose))


def test_noise_only_randomisation_is_small_and_per_frame(road):
    pose = road.pose_at(30.0)
    plain = UdacityCameras(road).render(*pose)["center"].astype(int)
    noisy = UdacityCameras(road, Randomisation(seed=1, lighting=False, colours=False, textures=False,
                                               shadows=False, noise_sigma=4.0))
    one, two = noisy.render(*pose)["center"], noisy.render(*pose)["center"]
    assert not np.array_equal(one, two)
    assert 1.0 < np.abs(one.astype(int) - plain).mean() < 6.0


def test_shadows_darken_some_ground_in_world_space(road):
    rig = CameraRig(road, (UDACITY_CENTER,), Randomisation(seed=3, lighting=False, colours=False,
                                                           textures=False, noise=False))
    assert rig.look.shadow_map is not None and 0.1 < rig.look.shadow_map.mean() < 0.5
    lit, shaded = rig.look.palette[:256].astype(int), rig.look.palette[256:].astype(int)
    assert (shaded <= lit).all() and (shaded < lit).any()



@pytest.mark.parametrize("randomisation", [None, Randomisation(seed=5, shadows=False, noise=False)])
def test_grey_frames_are_the_colour_frames_in_grey(reinvent, randomisation):
    """The grey camera's lookup in the lit texture (palette applied once per look) gives what the
    general path gives: the colour camera's frame, converted to grey."""
    from dataclasses import replace

    grey = CameraRig(reinvent, (DEEPRACER_FRONT,), randomisation)
    colour = CameraRig(reinvent, (replace(DEEPRACER_FRONT, channels=3),), randomisation)
    rng = np.random.default_rng(1)
    for i in range(12):
        if i == 6:  # a new look (new palette) must rebuild the lit texture
            grey.randomise(seed=9)
            colour.randomise(seed=9)
        x, y, yaw = reinvent.pose_at(float(rng.uniform(0, reinvent.length)), float(rng.normal(0, 0.3)))
        yaw += float(rng.normal(0, 0.3))
        frame = grey.render_all(x, y, yaw)
        assert frame.shape == (1, 120, 160, 1) and frame.dtype == np.uint8
        np.testing.assert_array_equal(frame[..., 0], to_gray(colour.render_all(x, y, yaw)))
