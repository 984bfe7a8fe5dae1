"""Car-mounted cameras: fast perspective rendering of a track by table lookup.

Once per camera the ground-plane intersection of every pixel ray below the horizon is computed
in the car frame (and the azimuth/elevation of every ray above it). Per frame those points are
rotated and translated by the car pose and looked up (nearest texel) in the track's shared
top-down texture; the rest of the frame is a yaw-shifted background panorama. No pixel loops.
Frames are `uint8`: (H, W) grayscale or (H, W, 3) RGB.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from simulator.appearance import (
    PALETTE_SIZE,
    SHADOW_CELL_SHIFT,
    Look,
    Randomisation,
    build_panorama,
    draw_look,
    to_gray,
)
from simulator.render_texture import TrackTexture, texture_for


@dataclass(frozen=True)
class CameraSpec:
    """A camera's image size, lens and mount on the car (car frame: x forward, y left, z up)."""

    name: str
    width: int
    height: int
    hfov_deg: float
    mount_forward_m: float
    mount_left_m: float
    mount_height_m: float
    pitch_down_deg: float
    channels: int = 3
    lens: str = "pinhole"  # or "fisheye" (equidistant: angle from the axis proportional to radius)
    max_range_m: float = 100.0  # ground farther ahead than this shows the background
    bonnet_shift_px: float | None = None  # draw the car's bonnet, its centre shifted this far right

    @property
    def focal_px(self) -> float:
        half = math.radians(self.hfov_deg) / 2
        return (self.width / 2) / (half if self.lens == "fisheye" else math.tan(half))


# AWS DeepRacer: 120-degree wide-angle lens on a 1/18 car, 160x120 grayscale after conversion.
DEEPRACER_FRONT = CameraSpec("deepracer_front", 160, 120, 120.0, 0.12, 0.0, 0.10, 15.0, channels=1,
                             lens="fisheye", max_range_m=12.0)
# Udacity simulator (Unity): three 320x160 RGB cameras, vertical FOV 60 degrees (Unity's default),
# on a full-size car, the wing cameras about a metre to each side.
_UDACITY_HFOV = math.degrees(2 * math.atan(160 / (80 / math.tan(math.radians(30)))))
UDACITY_CENTER = CameraSpec("center", 320, 160, _UDACITY_HFOV, 0.5, 0.0, 1.5, 7.0, bonnet_shift_px=0.0)
UDACITY_LEFT = CameraSpec("left", 320, 160, _UDACITY_HFOV, 0.5, 1.0, 1.5, 7.0, bonnet_shift_px=190.0)
UDACITY_RIGHT = CameraSpec("right", 320, 160, _UDACITY_HFOV, 0.5, -1.0, 1.5, 7.0, bonnet_shift_px=-190.0)


def pixel_rays(spec: CameraSpec) -> np.ndarray:
    """(H, W, 3) unit ray directions of every pixel centre, in the car frame."""
    u = np.arange(spec.width) + 0.5 - spec.width / 2  # right positive
    v = np.arange(spec.height) + 0.5 - spec.height / 2  # down positive
    uu, vv = np.meshgrid(u, v)
    f = spec.focal_px
    if spec.lens == "fisheye":
        radius = np.hypot(uu, vv)
        theta = radius / f
        scale = np.where(radius > 0, np.sin(theta) / np.maximum(radius, 1e-12), 0.0)
        cam = np.stack([np.cos(theta), -uu * scale, -vv * scale], axis=-1)
    else:
        cam = np.stack([np.ones_like(uu), -uu / f, -vv / f], axis=-1)
        cam /= np.linalg.norm(cam, axis=-1, keepdims=True)
    pitch = math.radians(spec.pitch_down_deg)
    forward = np.array([math.cos(pitch), 0.0, -math.sin(pitch)])
    left = np.array([0.0, 1.0, 0.0])
    up = np.array([math.sin(pitch), 0.0, math.cos(pitch)])
    return cam[..., :1] * forward + cam[..., 1:2] * left + cam[..., 2:3] * up


@dataclass(frozen=True)
class _Bonnet:
    first_row: int
    mask: np.ndarray  # (rows, W, C) bool
    colours: np.ndarray  # (rows, W, C) uint8


