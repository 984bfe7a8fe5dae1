"""Top-down raster of a track, built once per track and shared by every camera on it.

Cameras never touch polygons per frame: they look ground points up in this raster. Each texel
holds a palette index `surface_class * SHADES + shade`, so colours, lighting and texture strength
can be re-drawn (domain randomisation) by swapping a 256-entry palette instead of the raster.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

GROUND, SURFACE, BORDER, CENTRE, SHOULDER = 0, 1, 2, 3, 4
CLASS_NAMES = ("ground", "surface", "border", "centre", "shoulder")
SHADES = 32  # shade levels per class: 8 classes x 32 shades fit a uint8 index
MAX_TEXELS_PER_SIDE = 6000


@dataclass(frozen=True)
class TrackStyle:
    """How a kind of track looks from above: sizes in metres, base colours in RGB."""

    name: str
    metres_per_texel: float
    margin_m: float
    border_width_m: float
    shoulder_width_m: float
    centre_width_m: float
    dash_m: float
    gap_m: float
    blotch_m: float
    colours: tuple[tuple[int, int, int], ...]  # indexed by surface class
    shade_amplitude: tuple[float, ...]  # relative brightness spread of each class's shades


DEEPRACER_STYLE = TrackStyle(
    name="deepracer",
    metres_per_texel=0.01,
    margin_m=3.0,
    border_width_m=0.05,
    shoulder_width_m=0.0,
    centre_width_m=0.05,
    dash_m=0.25,
    gap_m=0.25,
    blotch_m=0.4,
    colours=((58, 118, 52), (38, 38, 42), (235, 235, 230), (236, 170, 30), (58, 118, 52)),
    shade_amplitude=(0.25, 0.12, 0.05, 0.05, 0.25),
)

UDACITY_STYLE = TrackStyle(
    name="udacity",
    metres_per_texel=0.10,
    margin_m=40.0,
    border_width_m=0.35,
    shoulder_width_m=1.6,
    centre_width_m=0.3,
    dash_m=3.0,
    gap_m=6.0,
    blotch_m=8.0,
    colours=((92, 112, 58), (96, 98, 102), (226, 204, 120), (225, 225, 220), (150, 126, 92)),
    shade_amplitude=(0.35, 0.30, 0.10, 0.08, 0.30),
)


def style_for(track: Any) -> TrackStyle:
    """The style matching a track's scale ("deepracer" or "udacity")."""
    return UDACITY_STYLE if getattr(track, "scale", "deepracer") == "udacity" else DEEPRACER_STYLE


@dataclass(frozen=True)
class TrackTexture:
    """A rasterised track: `index[row, col]` covers world `x0 + col*res`, `y0 + row*res`."""

    index: np.ndarray  # uint8 (rows, cols): class * SHADES + shade
    x0: float
    y0: float
    metres_per_texel: float
    style: TrackStyle

    @property
    def shape(self) -> tuple[int, int]:
        return self.index.shape

    def classes(self) -> np.ndarray:
        """Surface class of every texel (GROUND, SURFACE, ...)."""
        return self.index // SHADES

    def class_at(self, x: float, y: float) -> int:
        """Surface class under a world point (the clipped edge texel when outside)."""
        rows, cols = self.shape
        col = int(np.clip((x - self.x0) / self.metres_per_texel, 0, cols - 1))
        row = int(np.clip((y - self.y0) / self.metres_per_texel, 0, rows - 1))
        return int(self.index[row, col]) // SHADES


def _closed(points: np.ndarray) -> np.ndarray:
    return np.vstack([points, points[:1]])


def _dash_polygons(center: np.ndarray, dash_m: float, gap_m: float, width_m: float) -> list[np.ndarray]:
    """Outlines of the centre-line dashes: `dash_m` long every `dash_m + gap_m` metres,
    `width_m` wide. Drawn as polygons (not thick polylines) so their edges stay straight."""
    loop = _closed(center)
    seg = np.hypot(*np.diff(loop, axis=0).T)
    cum = np.concatenate([[0.0], np.cumsum(seg)])
    total = cum[-1]
    pieces = []
    for start in np.arange(0.0, total - dash_m * 0.5, dash_m + gap_m):
        stops = np.linspace(start, min(start + dash_m, total), 6)
        xs = np.interp(stops, cum, loop[:, 0])
        ys = np.interp(stops, cum, loop[:, 1])
        tangent = np.gradient(np.column_stack([xs, ys]), axis=0)
        tangent /= np.maximum(np.linalg.norm(tangent, axis=1, keepdims=True), 1e-12)
        normal = np.column_stack([-tangent[:, 1], tangent[:, 0]]) * (width_m / 2)
        middle = np.column_stack([xs, ys])
        pieces.append(np.vstack([middle + normal, (middle - normal)[::-1]]))
    return pieces


