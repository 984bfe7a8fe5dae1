"""Benchmark of behavioural-cloning training on this machine (2 shared cores are the target).

Measures, each as the best of several runs (the cores are shared, so timings are noisy):
- model_images_per_s: PilotNet 66x200 training steps on in-memory tensors (the ceiling);
- pipeline_images_per_s: the same training fed by the real input pipeline in its steady state
  (later epochs: model-sized (cropped and resized) frames read from the decoded-frame cache,
  then augmentation and the colour conversion); pipeline_ratio = pipeline / model (target >= 0.9);
  uncached_pipeline_ratio: the same, decoding the JPEG files every epoch (the first epoch's
  cost without a cache); cache_mb_per_10k_frames: the cache's size on disk (MB = 10^6 bytes)
  per 10,000 camera frames; cache_build_frames_per_s: frames decoded into it per second;
- train_peak_rss_mb: peak RSS of a `python -m training.bc train` process on a 30,000-frame log
  (hard links to the real sample's JPEGs; a few hundred steps), target <= 3000;
- bottleneck_speedup: Inception-transfer epoch time without / with cached bottleneck features;
- model/pipeline CPU ms per image and cpu_bound_pipeline_ratio = model / (model + pipeline):
  the share of a CPU-bound box the model keeps when fed by the pipeline (robust to other load);
- load_avg: the machine's 1/5/15-minute load averages at the start and the end (shared cores).

Caches are written under a temporary PITLANE_FRAME_CACHE_DIR, removed at the end.

Ends with one line `RESULT {json}`. `--quick` uses fewer steps and a 6,000-frame log.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
REAL_SAMPLE = ROOT / ".." / "shared" / "data" / "udacity" / "real_sample"

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from training.bc import cache, data, models  # noqa: E402
from training.bc.config import TrainConfig  # noqa: E402


class _StepClock(keras.callbacks.Callback):
    """Times of the ends of training steps: rates over steady-state steps only.

    Timing the whole `fit` call would also count its exit, where Keras tears down the
    dataset iterator and sometimes waits about 2 s for it (once per training job; here it
    turned random runs into 58 % of the real rate, for the model and the pipeline alike).
    """

    def __init__(self):
        super().__init__()
        self.ends: list[float] = []

    def on_train_batch_end(self, batch, logs=None):
        self.ends.append(time.perf_counter())


def _fit_rate(model, dataset, steps: int, repeats: int, skip: int = 3) -> float:
    """Best images/s over `repeats` fits of `steps` batches (after one warm-up fit), timed
    from the end of step `skip` to the end of the last step (the pipeline is warm by then)."""
    model.fit(dataset, steps_per_epoch=3, epochs=1, verbose=0)
    best = 0.0
    for _ in range(repeats):
        clock = _StepClock()
        history = model.fit(dataset, steps_per_epoch=steps + skip, epochs=1, verbose=0,
                            callbacks=[clock])
        assert np.isfinite(history.history["loss"][-1])
        best = max(best, steps * BATCH / (clock.ends[-1] - clock.ends[skip - 1]))
    return best


BATCH = 64


def _bench_config() -> TrainConfig:
    return TrainConfig(batch_size=BATCH, side_cameras=True, shift_px=40, mirror=True,
                       brightness=0.3, shadow_probability=0.5)


def build_cache(split: data.SplitData, cfg: TrainConfig) -> dict[str, float]:
    """Build the sample's decoded-frame caches; their size per 10,000 frames and build rate."""
    start = time.perf_counter()
    source = cache.frames_for(split.train_paths, cfg)
    elapsed = time.perf_counter() - start
    if source is None:
        raise RuntimeError("no decoded-frame cache could be built")
    frames = sum(len(e.names) for e in source.entries)
    size = sum(path.stat().st_size for path in source.files)
    return {"cache_mb_per_10k_frames": size / frames * 10_000 / 1e6,
            "cache_build_frames_per_s": frames / elapsed, "cache_frames": frames}


