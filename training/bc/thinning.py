"""Thinning straight-driving frames out of a training set.

Keyboard and joystick logs are mostly straight driving: 65 % of a real 7,495-row Udacity log has
steering exactly 0, and a model trained on it learns to go straight (NVIDIA's PilotNet paper and
the behavioural-cloning write-ups that followed it drop most such frames). `thin_straight` keeps
a fraction of the frames whose recorded steering is exactly 0, chosen at random with a seed, so
the same configuration always trains on the same frames; every other frame is kept.

NumPy only: the dataset page draws the histogram after thinning with the same function that
training uses (`training.bc.dataset_index.split_index` calls it on the training frames).
"""

from __future__ import annotations

import numpy as np


def is_straight(steering: np.ndarray) -> np.ndarray:
    """Which frames are straight driving: recorded steering exactly 0 (what the keyboard sends
    when no key is held; any other value is a steering input, however small)."""
    return np.asarray(steering) == 0


def thin_straight(frames: np.ndarray, steering: np.ndarray, keep_fraction: float, seed: int) -> np.ndarray:
    """The indices of `frames` (into `steering`, the recorded steering of every frame) that stay
    when only `keep_fraction` of the straight frames among them are kept: round(fraction x
    straight) of them, drawn without replacement by a generator seeded with `seed`, in the
    frames' order. A fraction of 1 (or more) returns `frames` as they are."""
    frames = np.asarray(frames, dtype=np.int64)
    if not keep_fraction >= 0.0:  # NaN too
        raise ValueError(f"keep_fraction must be 0 or more; got {keep_fraction!r}")
    if keep_fraction >= 1.0 or frames.size == 0:
        return frames
    straight_mask = is_straight(np.asarray(steering)[frames])
    straight = frames[straight_mask]
    keep = int(round(keep_fraction * straight.size))
    rng = np.random.default_rng(seed)
    chosen = np.sort(rng.choice(straight.size, size=keep, replace=False)) if keep else np.arange(0)
    mask = ~straight_mask
    mask[np.flatnonzero(straight_mask)[chosen]] = True
    return frames[mask]


def thinning_summary(steering: np.ndarray, keep_fraction: float, seed: int) -> dict:
    """Frames, straight frames and their share, before and after thinning a whole log."""
    steering = np.asarray(steering)
    kept = thin_straight(np.arange(steering.size), steering, keep_fraction, seed)
    before = int(is_straight(steering).sum())
    after = int(is_straight(steering[kept]).sum())
    return {
        "keep_fraction": float(keep_fraction),
        "frames_before": int(steering.size), "frames_after": int(kept.size),
        "straight_before": before, "straight_after": after,
        "straight_share_before": round(before / steering.size, 3) if steering.size else 0.0,
        "straight_share_after": round(after / kept.size, 3) if kept.size else 0.0,
    }