def _bonnet(spec: CameraSpec) -> _Bonnet:
    """The bonnet seen at the bottom of the Udacity frames: a grey elliptic cap."""
    rows = int(spec.height * 0.16)
    top = spec.height - rows
    y = np.arange(top, spec.height)[:, None] + 0.5
    x = np.arange(spec.width)[None, :] + 0.5
    cx = spec.width / 2 + (spec.bonnet_shift_px or 0.0)
    ex, ey = (x - cx) / (spec.width * 0.42), (y - (spec.height + rows * 1.1)) / (rows * 2.1)
    inside = ex ** 2 + ey ** 2 <= 1.0
    shade = np.clip(150 + 40 * (1 - np.abs(ex)) - 30 * (y - top) / rows, 0, 255)
    colours = np.stack([shade * 0.92, shade * 0.97, shade], axis=-1).astype(np.uint8)
    channels = spec.channels
    if channels == 1:
        colours = to_gray(colours)[..., None]
    return _Bonnet(top, np.repeat(inside[..., None], channels, axis=-1), colours[..., :channels])


class CameraRig:
    """Cameras of one car rendered together: shared texture, one look, one pass of lookups.

    All cameras of a rig have the same image size and channels. Not thread-safe (it reuses
    per-frame buffers); give every car its own rig.
    """

    def __init__(self, track: Any, specs: tuple[CameraSpec, ...], randomisation: Randomisation | None = None,
                 texture: TrackTexture | None = None) -> None:
        if len({(s.width, s.height, s.channels) for s in specs}) != 1:
            raise ValueError("cameras of a rig must share width, height and channels")
        self.specs = specs
        self.track = track
        self.texture = texture or texture_for(track)
        self.randomisation = randomisation
        first = specs[0]
        self.shape = (len(specs), first.height, first.width, first.channels)
        self._precompute_geometry()
        self._rng = np.random.default_rng(randomisation.seed) if randomisation is not None else None
        self._noise: np.ndarray | None = None  # int16 noise tape, when randomisation adds noise
        self._noise_rng = np.random.default_rng(0)
        self.randomise()

    # -- precomputation -------------------------------------------------------------------------
    def _precompute_geometry(self) -> None:
        res = self.texture.metres_per_texel
        n, h, w, _ = self.shape
        ground_x, ground_y, ground_flat = [], [], []
        sky_az, sky_el, sky_flat = [], [], []
        block_rows: set[int | None] = set()
        for k, spec in enumerate(self.specs):
            rays = pixel_rays(spec).reshape(-1, 3)
            dx, dy, dz = rays[:, 0], rays[:, 1], rays[:, 2]
            t = np.where(dz < -1e-9, spec.mount_height_m / np.maximum(-dz, 1e-9), np.inf)
            ground = (t * dx <= spec.max_range_m) & (dz < -1e-9)
            idx = np.flatnonzero(ground)
            ground_x.append(spec.mount_forward_m + t[idx] * dx[idx])
            ground_y.append(spec.mount_left_m + t[idx] * dy[idx])
            ground_flat.append(idx + k * h * w)
            sky = np.flatnonzero(~ground)
            sky_az.append(np.arctan2(dy[sky], dx[sky]))
            sky_el.append(np.arctan2(dz[sky], np.hypot(dx[sky], dy[sky])))
            sky_flat.append(sky + k * h * w)
            first_row = idx[0] // w if len(idx) else h
            is_block = len(idx) == (h - first_row) * w and (len(idx) == 0 or idx[0] == first_row * w)
            block_rows.add(int(first_row) if is_block else None)
        self._gx = (np.concatenate(ground_x) / res).astype(np.float32)
        self._gy = (np.concatenate(ground_y) / res).astype(np.float32)
        self._ground_flat = np.concatenate(ground_flat)
        self._sky_flat = np.concatenate(sky_flat)
        # Ground below one common row in every camera: assign whole row blocks, no scatter.
        self._block_row = block_rows.pop() if len(block_rows) == 1 else None
        m = len(self._gx)
        self._u, self._v, self._tmp = (np.empty(m, np.float32) for _ in range(3))
        self._ui, self._vi, self._flat = (np.empty(m, np.intp) for _ in range(3))

        az = np.concatenate(sky_az)
        el = np.degrees(np.concatenate(sky_el))
        step_deg = math.degrees(1.0 / self.specs[0].focal_px)
        self._pano_width = int(math.ceil(2 * math.pi * self.specs[0].focal_px))
        el_top = float(el.max()) if len(el) else 0.0
        el_bottom = float(el.min()) if len(el) else 0.0
        rows = int(math.ceil((el_top - el_bottom) / step_deg)) + 1
        self._pano_elevations = el_top - np.arange(rows) * step_deg
        pano_row = np.clip(np.round((el_top - el) / step_deg), 0, rows - 1).astype(np.intp)
        pano_col = np.round(az / (2 * math.pi) * self._pano_width).astype(np.intp) % self._pano_width
        self._sky_base = pano_row * (2 * self._pano_width) + pano_col
        # Frames not split at one row: ground and sky values are gathered into one buffer, then
        # put in place with one gather (cheaper than two scatters).
        if self._block_row is None:
            placement = np.empty(n * h * w, dtype=np.intp)
            placement[np.concatenate([self._ground_flat, self._sky_flat])] = np.arange(n * h * w)
            self._placement = placement
            channels = self.shape[3]
            self._gathered = np.empty((n * h * w, channels) if channels == 3 else n * h * w, dtype=np.uint8)
        self._sky_index = np.empty_like(self._sky_base)
        self._base_panorama = build_panorama(self.texture.style, self._pano_width, self._pano_elevations)
        self._bonnets = [(k, _bonnet(s)) for k, s in enumerate(self.specs) if s.bonnet_shift_px is not None]

    # -- appearance -----------------------------------------------------------------------------
    def randomise(self, seed: int | None = None) -> Look:
        """Draw a new look (call at every episode start); a no-op look without randomisation."""
        if seed is not None and self.randomisation is not None:
            self._rng = np.random.default_rng(seed)
        look = draw_look(self.texture, self._base_panorama, self.randomisation, self._rng)
        self.look = look
        gray = self.shape[3] == 1
        self._palette = to_gray(look.palette) if gray else look.palette
        pano = to_gray(look.panorama) if gray else look.panorama
        self._pano_flat = pano.reshape(-1) if gray else pano.reshape(-1, 3)
        self._shadow = look.shadow_map
        self._lit_texture: np.ndarray | None = None  # the palette applied to the texture, built on demand
        if self.randomisation is not None and self.randomisation.noise and self._rng is not None:
            size = int(np.prod(self.shape))
            sigma = self.randomisation.noise_sigma
            self._noise = np.round(self._rng.normal(0, sigma, 2 * size)).astype(np.int16)
            self._noise_rng = self._rng
        else:
            self._noise = None
        return look

    # -- rendering ------------------------------------------------------------------------------
    def render_all(self, x: float, y: float, yaw: float) -> np.ndarray:
        """A new (n_cameras, H, W, C) uint8 array of every camera's frame at pose (x, y, yaw)."""
        tex = self.texture
        rows, cols = tex.shape
        c, s = math.cos(yaw), math.sin(yaw)
        u, v, tmp = self._u, self._v, self._tmp
        np.multiply(self._gx, c, out=u)
        np.multiply(self._gy, s, out=tmp)
        np.subtract(u, tmp, out=u)
        u += (x - tex.x0) / tex.metres_per_texel
        np.multiply(self._gx, s, out=v)
        np.multiply(self._gy, c, out=tmp)
        np.add(v, tmp, out=v)
        v += (y - tex.y0) / tex.metres_per_texel
        np.clip(u, 0, cols - 1, out=u)
        np.clip(v, 0, rows - 1, out=v)
        ui, vi, flat = self._ui, self._vi, self._flat
        np.copyto(ui, u, casting="unsafe")
        np.copyto(vi, v, casting="unsafe")
        np.multiply(vi, cols, out=flat)
        flat += ui
        np.add(self._sky_base, int(round(yaw / (2 * math.pi) * self._pano_width)) % self._pano_width,
               out=self._sky_index)
        n, h, w, ch = self.shape
        m = len(flat)
        if self._shadow is None and ch == 1 and self._block_row is None:
            # grey, no shadows: one lookup in the lit texture (palette[index], built once per
            # look), straight into the gather buffer with the sky
            if self._lit_texture is None:
                self._lit_texture = self._palette.take(tex.index.reshape(-1))
            gathered = self._gathered
            self._lit_texture.take(flat, out=gathered[:m], mode="clip")
            self._pano_flat.take(self._sky_index, out=gathered[m:], mode="clip")
            out = gathered.take(self._placement).reshape(self.shape)
            return self._finish(out)
        index = tex.index.reshape(-1).take(flat)
        if self._shadow is not None:
            scols = self._shadow.shape[1]
            np.right_shift(vi, SHADOW_CELL_SHIFT, out=flat)
            flat *= scols
            np.right_shift(ui, SHADOW_CELL_SHIFT, out=ui)
            flat += ui
            index = index + self._shadow.reshape(-1).take(flat).astype(np.uint16) * PALETTE_SIZE
        ground = self._palette.take(index, axis=0)
        sky = self._pano_flat.take(self._sky_index, axis=0)

        out = np.empty(self.shape, dtype=np.uint8)
        if self._block_row is not None:
            r0 = self._block_row
            out[:, r0:] = ground.reshape(n, h - r0, w, ch)
            out[:, :r0] = sky.reshape(n, r0, w, ch)
        else:
            flat_out = out.reshape(-1, ch) if ch == 3 else out.reshape(-1)
            flat_out[self._ground_flat] = ground
            flat_out[self._sky_flat] = sky
        return self._finish(out)

    def _finish(self, out: np.ndarray) -> np.ndarray:
        """Bonnets and noise on freshly rendered frames."""
        for k, bonnet in self._bonnets:
            np.copyto(out[k, bonnet.first_row:], bonnet.colours, where=bonnet.mask)
        if self._noise is not None:
            out = self._add_noise(out, self._noise)
        return out

    def _add_noise(self, frames: np.ndarray, tape: np.ndarray) -> np.ndarray:
        size = frames.size
        start = int(self._noise_rng.integers(0, size))
        noisy = frames.reshape(-1).astype(np.int16)
        noisy += tape[start:start + size]
        np.clip(noisy, 0, 255, out=noisy)
        return noisy.astype(np.uint8).reshape(frames.shape)