def _shade_noise(rng: np.random.Generator, rows: int, cols: int, blotch_texels: float) -> np.ndarray:
    """0..SHADES-1 noise: coarse blotches (bilinear-upsampled) plus per-texel grain."""
    coarse_rows = max(2, int(rows / blotch_texels) + 2)
    coarse_cols = max(2, int(cols / blotch_texels) + 2)
    coarse = rng.integers(0, SHADES // 2 + 4, (coarse_rows, coarse_cols), dtype=np.uint8)
    blotches = np.asarray(Image.fromarray(coarse).resize((cols, rows), Image.Resampling.BILINEAR))
    grain = rng.integers(0, SHADES // 2 - 4, (rows, cols), dtype=np.uint8)
    return np.minimum(blotches + grain, SHADES - 1).astype(np.uint8)


def build_texture(track: Any, style: TrackStyle | None = None, seed: int = 0) -> TrackTexture:
    """Rasterise `track` (needs `center`, `inner`, `outer` (N, 2) closed polylines)."""
    style = style or style_for(track)
    inner = np.asarray(track.inner, dtype=np.float64)
    outer = np.asarray(track.outer, dtype=np.float64)
    center = np.asarray(track.center, dtype=np.float64)
    everything = np.vstack([inner, outer, center])
    lo = everything.min(axis=0) - style.margin_m
    hi = everything.max(axis=0) + style.margin_m
    res = max(style.metres_per_texel, float((hi - lo).max()) / MAX_TEXELS_PER_SIDE)
    cols, rows = (np.ceil((hi - lo) / res).astype(int) + 1).tolist()

    def px(points: np.ndarray) -> list[tuple[float, float]]:
        return [tuple(p) for p in ((points - lo) / res).tolist()]

    def width_px(metres: float) -> int:
        return max(1, int(round(metres / res)))

    canvas = Image.new("L", (cols, rows), GROUND)
    draw = ImageDraw.Draw(canvas)
    if style.shoulder_width_m > 0:
        for border in (inner, outer):
            draw.line(px(_closed(border)), fill=SHOULDER, width=width_px(2 * style.shoulder_width_m), joint="curve")
    n = len(center)
    for i in range(n):
        j = (i + 1) % n
        draw.polygon(px(np.array([inner[i], inner[j], outer[j], outer[i]])), fill=SURFACE, outline=SURFACE)
    for border in (inner, outer):
        draw.line(px(_closed(border)), fill=BORDER, width=width_px(style.border_width_m), joint="curve")
    for dash in _dash_polygons(center, style.dash_m, style.gap_m, max(style.centre_width_m, 1.5 * res)):
        draw.polygon(px(dash), fill=CENTRE, outline=CENTRE)

    classes = np.asarray(canvas, dtype=np.uint8)
    rng = np.random.default_rng(seed)
    shades = _shade_noise(rng, rows, cols, style.blotch_m / res)
    index = classes * np.uint8(SHADES) + shades
    index.setflags(write=False)
    return TrackTexture(index=index, x0=float(lo[0]), y0=float(lo[1]), metres_per_texel=res, style=style)


_TEXTURE_CACHE: dict[tuple[str, str], TrackTexture] = {}
_TEXTURE_CACHE_SIZE = 6


def _track_key(track: Any, style: TrackStyle) -> tuple[str, str]:
    digest = hashlib.blake2b(digest_size=16)
    for name in ("center", "inner", "outer"):
        digest.update(np.ascontiguousarray(getattr(track, name), dtype=np.float64).tobytes())
    return digest.hexdigest(), style.name


def texture_for(track: Any, style: TrackStyle | None = None) -> TrackTexture:
    """The shared texture of a track (built on first use; a few recent tracks stay cached)."""
    style = style or style_for(track)
    key = _track_key(track, style)
    texture = _TEXTURE_CACHE.get(key)
    if texture is None:
        texture = build_texture(track, style)
        if len(_TEXTURE_CACHE) >= _TEXTURE_CACHE_SIZE:
            _TEXTURE_CACHE.pop(next(iter(_TEXTURE_CACHE)))
        _TEXTURE_CACHE[key] = texture
    return texture
