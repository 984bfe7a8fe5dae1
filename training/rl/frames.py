"""Batched, exact twin of `drive_agent.preprocessing.resize` for grey training frames.

Training resizes every car's 160x120 camera frame to the network's size at every step. Pillow
does it well in C but costs about half a millisecond a frame in Python around the call
(`Image.fromarray`, `resize`, `np.asarray`), more than rendering the frame. `PillowBilinear`
resizes a whole batch of frames (n, H, W) uint8 with NumPy, using Pillow's own algorithm for
`Image.Resampling.BILINEAR` (Resample.c: the triangle filter widened by the shrink factor,
coefficients normalised per output pixel and rounded to 22-bit fixed point, the horizontal pass
rounded to uint8 before the vertical one), so the frames are bit-for-bit those the drive agent
sees at race time (tests/rl/test_frames.py compares them with Pillow).
"""

from __future__ import annotations

import math

import numpy as np

PRECISION_BITS = 32 - 8 - 2  # Pillow's fixed point for 8-bit images (sums fit in int32)


def pillow_coefficients(in_size: int, out_size: int) -> tuple[np.ndarray, np.ndarray]:
    """(indices, weights), both (out_size, taps): source pixels and Pillow's fixed-point weights
    (int64) of each output pixel, for the bilinear filter. Unused taps have weight 0 and point
    at a valid pixel."""
    scale = in_size / out_size
    filterscale = max(scale, 1.0)
    support = 1.0 * filterscale
    ksize = int(math.ceil(support)) * 2 + 1
    index = np.zeros((out_size, ksize), dtype=np.intp)
    weight = np.zeros((out_size, ksize), dtype=np.int64)
    ss = 1.0 / filterscale
    for xx in range(out_size):
        center = (xx + 0.5) * scale
        xmin = max(int(center - support + 0.5), 0)
        xmax = min(int(center + support + 0.5), in_size) - xmin
        taps = []
        for x in range(xmax):
            d = abs((x + xmin - center + 0.5) * ss)
            taps.append(1.0 - d if d < 1.0 else 0.0)
        total = sum(taps)
        for x, w in enumerate(taps):
            w = w / total if total != 0.0 else w
            index[xx, x] = xmin + x
            weight[xx, x] = int(-0.5 + w * (1 << PRECISION_BITS)) if w < 0 else int(0.5 + w * (1 << PRECISION_BITS))
        index[xx, xmax:] = xmin
    # drop columns no output pixel uses
    used = int((weight != 0).any(axis=0).nonzero()[0].max()) + 1 if weight.any() else 1
    return index[:, :used], weight[:, :used]


def _clip8(acc: np.ndarray) -> np.ndarray:
    acc >>= PRECISION_BITS
    np.clip(acc, 0, 255, out=acc)
    return acc.astype(np.uint8)


