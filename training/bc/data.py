"""Training and validation input pipelines: JPEG files streamed from disk into model batches.

Only file paths and labels are held in memory. Each tf.data element is a batch. Its frames are
*model-sized*: cropped and resized to the network's input size, uint8 RGB, exactly what
`drive_agent.preprocessing` makes of a camera frame before its colour conversion. They come
from the decoded-frame cache (`training.bc.cache`, which holds them) or, without one, from the
JPEGs: read and decoded by TensorFlow (only the rows the crop keeps) and resized by one
XLA-compiled function (`resized_frames`; the cache is built by the same function). Then one more
XLA function augments them (training only: mirror and shift, brightness and shadow;
`training.bc.augment`) and converts the colour, on one pipeline thread running at a lower
priority than the model's (see PIPELINE_NICE). Cached and uncached batches are therefore identical (tested).

Resize and colour conversion are TF twins of `drive_agent.preprocessing` (the one implementation
the car runs): `tf_resize` is Pillow's bilinear algorithm bit for bit, `tf_color` the same BT.601
formulas; tests check the pipeline against drive_agent on every real sample frame (within 1 grey
level). Calling Pillow through `tf.numpy_function` instead costs a third of the CPU PilotNet
needs on 2 cores. Validation and prediction batches use a cache when one exists; where no cache
can be had (caching off, no room, a folder without a driving_log.csv) the JPEGs are decoded and
resized every epoch.
"""

from __future__ import annotations

import functools
import os
import sys
import threading
from dataclasses import dataclass

import numpy as np
import tensorflow as tf
from tensorflow.compiler.tf2xla.python import xla

from drive_agent.model_card import PreprocessingSpec
from training.bc import augment, cache, tf_color, tf_resize
from training.bc.config import SOURCE_HEIGHT, SOURCE_WIDTH, TrainConfig
from training.bc.dataset_index import FrameIndex, camera_samples, concat, index_dataset, index_datasets, split_index
from training.bc.smoothing import smooth_steering
from training.bc.split import block_split

AUTOTUNE = tf.data.AUTOTUNE

#: Threads of the input pipeline. One is enough (from the cache about 0.05 ms of CPU per frame,
#: decoding JPEGs about 0.4 ms, over 2,000 frames/s) and it matters: more pipeline threads
#: than spare cores preempt the model's own thread team mid-step, and on 2 cores that cost a
#: third of the training throughput.
PIPELINE_THREADS = 1

#: Nice value of the pipeline's thread (Linux; per thread). Lower priority lets the kernel
#: run the pipeline in the gaps of the model's thread team instead of preempting it mid-step,
#: while the prefetch buffer keeps the model fed: measured on 2 cores, 0.81 -> 0.85 of the
#: in-memory training rate. 10 rather than 19 so that other load cannot starve it.
PIPELINE_NICE = 10


def _own_threads(ds: tf.data.Dataset) -> tf.data.Dataset:
    options = tf.data.Options()
    options.threading.private_threadpool_size = PIPELINE_THREADS
    options.threading.max_intra_op_parallelism = 1
    return ds.with_options(options)


def _lower_thread_priority() -> np.int64:
    """Give the calling (tf.data) thread nice PIPELINE_NICE; no-op where threads have no nice."""
    if sys.platform.startswith("linux"):
        try:
            tid = threading.get_native_id()
            if os.getpriority(os.PRIO_PROCESS, tid) < PIPELINE_NICE:
                os.setpriority(os.PRIO_PROCESS, tid, PIPELINE_NICE)
        except OSError:  # not permitted in some sandboxes: run at normal priority
            pass
    return np.int64(0)


def _at_pipeline_priority(paths: tf.Tensor) -> tf.Tensor:
    """`paths`, once the thread about to decode them runs at the pipeline's priority."""
    done = tf.numpy_function(_lower_thread_priority, [], tf.int64, stateful=True)
    with tf.control_dependencies([done]):
        return tf.identity(paths)


