"""The decoded-frame cache (training.bc.cache) and the pipelines that read it (training.bc.data).

Datasets here are hard-link copies of the real sample (tests/bc/helpers.make_dataset), so the
cache may be written next to them; tests/bc/conftest.py points every other cache at a temporary
root.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import numpy as np
import pytest

from tests.bc.helpers import make_dataset, tiny_config


def _augmenting_config(**overrides):
    return tiny_config(side_cameras=True, shift_px=30, mirror=True, brightness=0.3,
                       shadow_probability=0.5, batch_size=16, **overrides)


@pytest.fixture
def dataset(real_sample, tmp_path) -> Path:
    # Relative image paths: the images this dataset names are its own (hard links), so a cache "in the
    # dataset's folder" is under tmp_path, never in the shared sample (absolute paths resolved there).
    return make_dataset(tmp_path / "rec", real_sample, rows=40, relative=True)


@pytest.fixture
def in_dataset(monkeypatch, real_sample):
    """Caches in their default place: inside each dataset's folder (and never in the shared sample)."""
    monkeypatch.delenv("PITLANE_FRAME_CACHE_DIR", raising=False)
    monkeypatch.delenv("PITLANE_FRAME_CACHE", raising=False)
    yield
    assert not (real_sample / ".frame_cache").exists(), "a test wrote a frame cache into the shared sample"


def _split(dataset: Path, cfg):
    from training.bc import data

    return data.prepare([dataset], cfg)


def _batches(ds, count: int) -> list[tuple[np.ndarray, np.ndarray]]:
    out = []
    for images, labels in ds.take(count):
        out.append((images.numpy(), labels.numpy()))
    return out


def test_cached_and_uncached_training_batches_agree(dataset, in_dataset):
    """Same seed, same shuffled and augmented batches, whether frames come from JPEGs or the cache."""
    from training.bc import data

    cfg = _augmenting_config()
    split = _split(dataset, cfg)
    uncached = _batches(data.training_dataset(split.train_paths, split.train_angles, cfg,
                                              frame_cache=False), 5)
    cached = _batches(data.training_dataset(split.train_paths, split.train_angles, cfg), 5)
    assert list((dataset / ".frame_cache").glob("*.npy")), "the cached pipeline built no cache"
    for (img_u, lab_u), (img_c, lab_c) in zip(uncached, cached, strict=True):
        assert img_u.shape == img_c.shape == (16, *cfg.input_shape)
        np.testing.assert_array_equal(lab_u, lab_c)
        assert np.max(np.abs(img_u - img_c)) <= 1.0  # within 1 grey level (in fact identical)


def test_cache_holds_the_cropped_resized_frames(dataset, in_dataset):
    """Model-sized frames: drive_agent's crop + Pillow resize of the decoded JPEG, bit for bit."""
    import tensorflow as tf

    from drive_agent.preprocessing import resize
    from training.bc import cache, data

    cfg = tiny_config(crop_top=50, crop_bottom=20, resize=(70, 180))
    split = _split(dataset, cfg)
    source = cache.frames_for(split.train_paths, cfg)
    assert source is not None and len(source) == len(split.train_paths)
    picks = np.array([0, 7, len(split.train_paths) - 1])
    frames = source.gather(picks)
    assert frames.dtype == np.uint8 and frames.shape == (3, 70, 180, 3)
    for frame, i in zip(frames, picks, strict=True):
        cropped = data.decode_cropped(tf.constant(split.train_paths[i]), cfg).numpy()
        assert cropped.shape == (90, 320, 3)
        np.testing.assert_array_equal(frame, resize(cropped, (70, 180)))
    # A plain .npy: NumPy memory-maps it, frames in driving-log order.
    [npy] = (dataset / ".frame_cache").glob("center_*.npy")
    mapped = np.load(npy, mmap_mode="r")
    assert isinstance(mapped, np.memmap) and mapped.shape[1:] == (70, 180, 3)
    names = json.loads(npy.with_suffix(".json").read_text())["names"]
    assert len(names) == mapped.shape[0] == 40
    first = data.decode_cropped(tf.constant(str(dataset / "IMG" / names[0])), cfg).numpy()
    np.testing.assert_array_equal(mapped[0], resize(first, (70, 180)))
    assert cache.bytes_per_frame(cfg) == 70 * 180 * 3


