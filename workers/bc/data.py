"""Training and validation input pipelines: JPEG files streamed from disk into model batches.

Only file paths and labels are held in memory. Each element is read and decoded by TensorFlow
(in parallel, only the rows the crop keeps), augmented in camera pixels (`augment`), and the
batch is then preprocessed by `drive_agent.preprocessing.preprocess` -- the very function the car
runs -- inside `tf.numpy_function`, so training and driving cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from drive_agent.model_card import PreprocessingSpec
from drive_agent.preprocessing import preprocess
from workers.bc import augment
from workers.bc.config import SOURCE_HEIGHT, TrainConfig
from workers.bc.dataset_index import (FrameIndex, camera_samples, concat, index_dataset,
                                      index_datasets, split_index)
from workers.bc.smoothing import smooth_steering
from workers.bc.split import block_split

AUTOTUNE = tf.data.AUTOTUNE

__all__ = [
    "FrameIndex", "SplitData", "index_dataset", "index_datasets", "concat", "split_index",
    "camera_samples", "smooth_steering", "block_split", "prepare", "preprocessing_spec",
    "decode_cropped", "preprocess_batch", "training_dataset", "validation_dataset",
    "image_dataset",
]


@dataclass
class SplitData:
    """A frame index with its block split and the training samples drawn from it."""

    index: FrameIndex
    train_frames: np.ndarray
    val_frames: np.ndarray
    train_paths: np.ndarray
    train_angles: np.ndarray

    @property
    def val_paths(self) -> np.ndarray:
        return self.index.center[self.val_frames].astype(str)

    @property
    def val_angles(self) -> np.ndarray:
        return self.index.steering[self.val_frames].astype(np.float32)


def prepare(dataset_dirs: list, cfg: TrainConfig) -> SplitData:
    """Index, smooth and split the recordings; list training samples (with side cameras)."""
    index = index_datasets(dataset_dirs, cfg)
    train, val = split_index(index, cfg)
    if train.size == 0 or val.size == 0:
        raise ValueError(f"{len(index)} frames are too few to split into training and validation")
    paths, angles, _ = camera_samples(index, train, cfg.side_cameras, cfg.side_correction)
    return SplitData(index, train, val, paths, angles)


def preprocessing_spec(cfg: TrainConfig, already_cropped: bool = True) -> PreprocessingSpec:
    """The drive agent's spec; crop rows are zero when TF already decoded only the kept rows."""
    return PreprocessingSpec(
        crop_top=0 if already_cropped else cfg.crop_top,
        crop_bottom=0 if already_cropped else cfg.crop_bottom,
        resize=tuple(cfg.resize), color_space=cfg.color_space, scale="none")


def decode_cropped(path: tf.Tensor, cfg: TrainConfig) -> tf.Tensor:
    """Read one JPEG and decode only rows crop_top .. height-crop_bottom (uint8 RGB)."""
    data = tf.io.read_file(path)
    kept = SOURCE_HEIGHT - cfg.crop_top - cfg.crop_bottom
    shape = tf.image.extract_jpeg_shape(data)
    window = tf.stack([cfg.crop_top, 0, kept, shape[1]])
    frame = tf.image.decode_and_crop_jpeg(data, window, channels=3,
                                          dct_method="INTEGER_ACCURATE")
    return tf.ensure_shape(frame, [kept, None, 3])


def preprocess_batch(frames: np.ndarray, spec: PreprocessingSpec) -> np.ndarray:
    """drive_agent preprocessing of a uint8 batch (N, H, W, 3) -> float32 (N, h, w, c)."""
    return np.stack([preprocess(frame, spec, dtype=np.float32) for frame in frames])


def _preprocess_batch_op(frames: tf.Tensor, cfg: TrainConfig) -> tf.Tensor:
    spec = preprocessing_spec(cfg)
    out = tf.numpy_function(lambda f: preprocess_batch(f, spec), [frames], tf.float32,
                            stateful=False)
    return tf.ensure_shape(out, [None, *cfg.input_shape])


def _batched(ds: tf.data.Dataset, cfg: TrainConfig, drop_remainder: bool) -> tf.data.Dataset:
    ds = ds.batch(cfg.batch_size, drop_remainder=drop_remainder,
                  num_parallel_calls=AUTOTUNE)
    ds = ds.map(lambda x, y: (_preprocess_batch_op(x, cfg), y), num_parallel_calls=AUTOTUNE)
    return ds.prefetch(AUTOTUNE)


def training_dataset(paths: np.ndarray, angles: np.ndarray, cfg: TrainConfig,
                     repeat: bool = True) -> tf.data.Dataset:
    """Shuffled, augmented, endlessly repeating (by default) batches of (images, angles)."""
    n = len(paths)
    samples = tf.data.Dataset.from_tensor_slices((np.asarray(paths, dtype=str),
                                                  np.asarray(angles, dtype=np.float32)))
    samples = samples.shuffle(n, seed=cfg.seed, reshuffle_each_iteration=True)
    if repeat:
        samples = samples.repeat()
    seeds = tf.data.Dataset.random(seed=cfg.seed).batch(2)
    shift_gain = float(cfg.shift_angle_per_px)

    def load(item: tuple[tf.Tensor, tf.Tensor], seed: tf.Tensor):
        path, angle = item
        frame = decode_cropped(path, cfg)
        params = augment.draw_params(cfg, seed)
        frame, angle = augment.apply(frame, angle, params, shift_gain)
        return frame, tf.reshape(angle, [1])

    ds = tf.data.Dataset.zip((samples, seeds)).map(load, num_parallel_calls=AUTOTUNE,
                                                    deterministic=False)
    return _batched(ds, cfg, drop_remainder=False)


def image_dataset(paths: np.ndarray, cfg: TrainConfig, mirror: bool = False) -> tf.data.Dataset:
    """Ordered, unaugmented preprocessed images (optionally mirrored) -- for features/predictions."""

    def load(path: tf.Tensor) -> tf.Tensor:
        frame = decode_cropped(path, cfg)
        return tf.reverse(frame, axis=[1]) if mirror else frame

    ds = tf.data.Dataset.from_tensor_slices(np.asarray(paths, dtype=str))
    ds = ds.map(load, num_parallel_calls=AUTOTUNE).batch(cfg.batch_size)
    ds = ds.map(lambda x: _preprocess_batch_op(x, cfg), num_parallel_calls=AUTOTUNE)
    return ds.prefetch(AUTOTUNE)


def validation_dataset(paths: np.ndarray, angles: np.ndarray,
                       cfg: TrainConfig) -> tf.data.Dataset:
    """Ordered, unaugmented batches of (images, angles) of the validation frames."""
    labels = tf.data.Dataset.from_tensor_slices(
        np.asarray(angles, dtype=np.float32).reshape(-1, 1)).batch(cfg.batch_size)
    return tf.data.Dataset.zip((image_dataset(paths, cfg), labels)).prefetch(AUTOTUNE)