def model_and_pipeline_rates(steps: int, repeats: int) -> tuple[float, float, float]:
    """Images/s of the model on in-memory tensors, fed by the cached pipeline (steady state:
    the cache exists) and fed by the uncached one (JPEGs decoded every epoch)."""
    cfg = _bench_config()
    split = data.prepare([REAL_SAMPLE], cfg)
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 255, size=(BATCH, *cfg.input_shape)).astype(np.float32)
    labels = rng.uniform(-1, 1, size=(BATCH, 1)).astype(np.float32)
    in_memory = tf.data.Dataset.from_tensors((images, labels)).repeat()
    cached = data.training_dataset(split.train_paths, split.train_angles, cfg)
    uncached = data.training_dataset(split.train_paths, split.train_angles, cfg,
                                     frame_cache=False)
    model_rate = cached_rate = uncached_rate = 0.0
    for _ in range(repeats):  # interleave them so background load hits all alike
        keras_model = models.compile_model(models.build_pilotnet(cfg), cfg)
        model_rate = max(model_rate, _fit_rate(keras_model, in_memory, steps, 1))
        keras_model = models.compile_model(models.build_pilotnet(cfg), cfg)
        cached_rate = max(cached_rate, _fit_rate(keras_model, cached, steps, 1))
        keras_model = models.compile_model(models.build_pilotnet(cfg), cfg)
        uncached_rate = max(uncached_rate, _fit_rate(keras_model, uncached, steps, 1))
    return model_rate, cached_rate, uncached_rate


def _pipeline_cpu_ms(dataset: tf.data.Dataset, steps: int) -> float:
    batches = iter(dataset)
    for _ in range(3):
        next(batches)
    start = time.process_time()
    for _ in range(steps):
        next(batches)
    return (time.process_time() - start) / (steps * BATCH) * 1000


def cpu_ms_per_image(steps: int) -> tuple[float, float, float]:
    """CPU milliseconds per image of a PilotNet training step and of the input pipeline alone
    (cached, then uncached).

    CPU time is far less disturbed by other users of shared cores than wall time; on a
    CPU-bound 2-core box the pipeline can keep up with a fraction model / (model + pipeline).
    """
    cfg = _bench_config()
    split = data.prepare([REAL_SAMPLE], cfg)
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 255, size=(BATCH, *cfg.input_shape)).astype(np.float32)
    labels = np.zeros((BATCH, 1), np.float32)
    keras_model = models.compile_model(models.build_pilotnet(cfg), cfg)
    in_memory = tf.data.Dataset.from_tensors((images, labels)).repeat()
    keras_model.fit(in_memory, steps_per_epoch=3, epochs=1, verbose=0)
    start = time.process_time()
    keras_model.fit(in_memory, steps_per_epoch=steps, epochs=1, verbose=0)
    model_ms = (time.process_time() - start) / (steps * BATCH) * 1000
    cached_ms = _pipeline_cpu_ms(
        data.training_dataset(split.train_paths, split.train_angles, cfg), steps)
    uncached_ms = _pipeline_cpu_ms(
        data.training_dataset(split.train_paths, split.train_angles, cfg, frame_cache=False), steps)
    return model_ms, cached_ms, uncached_ms


def make_big_log(target: Path, frames: int) -> Path:
    """A `frames`-row driving_log.csv of hard links (unique names) to the real sample's JPEGs."""
    source_rows = (REAL_SAMPLE / "driving_log.csv").read_text().splitlines()
    img = target / "IMG"
    img.mkdir(parents=True)
    lines = []
    for i in range(frames):
        cells = [c.strip() for c in source_rows[i % len(source_rows)].split(",")]
        for k, camera in enumerate(("center", "left", "right")):
            name = cells[k].replace("\\", "/").rsplit("/", 1)[-1]
            new_name = f"{camera}_{i:06d}.jpg"
            os.link(REAL_SAMPLE / "IMG" / name, img / new_name)
            cells[k] = f"C:\\rec\\IMG\\{new_name}"
        lines.append(", ".join(cells))
    (target / "driving_log.csv").write_text("\n".join(lines) + "\n")
    return target


def train_peak_rss_mb(frames: int, steps: int, workdir: Path) -> tuple[float, float]:
    """Peak RSS (MB) and wall time of a CLI training process on a `frames`-row log."""
    dataset = make_big_log(workdir / "big", frames)
    cfg = workdir / "cfg.json"
    cfg.write_text(json.dumps({"epochs": 1, "max_steps_per_epoch": steps, "batch_size": BATCH,
                               "side_cameras": True, "shift_px": 40, "saliency_samples": 2,
                               "saliency_gif_frames": 8}))
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "training.bc", "train", "--dataset",
                           str(dataset), "--config", str(cfg), "--out", str(workdir / "out")],
                          cwd=ROOT, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"training subprocess failed:\n{proc.stderr[-3000:]}")
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return peak_kb / 1024.0, elapsed