def test_later_epochs_read_no_jpeg(dataset, in_dataset):
    """Once built, the training pipeline never opens an image file: they can even be gone."""
    from training.bc import data

    cfg = _augmenting_config()
    split = _split(dataset, cfg)
    ds = data.training_dataset(split.train_paths, split.train_angles, cfg)
    for jpeg in (dataset / "IMG").iterdir():
        jpeg.unlink()
    steps = int(np.ceil(len(split.train_paths) / cfg.batch_size)) * 2  # two epochs
    seen = sum(len(labels) for _, labels in ds.take(steps).as_numpy_iterator())
    assert seen == steps * cfg.batch_size


def test_built_once_and_reused_by_a_second_run(dataset, in_dataset, monkeypatch):
    from training.bc import cache

    cfg = tiny_config(side_cameras=True)
    split = _split(dataset, cfg)
    builds = []
    real_decode = cache._decode_into
    monkeypatch.setattr(cache, "_decode_into",
                        lambda tmp, paths, c: (builds.append(len(paths)), real_decode(tmp, paths, c)))
    results = []

    def run():
        results.append(cache.frames_for(split.train_paths, cfg))

    threads = [threading.Thread(target=run) for _ in range(3)]  # three jobs at once
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert builds == [40, 40, 40]  # one build per camera, not per job
    assert all(r is not None for r in results)
    assert cache.frames_for(split.train_paths, cfg) is not None
    assert len(builds) == 3
    assert not list((dataset / ".frame_cache").glob("*.tmp*"))


def test_crop_or_resize_change_and_changed_images_invalidate(dataset, in_dataset):
    from training.bc import cache

    folder = dataset / ".frame_cache"
    base = tiny_config()
    paths = _split(dataset, base).train_paths
    first = cache.frames_for(paths, base).files[0]
    # Another colour space shares the cache; another resize does not.
    assert cache.frames_for(paths, tiny_config(color_space="rgb"), build=False).files[0] == first
    assert cache.frames_for(paths, tiny_config(resize=(66, 220)), build=False) is None
    other_crop = cache.frames_for(paths, tiny_config(crop_top=40)).files[0]
    assert other_crop != first and first.is_file()  # two crop variants are kept
    third = cache.frames_for(paths, tiny_config(crop_top=30)).files[0]
    assert sorted(folder.glob("center_*.npy")) == sorted([other_crop, third])  # bounded: 2 kept
    # An image file replaced under the same name: the old cache is stale and goes.
    image = dataset / "IMG" / json.loads(third.with_suffix(".json").read_text())["names"][3]
    os.utime(image, ns=(image.stat().st_atime_ns, image.stat().st_mtime_ns + 10**9))
    rebuilt = cache.frames_for(paths, tiny_config(crop_top=30)).files[0]
    assert rebuilt != third and not third.exists()
    assert rebuilt.is_file() and other_crop.is_file()


def test_caches_of_an_older_format_are_deleted_by_the_next_build(dataset, in_dataset):
    """Version 1 cached full-width cropped frames; no run can read them, so they do not wait
    their turn among the variants kept."""
    from training.bc import cache

    folder = dataset / ".frame_cache"
    folder.mkdir()
    old = dict(cache.decoder_key(tiny_config()), format=1)
    del old["resize"]
    (folder / "center_0ld.npy").write_bytes(b"\x93NUMPY")
    (folder / "center_0ld.json").write_text(json.dumps({"decoder": old, "names": []}))
    cfg = tiny_config()
    source = cache.frames_for(_split(dataset, cfg).train_paths, cfg)
    assert sorted(folder.glob("center_*.npy")) == source.files
    assert not (folder / "center_0ld.json").exists()


