"""Training and validation input pipelines: JPEG files streamed from disk into model batches.

Only file paths and labels are held in memory. Each element is read and decoded by TensorFlow
(in parallel, only the rows the crop keeps); each batch is resized by drive_agent's own Pillow
resize (`drive_agent.preprocessing.resize`, inside `tf.numpy_function`), then augmented
(training only) and colour-converted by `tf_color` -- the TF twin of drive_agent's colour
conversion, tested equal within 1 grey level -- fused by XLA into one cheap pass. On 2 cores
this keeps the pipeline's CPU well below the model's, so the model is not starved.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from drive_agent.model_card import PreprocessingSpec
from drive_agent import preprocessing as dap
from workers.bc import augment, tf_color
from workers.bc.config import SOURCE_HEIGHT, TrainConfig
from workers.bc.dataset_index import (FrameIndex, camera_samples, concat, index_dataset,
                                      index_datasets, split_index)
from workers.bc.smoothing import smooth_steering
from workers.bc.split import block_split

AUTOTUNE = tf.data.AUTOTUNE

__all__ = [
    "FrameIndex", "SplitData", "index_dataset", "index_datasets", "concat", "split_index",
    "camera_samples", "smooth_steering", "block_split", "prepare", "preprocessing_spec",
    "decode_cropped", "resize_batch", "training_dataset", "validation_dataset",
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


def resize_batch(frames: np.ndarray, spec: PreprocessingSpec) -> np.ndarray:
    """drive_agent's crop and Pillow resize of a uint8 RGB batch (N, H, W, 3) -> (N, h, w, 3)."""
    height = frames.shape[1]
    cropped = frames[:, spec.crop_top:height - spec.crop_bottom]
    if spec.resize is None or cropped.shape[1:3] == tuple(spec.resize):
        return np.ascontiguousarray(cropped)
    if len(cropped) == 0:
        return np.zeros((0, *spec.resize, 3), np.uint8)
    return np.stack([dap.resize(frame, spec.resize) for frame in cropped])


def _resize_op(frames: tf.Tensor, cfg: TrainConfig) -> tf.Tensor:
    spec = preprocessing_spec(cfg)
    out = tf.numpy_function(lambda f: resize_batch(f, spec), [frames], tf.uint8, stateful=False)
    return tf.ensure_shape(out, [None, cfg.resize[0], cfg.resize[1], 3])


def image_dataset(paths: np.ndarray, cfg: TrainConfig, mirror: bool = False) -> tf.data.Dataset:
    """Ordered, unaugmented model inputs (optionally mirrored) -- for features and predictions."""

    @tf.function(jit_compile=True)
    def to_input(rgb: tf.Tensor) -> tf.Tensor:
        rgb = tf.reverse(rgb, axis=[2]) if mirror else rgb
        return tf_color.convert_color(rgb, cfg.color_space)

    ds = tf.data.Dataset.from_tensor_slices(np.asarray(paths, dtype=str))
    ds = ds.map(lambda path: decode_cropped(path, cfg), num_parallel_calls=AUTOTUNE)
    ds = ds.batch(cfg.batch_size).map(lambda x: to_input(_resize_op(x, cfg)),
                                      num_parallel_calls=AUTOTUNE)
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
    samples = samples.map(lambda path, angle: (decode_cropped(path, cfg), tf.reshape(angle, [1])),
                          num_parallel_calls=AUTOTUNE, deterministic=False)
    batches = samples.batch(cfg.batch_size, num_parallel_calls=AUTOTUNE)
    batches = batches.map(lambda x, y: (_resize_op(x, cfg), y), num_parallel_calls=AUTOTUNE,
                          deterministic=False)
    seeds = tf.data.Dataset.random(seed=cfg.seed).batch(2)
    per_px = augment.angle_per_model_px(cfg)

    @tf.function(jit_compile=True)
    def augment_batch(rgb: tf.Tensor, labels: tf.Tensor, params: augment.AugmentParams):
        rgb, labels = augment.apply(rgb, labels, params, per_px)
        return tf_color.convert_color(rgb, cfg.color_space), labels

    def draw_and_augment(batch: tuple[tf.Tensor, tf.Tensor], seed: tf.Tensor):
        # Random draws stay outside XLA: compiled stateless RNG costs more than all the rest.
        params = augment.draw_params(cfg, seed, tf.shape(batch[0])[0])
        return augment_batch(batch[0], batch[1], params)

    batches = tf.data.Dataset.zip((batches, seeds)).map(draw_and_augment,
                                                         num_parallel_calls=AUTOTUNE)
    return batches.prefetch(AUTOTUNE)


def validation_dataset(paths: np.ndarray, angles: np.ndarray,
                       cfg: TrainConfig) -> tf.data.Dataset:
    """Ordered, unaugmented batches of (images, angles) of the validation frames."""
    labels = tf.data.Dataset.from_tensor_slices(
        np.asarray(angles, dtype=np.float32).reshape(-1, 1)).batch(cfg.batch_size)
    return tf.data.Dataset.zip((image_dataset(paths, cfg), labels)).prefetch(AUTOTUNE)