class DeepRacerCamera:
    """The DeepRacer front camera: 160x120 grayscale, 120-degree lens, low on a 1/18 car."""

    def __init__(self, track: Any, randomisation: Randomisation | None = None,
                 spec: CameraSpec = DEEPRACER_FRONT) -> None:
        self.spec = spec
        self.rig = CameraRig(track, (spec,), randomisation)

    def randomise(self, seed: int | None = None) -> Look:
        return self.rig.randomise(seed)

    def render(self, x: float, y: float, yaw: float) -> np.ndarray:
        """uint8 (120, 160) frame at car pose (x, y metres, yaw radians)."""
        frames = self.rig.render_all(x, y, yaw)
        return frames[0, :, :, 0] if self.spec.channels == 1 else frames[0]


class UdacityCameras:
    """The Udacity simulator's centre, left and right 320x160 RGB cameras."""

    names = ("center", "left", "right")

    def __init__(self, track: Any, randomisation: Randomisation | None = None,
                 specs: tuple[CameraSpec, ...] = (UDACITY_CENTER, UDACITY_LEFT, UDACITY_RIGHT)) -> None:
        self.specs = specs
        self.rig = CameraRig(track, specs, randomisation)

    def randomise(self, seed: int | None = None) -> Look:
        return self.rig.randomise(seed)

    def render(self, x: float, y: float, yaw: float) -> dict[str, np.ndarray]:
        """{"center", "left", "right"}: uint8 (160, 320, 3) frames at car pose (x, y, yaw)."""
        frames = self.rig.render_all(x, y, yaw)
        return {spec.name: frames[k] for k, spec in enumerate(self.specs)}