def test_derived_folders_share_their_datasets_cache(dataset, in_dataset, tmp_path):
    """The web app's recovery-mode folders (own log, IMG symlinked) reuse the dataset's cache."""
    from training.bc import cache

    cfg = tiny_config()
    cache.frames_for(_split(dataset, cfg).train_paths, cfg)
    built = sorted((dataset / ".frame_cache").glob("*.npy"))
    derived = tmp_path / "derived"
    derived.mkdir()
    lines = (dataset / "driving_log.csv").read_text().splitlines()
    (derived / "driving_log.csv").write_text("\n".join(lines[5:25]) + "\n")
    (derived / "IMG").symlink_to(dataset / "IMG", target_is_directory=True)
    source = cache.frames_for(_split(derived, cfg.replace(val_block_frames=5)).train_paths, cfg,
                              build=False)
    assert source is not None and source.files == built
    assert not (derived / ".frame_cache").exists()
    cache.clear(dataset)
    assert not (dataset / ".frame_cache").exists()


def test_validation_never_builds_a_cache(dataset, in_dataset):
    from training.bc import data

    cfg = tiny_config()
    split = _split(dataset, cfg)
    batches = list(data.validation_dataset(split.val_paths, split.val_angles, cfg).as_numpy_iterator())
    assert sum(len(y) for _, y in batches) == len(split.val_paths)
    assert not (dataset / ".frame_cache").exists()


def test_validation_reads_the_cache(dataset, in_dataset):
    from training.bc import data

    cfg = tiny_config()
    split = _split(dataset, cfg)
    plain = np.concatenate([x for x, _ in data.validation_dataset(
        split.val_paths, split.val_angles, cfg, frame_cache=False).as_numpy_iterator()])
    data.training_dataset(split.train_paths, split.train_angles, cfg)
    source = data.cache.frames_for(split.val_paths, cfg, build=False)
    assert source is not None
    cached = np.concatenate([x for x, _ in data.validation_dataset(
        split.val_paths, split.val_angles, cfg).as_numpy_iterator()])
    np.testing.assert_array_equal(plain, cached)


def test_no_room_or_switched_off_falls_back_to_decoding(dataset, in_dataset, monkeypatch):
    from training.bc import cache, data

    cfg = tiny_config()
    split = _split(dataset, cfg)
    monkeypatch.setattr(cache, "FREE_SPACE_RESERVE", 1 << 60)
    assert cache.frames_for(split.train_paths, cfg) is None
    monkeypatch.undo()
    monkeypatch.delenv("PITLANE_FRAME_CACHE_DIR", raising=False)
    monkeypatch.setenv("PITLANE_FRAME_CACHE", "off")
    assert cache.frames_for(split.train_paths, cfg) is None
    images, labels = next(iter(data.training_dataset(split.train_paths, split.train_angles, cfg)))
    assert images.shape[0] == labels.shape[0] == cfg.batch_size
    assert not list((dataset / ".frame_cache").glob("*.npy"))


def test_cache_root_setting_moves_caches(dataset, in_dataset, monkeypatch, tmp_path):
    from training.bc import cache

    root = tmp_path / "root"
    monkeypatch.setenv("PITLANE_FRAME_CACHE_DIR", str(root))
    cfg = tiny_config()
    source = cache.frames_for(_split(dataset, cfg).train_paths, cfg)
    assert source is not None and all(root in f.parents for f in source.files)
    assert not (dataset / ".frame_cache").exists()
    sizes = [f.stat().st_size for f in source.files]
    assert all(40 * cache.bytes_per_frame(cfg) < size < 40 * cache.bytes_per_frame(cfg) + 4096
               for size in sizes)
    assert cache.cache_bytes(source.files[0].parent) == sum(sizes)