__all__ = [
    "FrameIndex", "SplitData", "index_dataset", "index_datasets", "concat", "split_index",
    "camera_samples", "smooth_steering", "block_split", "prepare", "preprocessing_spec",
    "decode_cropped", "decode_batch", "resized_frames", "training_dataset", "validation_dataset",
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
                             resize=(int(cfg.resize[0]), int(cfg.resize[1])), color_space=cfg.color_space,
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


def decode_batch(paths: tf.Tensor, cfg: TrainConfig) -> tf.Tensor:
    """`decode_cropped` over a (B,) batch of paths -> uint8 (B, kept rows, width, 3).

    One tf.data element per batch rather than per frame: per-element map-and-batch costs
    about 45 us of CPU per frame more, a fifth of the whole pipeline.
    """
    kept = SOURCE_HEIGHT - cfg.crop_top - cfg.crop_bottom
    return tf.map_fn(lambda path: decode_cropped(path, cfg), paths,
                     fn_output_signature=tf.TensorSpec([kept, SOURCE_WIDTH, 3], tf.uint8))


def _materialise(x: tf.Tensor) -> tf.Tensor:
    """`x`, computed once into a buffer of its own (inside XLA-compiled functions only).

    Without it XLA fuses each stage into its consumer and recomputes it per use: the colour
    conversion reads every RGB channel several times (Y for U and V, then the stack), so the
    stages before it (moving, lighting) would run about 4 times per pixel.
    """
    return xla.optimization_barrier(x)[0]


@functools.lru_cache(maxsize=32)
def _resize_fn(resize: tuple[int, int]):
    """Compiled cropped camera frames -> uint8 model-sized frames (cached per shape)."""

    @tf.function(jit_compile=True)
    def resize_frames(frames: tf.Tensor) -> tf.Tensor:
        return tf.cast(tf_resize.resize_like_pillow(frames, resize), tf.uint8)

    return resize_frames


def resized_frames(paths: tf.Tensor, cfg: TrainConfig) -> tf.Tensor:
    """A (B,) batch of JPEG paths -> uint8 (B, height, width, 3): cropped and resized to
    `cfg.resize` (Pillow's bilinear values), what the decoded-frame cache holds."""
    return _resize_fn(tuple(cfg.resize))(decode_batch(paths, cfg))


@functools.lru_cache(maxsize=32)
def _inference_fn(color_space: str, mirror: bool):
    """Compiled model-sized frames -> model inputs; cached so each shape compiles once."""

    @tf.function(jit_compile=True)
    def preprocess(frames: tf.Tensor) -> tf.Tensor:
        inputs = tf_color.convert_color(frames, color_space)
        return tf.reverse(inputs, axis=[2]) if mirror else inputs

    return preprocess


@functools.lru_cache(maxsize=32)
def _training_fn(color_space: str, angle_per_px: float, max_shift: int):
    """Compiled move -> light -> colour of a batch of model-sized frames (cached like above)."""

    @tf.function(jit_compile=True)
    def augment_and_convert(frames: tf.Tensor, labels: tf.Tensor,
                            params: augment.AugmentParams):
        moved, labels = augment.move(frames, labels, params, angle_per_px, max_shift)
        rgb = _materialise(augment.light(moved, params))
        return tf_color.convert_color(rgb, color_space), labels

    return augment_and_convert


def _frame_source(paths: np.ndarray, cfg: TrainConfig, frame_cache: bool,
                  build: bool) -> cache.FrameSource | None:
    return cache.frames_for(paths, cfg, build=build) if frame_cache else None


def _model_frames(source: cache.FrameSource | None, keys: tf.Tensor,
                  cfg: TrainConfig) -> tf.Tensor:
    """uint8 model-sized frames of a batch of keys: cache rows when `source`, else JPEG paths."""
    return resized_frames(keys, cfg) if source is None else source.tf_gather(keys)


def _keys(paths: np.ndarray, source: cache.FrameSource | None) -> np.ndarray:
    """What a pipeline's elements carry: path numbers into `source`, or the paths themselves."""
    return np.arange(len(paths), dtype=np.int64) if source is not None else np.asarray(paths, dtype=str)


def image_dataset(paths: np.ndarray, cfg: TrainConfig, mirror: bool = False,
                  frame_cache: bool = True) -> tf.data.Dataset:
    """Ordered, unaugmented model inputs (optionally mirrored) -- for features and predictions.
    Reads the decoded-frame cache where one exists (never builds one)."""
    preprocess = _inference_fn(cfg.color_space, mirror)
    source = _frame_source(paths, cfg, frame_cache, build=False)
    ds = tf.data.Dataset.from_tensor_slices(_keys(paths, source)).batch(cfg.batch_size)
    ds = ds.map(lambda batch: preprocess(_model_frames(source, batch, cfg)),
                num_parallel_calls=AUTOTUNE)
    return _own_threads(ds.prefetch(AUTOTUNE))


def training_dataset(paths: np.ndarray, angles: np.ndarray, cfg: TrainConfig,
                     repeat: bool = True, frame_cache: bool = True) -> tf.data.Dataset:
    """Shuffled, augmented, endlessly repeating (by default) batches of (images, angles).

    With `frame_cache` the recordings' decoded-frame caches (model-sized frames) are built
    first where missing (one decoding and resizing pass), and batches read them; the shuffle,
    the augmentation draws and the result are the same as without.
    """
    n = len(paths)
    source = _frame_source(paths, cfg, frame_cache, build=True)
    samples = tf.data.Dataset.from_tensor_slices((_keys(paths, source),
                                                  np.asarray(angles, dtype=np.float32)))
    samples = samples.shuffle(n, seed=cfg.seed, reshuffle_each_iteration=True)
    if repeat:
        samples = samples.repeat()
    batches = samples.batch(cfg.batch_size)
    seeds = tf.data.Dataset.random(seed=cfg.seed).batch(2)
    augment_and_convert = _training_fn(cfg.color_space, augment.angle_per_model_px(cfg),
                                       augment.shift_limit(cfg))

    def draw_and_apply(batch: tuple[tf.Tensor, tf.Tensor], seed: tf.Tensor):
        frames = _model_frames(source, _at_pipeline_priority(batch[0]), cfg)
        # Random draws stay outside XLA: compiled stateless RNG costs more than all the rest.
        params = augment.draw_params(cfg, seed, tf.shape(frames)[0])
        return augment_and_convert(frames, tf.reshape(batch[1], [-1, 1]), params)

    batches = tf.data.Dataset.zip((batches, seeds)).map(draw_and_apply,
                                                         num_parallel_calls=AUTOTUNE)
    return _own_threads(batches.prefetch(AUTOTUNE))


def validation_dataset(paths: np.ndarray, angles: np.ndarray,
                       cfg: TrainConfig, frame_cache: bool = True) -> tf.data.Dataset:
    """Ordered, unaugmented batches of (images, angles) of the validation frames."""
    labels = tf.data.Dataset.from_tensor_slices(
        np.asarray(angles, dtype=np.float32).reshape(-1, 1)).batch(cfg.batch_size)
    pairs = tf.data.Dataset.zip((image_dataset(paths, cfg, frame_cache=frame_cache), labels))
    return _own_threads(pairs.prefetch(AUTOTUNE))
