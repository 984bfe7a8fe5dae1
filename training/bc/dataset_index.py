"""Index simulator recordings (driving_log.csv + IMG/) into frame tables: paths and labels only.

Images stay on disk; an index of 30,000 frames is a few MB of strings and floats. Each dataset
directory is one contiguous recording, which is what smoothing and the block split need.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from training.bc.config import TrainConfig
from training.bc.driving_log_io import read_frames
from training.bc.smoothing import smooth_steering
from training.bc.split import block_split
from training.bc.thinning import thin_straight


@dataclass
class FrameIndex:
    """Frames of one or more recordings, concatenated; row i is one simulator frame."""

    center: np.ndarray          # str paths
    left: np.ndarray            # str paths ("" when missing)
    right: np.ndarray
    steering_raw: np.ndarray    # float32, normalised -1..1
    steering: np.ndarray        # float32, after smoothing
    throttle: np.ndarray
    speed: np.ndarray
    dataset_id: np.ndarray      # int32: which dataset directory
    row: np.ndarray             # int32: row number inside its driving_log.csv
    datasets: list[str] = field(default_factory=list)
    skipped_rows: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return int(self.center.shape[0])

    def fingerprint(self) -> str:
        """Digest of the frames (image paths and raw labels): part of the bottleneck-cache key."""
        digest = hashlib.sha256()
        for path in self.center:
            digest.update(path.encode())
        for name in ("left", "right"):
            for path in getattr(self, name):
                digest.update(path.encode())
        digest.update(np.ascontiguousarray(self.steering_raw).tobytes())
        return digest.hexdigest()


def index_dataset(dataset_dir: str | Path, dataset_id: int = 0) -> FrameIndex:
    """Read one recording; images are resolved to files under `dataset_dir/IMG/`."""
    dataset_dir = Path(dataset_dir)
    frames, skipped = read_frames(dataset_dir)
    n = len(frames)
    steering = np.array([f.steering for f in frames], dtype=np.float32)
    return FrameIndex(
        center=np.array([f.center for f in frames], dtype=object),
        left=np.array([f.left for f in frames], dtype=object),
        right=np.array([f.right for f in frames], dtype=object),
        steering_raw=steering,
        steering=steering.copy(),
        throttle=np.array([f.throttle for f in frames], dtype=np.float32),
        speed=np.array([f.speed for f in frames], dtype=np.float32),
        dataset_id=np.full(n, dataset_id, dtype=np.int32),
        row=np.array([f.line for f in frames], dtype=np.int32),
        datasets=[str(dataset_dir)],
        skipped_rows=skipped,
    )


def concat(indexes: list[FrameIndex]) -> FrameIndex:
    arrays = {name: np.concatenate([getattr(ix, name) for ix in indexes])
              for name in ("center", "left", "right", "steering_raw", "steering", "throttle",
                           "speed", "dataset_id", "row")}
    return FrameIndex(**arrays, datasets=[d for ix in indexes for d in ix.datasets],
                      skipped_rows=[s for ix in indexes for s in ix.skipped_rows])


def index_datasets(dataset_dirs: list[str | Path], cfg: TrainConfig) -> FrameIndex:
    """Index every recording, smoothing steering within each recording separately."""
    if not dataset_dirs:
        raise ValueError("no dataset directories given")
    indexes = []
    for i, directory in enumerate(dataset_dirs):
        ix = index_dataset(directory, dataset_id=i)
        if len(ix) == 0:
            raise ValueError(f"{directory}: driving_log.csv holds no usable frames")
        ix.steering = smooth_steering(ix.steering_raw, cfg.smoothing, cfg.smoothing_alpha,
                                      cfg.smoothing_sigma).astype(np.float32)
        indexes.append(ix)
    return concat(indexes)


def split_index(index: FrameIndex, cfg: TrainConfig) -> tuple[np.ndarray, np.ndarray]:
    """Global (train, val) frame indices; each recording is block-split on its own.

    The split comes first, on every frame, so that thinning never moves a frame between training
    and validation. Then only `cfg.straight_keep_fraction` of the training frames whose recorded
    steering is exactly 0 are kept (`training.bc.thinning`, seeded by `cfg.seed`); validation keeps
    every frame, so val_loss still measures the driving as recorded."""
    train_parts, val_parts = [], []
    for dataset_id in np.unique(index.dataset_id):
        rows = np.flatnonzero(index.dataset_id == dataset_id)
        train, val = block_split(rows.size, cfg.val_fraction, cfg.val_block_frames,
                                 cfg.val_gap_frames, cfg.seed + int(dataset_id))
        train_parts.append(thin_straight(rows[train], index.steering_raw, cfg.straight_keep_fraction,
                                         cfg.seed + int(dataset_id)))
        val_parts.append(rows[val])
    return np.concatenate(train_parts), np.concatenate(val_parts)


def camera_samples(index: FrameIndex, frames: np.ndarray, side_cameras: bool,
                   correction: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Training samples (paths, angles, frame indices) of the chosen frames.

    With side cameras each frame also yields its left image with `angle + correction` (steer
    back right toward the centre) and its right image with `angle - correction`.
    """
    paths = [index.center[frames]]
    angles = [index.steering[frames]]
    owners = [frames]
    if side_cameras:
        for name, sign in (("left", 1.0), ("right", -1.0)):
            side = getattr(index, name)[frames]
            present = np.array([bool(p) for p in side], dtype=bool)
            paths.append(side[present])
            angles.append(index.steering[frames][present] + sign * correction)
            owners.append(frames[present])
    return (np.concatenate(paths).astype(str), np.concatenate(angles).astype(np.float32),
            np.concatenate(owners).astype(np.int64))


def subset(index: FrameIndex, rows: np.ndarray) -> FrameIndex:
    """The frames at `rows` (e.g. one recording of a concatenated index)."""
    arrays = {name: getattr(index, name)[rows]
              for name in ("center", "left", "right", "steering_raw", "steering", "throttle",
                           "speed", "dataset_id", "row")}
    return FrameIndex(**arrays, datasets=list(index.datasets), skipped_rows=[])


def recording(index: FrameIndex, dataset_id: int) -> FrameIndex:
    """One dataset directory's frames out of a concatenated index."""
    return subset(index, np.flatnonzero(index.dataset_id == dataset_id))