class _AxisPlan:
    """One pass of the resize along one axis: a regular run of output pixels (the same weights,
    source windows a constant stride apart: strided slices, no gathers) and the few border
    pixels around it (gathered)."""

    def __init__(self, index: np.ndarray, weight: np.ndarray) -> None:
        out, taps = index.shape
        self.out = out
        self.taps = taps
        # the longest run of outputs whose weights equal and whose indices step evenly
        best = (0, 1, 0)  # (first, length, stride)
        first = 0
        while first < out:
            last = first + 1
            stride = int(index[first + 1, 0] - index[first, 0]) if first + 1 < out else 0
            while (last < out and stride > 0 and (weight[last] == weight[first]).all()
                   and (index[last] - index[first] == stride * (last - first)).all()):
                last += 1
            if last - first > best[1]:
                best = (first, last - first, stride)
            first = last
        self.first, self.length, self.stride = best
        if self.length < 2:
            self.first, self.length = 0, 0
        f, n, st = self.first, self.length, self.stride
        # Regular run: taps grouped by weight, weights and the rounding half divided by their
        # common power of two (exact: a power of two divides the shift too), so that for a 2x
        # shrink (weights 1, 3, 3, 1 eighths) the sums fit in int16.
        groups: dict[int, list[slice]] = {}
        for k in range(taps):
            if n and weight[f, k] != 0:
                start = int(index[f, k])
                groups.setdefault(int(weight[f, k]), []).append(slice(start, start + st * (n - 1) + 1, st))
        half = 1 << (PRECISION_BITS - 1)
        common = half
        for w in groups:
            common = math.gcd(common, w)
        shift = (common & -common).bit_length() - 1  # trailing zeros shared by every weight and half
        self.groups = [(w >> shift, windows) for w, windows in sorted(groups.items())]
        self.half = half >> shift
        self.shift = PRECISION_BITS - shift
        largest = 255 * sum(w * len(windows) for w, windows in self.groups) + self.half
        self.dtype = np.int16 if largest < 2**15 else np.int32
        rest = np.array([i for i in range(out) if not f <= i < f + n], dtype=np.intp)
        self.rest = rest
        self.rest_index = index[rest].astype(np.intp)
        self.rest_weight = weight[rest].astype(np.int32)

    def apply(self, img: np.ndarray, axis: int) -> np.ndarray:
        """img uint8 (n, h, w) resized along `axis` (1: rows, 2: columns) -> uint8."""
        shape = list(img.shape)
        shape[axis] = self.out
        out = np.empty(shape, dtype=np.uint8)
        lead: tuple[slice, ...] = (slice(None),) * axis
        if self.length:
            acc: np.ndarray | None = None
            for w, windows in self.groups:
                total: np.ndarray = img[(*lead, windows[0])].astype(self.dtype)
                for window in windows[1:]:
                    np.add(total, img[(*lead, window)], out=total)
                if w != 1:
                    np.multiply(total, w, out=total)
                acc = total if acc is None else np.add(acc, total, out=acc)
            assert acc is not None
            np.add(acc, self.half, out=acc)
            np.right_shift(acc, self.shift, out=acc)
            np.clip(acc, 0, 255, out=acc)
            out[(*lead, slice(self.first, self.first + self.length))] = acc
        if len(self.rest):  # the border pixels: one gather of all their taps
            half = 1 << (PRECISION_BITS - 1)
            if axis == 2:
                picked = img[:, :, self.rest_index]  # (n, h, rest, taps)
                out[:, :, self.rest] = _clip8((picked * self.rest_weight).sum(axis=3, dtype=np.int32) + half)
            else:
                picked = img[:, self.rest_index, :]  # (n, rest, taps, w)
                border = (picked * self.rest_weight[:, :, None]).sum(axis=2, dtype=np.int32)
                out[:, self.rest, :] = _clip8(border + half)
        return out


class PillowBilinear:
    """Resize batches of grey frames (n, in_h, in_w) uint8 -> (n, out_h, out_w) uint8 exactly
    as Pillow's BILINEAR resize does one frame at a time."""

    def __init__(self, in_size: tuple[int, int], out_size: tuple[int, int]) -> None:
        (in_h, in_w), (out_h, out_w) = in_size, out_size
        self.in_size, self.out_size = (in_h, in_w), (out_h, out_w)
        self.x_plan = _AxisPlan(*pillow_coefficients(in_w, out_w)) if in_w != out_w else None
        self.y_plan = _AxisPlan(*pillow_coefficients(in_h, out_h)) if in_h != out_h else None

    def __call__(self, frames: np.ndarray) -> np.ndarray:
        if frames.ndim != 3 or frames.shape[1:] != self.in_size or frames.dtype != np.uint8:
            raise ValueError(f"expected uint8 frames (n, {self.in_size[0]}, {self.in_size[1]}), "
                             f"got {frames.dtype} {frames.shape}")
        img = frames
        if self.x_plan is not None:
            img = self.x_plan.apply(img, 2)
        if self.y_plan is not None:
            img = self.y_plan.apply(img, 1)
        return img if img is not frames else img.copy()
