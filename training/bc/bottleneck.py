"""Bottleneck features: the frozen Inception prefix run once per image and cached on disk.

Seed 000's note 5: the prefix never changes during training, so computing its output once and
training only the head on the saved features makes each epoch far cheaper. Features are cached
per dataset directory as one float16 `.npy` (memory-mapped when read), under a key made of
everything that changes them: the dataset's frames, the cut, preprocessing, the weights file and
which views (cameras, mirrored copies) were computed.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np

from training.bc import data
from training.bc.config import TrainConfig
from training.bc.dataset_index import FrameIndex

CAMERAS = ("center", "left", "right")


@dataclass(frozen=True)
class View:
    camera: str
    mirrored: bool


def views_for(cfg: TrainConfig) -> tuple[View, ...]:
    cameras = CAMERAS if cfg.side_cameras else ("center",)
    mirrors = (False, True) if cfg.mirror else (False,)
    return tuple(View(c, m) for c in cameras for m in mirrors)


def file_digest(path: str | Path | None) -> str:
    if path is None:
        return "random-init"
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def cache_key(dataset: FrameIndex, cfg: TrainConfig, weights_digest: str,
              views: tuple[View, ...]) -> str:
    payload = {
        "frames": dataset.fingerprint(),
        "cut": cfg.inception_cut,
        "preprocessing": cfg.preprocessing_card(),
        "weights": weights_digest,
        "views": [(v.camera, v.mirrored) for v in views],
        "keras": keras.__version__,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:24]


def _compute(dataset: FrameIndex, prefix: keras.Model, cfg: TrainConfig,
             views: tuple[View, ...], target: Path) -> None:
    """Write features of every (view, frame) to `target` without holding them all in memory."""
    n = len(dataset)
    feature_shape = tuple(prefix.output_shape[1:])
    tmp = target.with_name(target.name + f".tmp{os.getpid()}")
    out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float16,
                                    shape=(len(views), n, *feature_shape))
    for v, view in enumerate(views):
        paths = getattr(dataset, view.camera).astype(str)
        present = np.flatnonzero(paths != "")
        if present.size == 0:
            continue
        start = 0
        for batch in data.image_dataset(paths[present], cfg, mirror=view.mirrored):
            features = prefix(batch, training=False).numpy()
            rows = present[start:start + len(features)]
            out[v, rows] = features.astype(np.float16)
            start += len(features)
    out.flush()
    del out
    os.replace(tmp, target)


def cached_features(dataset: FrameIndex, prefix: keras.Model, cfg: TrainConfig,
                    cache_dir: Path, weights_digest: str) -> tuple[np.ndarray, Path, bool]:
    """(features memmap of shape (views, frames, *feature), its path, whether it was reused)."""
    views = views_for(cfg)
    cache_dir.mkdir(parents=True, exist_ok=True)
    path = cache_dir / f"bottleneck_{cache_key(dataset, cfg, weights_digest, views)}.npy"
    reused = path.is_file()
    if not reused:
        _compute(dataset, prefix, cfg, views, path)
    return np.load(path, mmap_mode="r"), path, reused


def view_number(cfg: TrainConfig, camera: str, mirrored: bool) -> int:
    return views_for(cfg).index(View(camera, mirrored))


@dataclass
class FeatureSamples:
    """Which cached feature row each sample uses, and its steering label."""

    dataset: np.ndarray   # int32
    row: np.ndarray       # int64, row inside that dataset's cache
    view: np.ndarray      # int32
    angle: np.ndarray     # float32

    def __len__(self) -> int:
        return int(self.angle.shape[0])


def feature_samples(index: FrameIndex, frames: np.ndarray, cfg: TrainConfig,
                    training: bool) -> FeatureSamples:
    """Samples of `frames`: all cached views when training, the plain centre view otherwise."""
    local_start = {int(d): int(np.flatnonzero(index.dataset_id == d)[0])
                   for d in np.unique(index.dataset_id)}
    parts: list[tuple[np.ndarray, np.ndarray, int, np.ndarray]] = []
    views = views_for(cfg) if training else (View("center", False),)
    for view in views:
        chosen = frames
        angle = index.steering[frames].astype(np.float32)
        if view.camera != "center":
            chosen = frames[getattr(index, view.camera)[frames] != ""]
            sign = 1.0 if view.camera == "left" else -1.0
            angle = index.steering[chosen] + sign * cfg.side_correction
        if view.mirrored:
            angle = -angle
        local = np.array([i - local_start[int(index.dataset_id[i])] for i in chosen],
                         dtype=np.int64)
        parts.append((index.dataset_id[chosen], local,
                      view_number(cfg, view.camera, view.mirrored), angle))
    return FeatureSamples(
        dataset=np.concatenate([p[0] for p in parts]).astype(np.int32),
        row=np.concatenate([p[1] for p in parts]),
        view=np.concatenate([np.full(p[1].size, p[2], np.int32) for p in parts]),
        angle=np.concatenate([p[3] for p in parts]).astype(np.float32),
    )


def feature_dataset(features: list[np.ndarray], samples: FeatureSamples, batch_size: int,
                    shuffle_seed: int | None, repeat: bool):
    """tf.data batches of (features float32, angle (B, 1)) read from the memory-mapped caches."""
    import tensorflow as tf

    feature_shape = features[0].shape[2:]
    ids = tf.data.Dataset.from_tensor_slices(np.arange(len(samples), dtype=np.int64))
    if shuffle_seed is not None:
        ids = ids.shuffle(len(samples), seed=shuffle_seed, reshuffle_each_iteration=True)
    if repeat:
        ids = ids.repeat()

    def gather(batch_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        out = np.empty((len(batch_ids), *feature_shape), dtype=np.float32)
        for j, i in enumerate(batch_ids):
            out[j] = features[samples.dataset[i]][samples.view[i], samples.row[i]]
        return out, samples.angle[batch_ids].reshape(-1, 1)

    def to_tensors(batch_ids):
        x, y = tf.numpy_function(gather, [batch_ids], (tf.float32, tf.float32), stateful=False)
        return tf.ensure_shape(x, [None, *feature_shape]), tf.ensure_shape(y, [None, 1])

    return ids.batch(batch_size).map(to_tensors, num_parallel_calls=tf.data.AUTOTUNE).prefetch(
        tf.data.AUTOTUNE)