def bottleneck_speedup(workdir: Path, epochs: int, frames: int) -> dict[str, float]:
    """Epoch time of Inception transfer learning with and without cached bottleneck features
    (random-initialised Inception weights: the speed is the same, and nothing is downloaded)."""
    from training.bc.train import train

    dataset = make_big_log(workdir / "inception_log", frames)
    base = dict(architecture="inception_transfer", color_space="rgb", resize=[80, 200],
                inception_cut="mixed0", epochs=epochs, batch_size=32, mirror=True, patience=0,
                val_block_frames=20, saliency_samples=0, saliency_gif_frames=0, shift_px=0,
                brightness=0.0, shadow_probability=0.0)
    times = {}
    for cached in (True, False):
        cfg = TrainConfig.from_dict({**base, "use_bottleneck_cache": cached})
        start = time.perf_counter()
        result = train([dataset], cfg, workdir / f"incep_{cached}",
                       cache_dir=workdir / "cache")
        total = time.perf_counter() - start
        epoch_times = json.loads((result.out_dir / "history.json").read_text())["epoch_time_s"]
        times[cached] = (min(epoch_times), total - sum(epoch_times))
    return {"bottleneck_speedup": times[False][0] / times[True][0],
            "feature_cache_s": times[True][1] - times[False][1],
            "epoch_s_cached": times[True][0], "epoch_s_uncached": times[False][0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer steps, 6,000-frame log")
    args = parser.parse_args()
    steps, repeats = (25, 2) if args.quick else (40, 5)
    frames, rss_steps = (6000, 30) if args.quick else (30000, 100)
    load_start = os.getloadavg()

    with tempfile.TemporaryDirectory(prefix="bc_bench_") as tmp:
        workdir = Path(tmp)
        os.environ[cache.ENV_ROOT] = str(workdir / "frame_cache")  # the training job inherits it
        cfg = _bench_config()
        built = build_cache(data.prepare([REAL_SAMPLE], cfg), cfg)
        print(f"frame cache: {built['cache_mb_per_10k_frames']:.0f} MB per 10k frames, "
              f"{built['cache_build_frames_per_s']:.0f} frames/s to build", file=sys.stderr)
        model_rate, pipe_rate, uncached_rate = model_and_pipeline_rates(steps, repeats)
        print(f"model {model_rate:.0f} img/s, pipeline {pipe_rate:.0f} img/s cached, "
              f"{uncached_rate:.0f} img/s uncached", file=sys.stderr)
        model_ms, pipeline_ms, uncached_ms = cpu_ms_per_image(steps)
        print(f"CPU per image: model {model_ms:.2f} ms, pipeline {pipeline_ms:.2f} ms cached, "
              f"{uncached_ms:.2f} ms uncached", file=sys.stderr)
        peak_mb, rss_wall = train_peak_rss_mb(frames, rss_steps, workdir)
        print(f"peak RSS {peak_mb:.0f} MB on {frames} frames ({rss_wall:.0f} s, including "
              "building its frame cache)", file=sys.stderr)
        bottleneck = bottleneck_speedup(workdir, epochs=2 if args.quick else 3,
                                        frames=120 if args.quick else 480)
    result = {
        "model_images_per_s": round(model_rate, 1),
        "pipeline_images_per_s": round(pipe_rate, 1),
        "pipeline_ratio": round(pipe_rate / model_rate, 3),
        "uncached_pipeline_images_per_s": round(uncached_rate, 1),
        "uncached_pipeline_ratio": round(uncached_rate / model_rate, 3),
        "cache_mb_per_10k_frames": round(built["cache_mb_per_10k_frames"], 1),
        "cache_build_frames_per_s": round(built["cache_build_frames_per_s"], 1),
        "model_cpu_ms_per_image": round(model_ms, 3),
        "pipeline_cpu_ms_per_image": round(pipeline_ms, 3),
        "uncached_pipeline_cpu_ms_per_image": round(uncached_ms, 3),
        "cpu_bound_pipeline_ratio": round(model_ms / (model_ms + pipeline_ms), 3),
        "train_peak_rss_mb": round(peak_mb, 1),
        "train_log_frames": frames,
        "train_job_wall_s": round(rss_wall, 1),
        "bottleneck_speedup": round(bottleneck["bottleneck_speedup"], 2),
        "bottleneck_feature_cache_s": round(bottleneck["feature_cache_s"], 2),
        "bottleneck_epoch_s_cached": round(bottleneck["epoch_s_cached"], 2),
        "bottleneck_epoch_s_uncached": round(bottleneck["epoch_s_uncached"], 2),
        "load_avg_start": [round(x, 2) for x in load_start],
        "load_avg_end": [round(x, 2) for x in os.getloadavg()],
        "quick": args.quick,
        "timing": f"best of {repeats} runs on {os.cpu_count()} shared cores",
    }
    print("RESULT " + json.dumps(result))


if __name__ == "__main__":
    main()
