"""What a camera's world looks like: palettes, background panoramas and domain randomisation.

An episode's `Look` (palette + panorama + shadow map) is drawn once; per frame the cameras only
index into it, so randomised rendering costs almost nothing extra. Everything random comes from
one seeded generator, so the same seed gives the same frames.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from simulator.render_texture import SHADES, TrackStyle, TrackTexture

PALETTE_SIZE = 256  # lit entries; shadowed copies follow at +PALETTE_SIZE
SHADOW_CELL_SHIFT = 3  # shadow map cells are 2**3 texels wide
LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


@dataclass(frozen=True)
class Randomisation:
    """Switches and strengths of domain randomisation; `seed` makes it reproducible."""

    seed: int | None = 0
    lighting: bool = True
    colours: bool = True
    textures: bool = True
    noise: bool = True
    shadows: bool = True
    noise_sigma: float = 5.0
    shadow_fraction: float = 0.3

    @classmethod
    def off(cls) -> Randomisation:
        return cls(lighting=False, colours=False, textures=False, noise=False, shadows=False)


@dataclass(frozen=True)
class Look:
    """One episode's appearance: `palette` (2*256, 3) uint8 (second half shadowed),
    `panorama` (rows, 2*width, 3) uint8 (repeated once so a yaw shift never wraps),
    `shadow_map` (uint8 0/1 per shadow cell) or None."""

    palette: np.ndarray
    panorama: np.ndarray
    shadow_map: np.ndarray | None


def base_palette(style: TrackStyle, colour_gain: np.ndarray | None = None,
                 amplitude_gain: np.ndarray | None = None) -> np.ndarray:
    """float32 (256, 3) colours of every class/shade index, before lighting."""
    palette = np.zeros((PALETTE_SIZE, 3), dtype=np.float32)
    shade = (np.arange(SHADES, dtype=np.float32) / (SHADES - 1) - 0.5) * 2.0
    for cls, colour in enumerate(style.colours):
        base = np.asarray(colour, dtype=np.float32)
        if colour_gain is not None:
            base = base * colour_gain[cls]
        amp = style.shade_amplitude[cls] * (1.0 if amplitude_gain is None else float(amplitude_gain[cls]))
        palette[cls * SHADES:(cls + 1) * SHADES] = base[None, :] * (1.0 + amp * shade[:, None])
    return palette


def _smooth_noise(rng: np.random.Generator, rows: int, cols: int, cells: tuple[int, int]) -> np.ndarray:
    coarse = rng.random((cells[0], cells[1])).astype(np.float32)
    return np.asarray(Image.fromarray(coarse, mode="F").resize((cols, rows), Image.Resampling.BICUBIC))


def _periodic_noise(rng: np.random.Generator, elev: np.ndarray, az: np.ndarray, terms: int,
                    max_harmonic: int, elev_freq: float) -> np.ndarray:
    """Smooth 0..1 noise over (elevation, azimuth) that wraps seamlessly at 360 degrees."""
    total = np.zeros(elev.shape, dtype=np.float32)
    for _ in range(terms):
        k = rng.integers(1, max_harmonic + 1)
        total += np.sin(k * az + rng.uniform(0, 2 * np.pi) + rng.uniform(-elev_freq, elev_freq) * elev)
    return np.clip(0.5 + total / (2 * np.sqrt(terms)), 0, 1)


def build_panorama(style: TrackStyle, width: int, elevations_deg: np.ndarray, seed: int = 0) -> np.ndarray:
    """float32 (rows, width, 3) background: row r is at `elevations_deg[r]`, column c at azimuth
    c/width * 360 degrees. Roads get hills, trees and sky; DeepRacer tracks walls and a hall."""
    rng = np.random.default_rng(seed + 17)
    rows = len(elevations_deg)
    elev = np.repeat(np.asarray(elevations_deg, dtype=np.float32)[:, None], width, axis=1)
    az = np.broadcast_to(np.arange(width, dtype=np.float32)[None, :] / width * 2 * np.pi, (rows, width))
    img = np.zeros((rows, width, 3), dtype=np.float32)

    def paint(mask: np.ndarray, colour: tuple[float, float, float] | np.ndarray) -> None:
        img[mask] = np.broadcast_to(np.asarray(colour, dtype=np.float32), img.shape)[mask]

    def ridge(base: float, amp: float, harmonics: int) -> np.ndarray:
        h = np.zeros_like(az)
        for k in range(1, harmonics + 1):
            h += rng.uniform(0.3, 1.0) / k * np.sin(k * az + rng.uniform(0, 2 * np.pi))
        return base + amp * h

    up = np.clip(elev / 45.0, 0, 1)
    if style.name == "udacity":
        sky = (1 - up)[..., None] * np.array([205, 222, 238]) + up[..., None] * np.array([70, 135, 215])
        clouds = _periodic_noise(rng, elev, az, 12, 12, 0.3)
        sky = sky + (np.clip(clouds - 0.55, 0, 1) * 200)[..., None] * (elev > 2)[..., None]
        img[:] = sky
        paint(elev < ridge(5.0, 2.5, 5), (150, 150, 140))
        paint(elev < ridge(2.5, 1.5, 9), (96, 120, 70))
        trees = np.zeros((rows, width), dtype=bool)
        for _ in range(220):
            centre = rng.uniform(0, 2 * np.pi)
            height = rng.uniform(2.0, 11.0)
            half_width = np.deg2rad(rng.uniform(0.4, 1.6))
            dist = np.abs(((az - centre + np.pi) % (2 * np.pi)) - np.pi)
            trees |= (elev < height * (1 - dist / half_width)) & (elev > -1)
        tree_shade = 0.7 + 0.5 * _periodic_noise(rng, elev, az, 16, 60, 0.5)
        img[trees] = (np.array([38, 78, 36], dtype=np.float32)[None, None, :] * tree_shade[..., None])[trees]
        paint(elev < 0, (110, 120, 78))
    else:
        hall = (1 - up)[..., None] * np.array([150, 160, 172]) + up[..., None] * np.array([205, 212, 222])
        img[:] = hall
        wall_top = 7.0
        panels = (np.floor(az / (2 * np.pi) * 36) % 2)[..., None] * 12.0
        wall = (elev < wall_top) & (elev >= 0)
        wall_colour = np.array([40, 70, 140], dtype=np.float32)[None, None, :] + panels
        img[wall] = np.broadcast_to(wall_colour, img.shape)[wall]
        paint((elev >= wall_top) & (elev < wall_top + 0.8), (230, 230, 230))
        paint(elev < 0, style.colours[0])
    return np.clip(img, 0, 255)


def _shadow_map(rng: np.random.Generator, texture: TrackTexture, fraction: float) -> np.ndarray:
    rows, cols = texture.shape
    srows, scols = (rows >> SHADOW_CELL_SHIFT) + 1, (cols >> SHADOW_CELL_SHIFT) + 1
    cell_m = texture.metres_per_texel * (1 << SHADOW_CELL_SHIFT)
    blob_cells = max(2.0, (texture.style.blotch_m * 1.5) / cell_m)
    noise = _smooth_noise(rng, srows, scols, (int(srows / blob_cells) + 2, int(scols / blob_cells) + 2))
    return (noise > np.quantile(noise, 1.0 - fraction)).astype(np.uint8)


def draw_look(texture: TrackTexture, panorama: np.ndarray, randomisation: Randomisation | None,
              rng: np.random.Generator | None) -> Look:
    """Draw an episode's look. Without randomisation: the style's own colours, no shadows."""
    style = texture.style
    if randomisation is None or rng is None:
        rng, on = np.random.default_rng(0), Randomisation.off()  # `on` draws nothing from it
    else:
        on = randomisation
    n_classes = len(style.colours)
    colour_gain = rng.uniform(0.8, 1.2, (n_classes, 3)) if on.colours else None
    amplitude_gain = rng.uniform(0.0, 2.0, n_classes) if on.textures else None
    palette = base_palette(style, colour_gain, amplitude_gain)
    pano = panorama.copy()
    if on.colours:
        pano *= rng.uniform(0.85, 1.15, 3).astype(np.float32)
    if on.lighting:
        gain = rng.uniform(0.6, 1.4) * rng.uniform(0.92, 1.08, 3).astype(np.float32)
        bias = np.float32(rng.uniform(-25, 25))
        palette = palette * gain + bias
        pano = pano * gain + bias
    shadow_factor = rng.uniform(0.4, 0.7) if on.shadows else 1.0
    lit = np.clip(palette, 0, 255)
    full = np.vstack([lit, lit * shadow_factor]).round().astype(np.uint8)
    pano_u8 = np.clip(pano, 0, 255).round().astype(np.uint8)
    shadow = _shadow_map(rng, texture, on.shadow_fraction) if on.shadows else None
    return Look(palette=full, panorama=np.concatenate([pano_u8, pano_u8], axis=1), shadow_map=shadow)


def to_gray(rgb: np.ndarray) -> np.ndarray:
    """uint8 luma (ITU-R 601, as OpenCV's RGB2GRAY) of an (..., 3) array."""
    return np.clip(np.asarray(rgb, dtype=np.float32) @ LUMA, 0, 255).round().astype(np.uint8)
