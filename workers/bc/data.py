"""Training and validation input pipelines: JPEG files streamed from disk into model batches.

Only file paths and labels are held in memory. Each element is read and decoded by TensorFlow
(in parallel, only the rows the crop keeps); each batch is then resized, augmented (training
only) and colour-converted in one XLA-compiled function. Resize and colour conversion are TF
twins of `drive_agent.preprocessing` (the one implementation the car runs): `tf_resize` is
Pillow's bilinear algorithm bit for bit, `tf_color` the same BT.601 formulas; tests check the
pipeline against drive_agent on every real sample frame (within 1 grey level). Calling Pillow
through `tf.numpy_function` instead costs a third of the CPU PilotNet needs on 2 cores.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from drive_agent.model_card import PreprocessingSpec
from workers.bc import augment, tf_color, tf_resize
from workers.bc.config import SOURCE_HEIGHT, SOURCE_WIDTH, TrainConfig
from workers.bc.dataset_index import (FrameIndex, camera_samples, concat, index_dataset,
                                      index_datasets, split_index)
from workers.bc.smoothing import smooth_steering
from workers.bc.split import block_split

AUTOTUNE = tf.data.AUTOTUNE

#: Threads of the input pipeline. One is enough (about 0.45 ms of CPU per frame, over 2,000
#: frames/s) and it matters: more pipeline threads than spare cores preempt the model's own
#: thread team mid-step, and on 2 cores that cost a third of the training throughput.
PIPELINE_THREADS = 1


def _own_threads(ds: tf.data.Dataset) -> tf.data.Dataset:
    options = tf.data.Options()
    options.threading.private_threadpool_size = PIPELINE_THREADS
    options.threading.max_intra_op_parallelism = 1
    return ds.with_options(options)

__all__ = [
    "FrameIndex", "SplitData", "index_dataset", "index_datasets", "concat", "split_index",
    "camera_samples", "smooth_steering", "block_split", "prepare", "preprocessing_spec",
    "decode_cropped", "training_dataset", "validation_dataset",
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


def preprocessing_spec(cfg: TrainConfig) -> PreprocessingSpec:
    """drive_agent's spec of this configuration (what the model card will say)."""
    return PreprocessingSpec(crop_top=cfg.crop_top, crop_bottom=cfg.crop_bottom,
                             resize=tuple(cfg.resize), color_space=cfg.color_space,
                             scale="none")


def decode_cropped(path: tf.Tensor, cfg: TrainConfig) -> tf.Tensor:
    """Read one JPEG and decode only rows crop_top .. height-crop_bottom (uint8 RGB)."""
    data = tf.io.read_file(path)
    kept = SOURCE_HEIGHT - cfg.crop_top - cfg.crop_bottom
    shape = tf.image.extract_jpeg_shape(data)
    window = tf.stack([cfg.crop_top, 0, kept, shape[1]])
    frame = tf.image.decode_and_crop_jpeg(data, window, channels=3,
                                          dct_method="INTEGER_ACCURATE")
    # The model card promises 320x160 camera frames; a static shape lets XLA fuse the resize.
    return tf.ensure_shape(frame, [kept, SOURCE_WIDTH, 3])


@functools.lru_cache(maxsize=32)
def _inference_fn(resize: tuple[int, int], color_space: str, mirror: bool):
    """Compiled cropped frames -> model inputs; cached so each shape compiles once per process."""

    @tf.function(jit_compile=True)
    def preprocess(frames: tf.Tensor) -> tf.Tensor:
        inputs = tf_color.convert_color(tf_resize.resize_like_pillow(frames, resize), color_space)
        return tf.reverse(inputs, axis=[2]) if mirror else inputs

    return preprocess


@functools.lru_cache(maxsize=32)
def _training_fn(resize: tuple[int, int], color_space: str, angle_per_px: float):
    """Compiled move -> resize -> light -> colour of a training batch (cached like above)."""

    @tf.function(jit_compile=True)
    def preprocess_and_augment(frames: tf.Tensor, labels: tf.Tensor,
                               params: augment.AugmentParams):
        frames, labels = augment.move(frames, labels, params, angle_per_px)
        rgb = augment.light(tf_resize.resize_like_pillow(frames, resize), params)
        return tf_color.convert_color(rgb, color_space), labels

    return preprocess_and_augment


def image_dataset(paths: np.ndarray, cfg: TrainConfig, mirror: bool = False) -> tf.data.Dataset:
    """Ordered, unaugmented model inputs (optionally mirrored) -- for features and predictions."""
    preprocess = _inference_fn(tuple(cfg.resize), cfg.color_space, mirror)
    ds = tf.data.Dataset.from_tensor_slices(np.asarray(paths, dtype=str))
    ds = ds.map(lambda path: decode_cropped(path, cfg), num_parallel_calls=AUTOTUNE)
    ds = ds.batch(cfg.batch_size).map(preprocess, num_parallel_calls=AUTOTUNE)
    return _own_threads(ds.prefetch(AUTOTUNE))


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
    seeds = tf.data.Dataset.random(seed=cfg.seed).batch(2)
    preprocess_and_augment = _training_fn(tuple(cfg.resize), cfg.color_space,
                                          float(cfg.shift_angle_per_px))

    def draw_and_apply(batch: tuple[tf.Tensor, tf.Tensor], seed: tf.Tensor):
        # Random draws stay outside XLA: compiled stateless RNG costs more than all the rest.
        params = augment.draw_params(cfg, seed, tf.shape(batch[0])[0])
        return preprocess_and_augment(batch[0], batch[1], params)

    batches = tf.data.Dataset.zip((batches, seeds)).map(draw_and_apply,
                                                         num_parallel_calls=AUTOTUNE)
    return _own_threads(batches.prefetch(AUTOTUNE))


def validation_dataset(paths: np.ndarray, angles: np.ndarray,
                       cfg: TrainConfig) -> tf.data.Dataset:
    """Ordered, unaugmented batches of (images, angles) of the validation frames."""
    labels = tf.data.Dataset.from_tensor_slices(
        np.asarray(angles, dtype=np.float32).reshape(-1, 1)).batch(cfg.batch_size)
    pairs = tf.data.Dataset.zip((image_dataset(paths, cfg), labels))
    return _own_threads(pairs.prefetch(AUTOTUNE))
