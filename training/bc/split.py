"""Train/validation split by contiguous time blocks.

Neighbouring frames of a 10-15 Hz log are near-identical; a random per-frame split would put
copies of validation frames into training and make val_loss meaninglessly low. We cut each
recording into blocks of `block_frames`, send whole blocks to validation, and drop `gap_frames`
training frames on each side of every validation block as a guard band.
"""

from __future__ import annotations

import numpy as np


def block_size(n_frames: int, block_frames: int) -> int:
    """The block length block_split uses for a recording of `n_frames` frames (shorter than
    `block_frames` for a recording of fewer than two blocks)."""
    return max(1, min(block_frames, n_frames // 2))


def block_split(n_frames: int, val_fraction: float, block_frames: int, gap_frames: int,
                seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Return (train_indices, val_indices) into a recording of `n_frames` frames.

    At least one block goes to validation and at least one stays in training when the recording
    has two blocks or more; a recording shorter than two blocks is split into two halves' worth
    of smaller blocks so that tiny logs still validate.
    """
    if n_frames < 2:
        return np.arange(n_frames), np.arange(0)
    block = block_size(n_frames, block_frames)
    n_blocks = -(-n_frames // block)
    n_val = min(n_blocks - 1, max(1, round(val_fraction * n_blocks)))
    rng = np.random.default_rng(seed)
    val_blocks = np.sort(rng.choice(n_blocks, size=n_val, replace=False))
    is_val = np.zeros(n_frames, dtype=bool)
    for b in val_blocks:
        is_val[b * block:(b + 1) * block] = True
    near_val = is_val.copy()
    if gap_frames > 0:
        # Dilate the validation mask by gap_frames to find the guard band.
        kernel = np.ones(2 * gap_frames + 1, dtype=int)
        near_val = np.convolve(is_val.astype(int), kernel, mode="same") > 0
    train = np.flatnonzero(~near_val)
    val = np.flatnonzero(is_val)
    return train, val


def min_distance(train: np.ndarray, val: np.ndarray) -> int:
    """Smallest |train - val| index distance (how close a training frame gets to validation)."""
    if train.size == 0 or val.size == 0:
        return np.iinfo(np.int64).max
    pos = np.searchsorted(train, val)
    left = np.abs(val - train[np.clip(pos - 1, 0, train.size - 1)])
    right = np.abs(train[np.clip(pos, 0, train.size - 1)] - val)
    return int(min(left.min(), right.min()))
