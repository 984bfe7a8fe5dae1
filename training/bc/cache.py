"""Decoded-frame cache: each recording's camera frames, decoded and resized once, kept on disk.

JPEG decoding is most of the input pipeline's CPU, and on 2 cores a model that already uses both
cannot hide it (issue 13: 0.65-0.73 of the in-memory training rate). So the first use of a
recording decodes every frame of each camera it needs once, and later epochs (and later runs)
read the decoded bytes back.

What is cached: the *model-sized frames* -- cropped (rows crop_top .. height-crop_bottom), then
resized to the network's input size (`cfg.resize`) by `data.resized_frames`, uint8 RGB: for an
unaugmented frame the exact values `drive_agent.preprocessing` computes before its colour
conversion (its resize twin is Pillow's, bit for bit). Every epoch's remaining work is then small
(augmentation as a column gather and a gain, the colour conversion) and, on 2 cores, taken
from the model's CPU as little as possible; the augmentation is defined on these frames (shift
in model pixels, mirror exact; `training.bc.augment`). The crop, the resize and the decoder key
the cache, so changing any of them gives a new file; colour space and augmentation settings
share one. Size: 66 x 200 x 3 bytes a frame with the default configuration, 396 MB per 10,000
frames (`bytes_per_frame`; a cache of full-width cropped frames was 720 MB).

Layout: one `.npy` file per (dataset, camera, key), shape (frames, height, width, 3) uint8, in
`<dataset>/.frame_cache/` -- the folder that really holds the images (symlinked image folders,
such as the web app's derived recovery-mode folders, share their dataset's cache), so deleting a
dataset deletes its cache. PITLANE_FRAME_CACHE_DIR moves every cache under one root instead (one
sub-folder per dataset path); PITLANE_FRAME_CACHE=0 turns caching off. Each `.npy` has a `.json`
beside it naming its frames in order; the key is a hash of the crop, the resize, the decoder and
every frame's (name, size, mtime), so a changed crop, resize or image file gives a new file. A
cache covers all rows of the camera in the dataset's driving_log.csv, whichever rows a run
samples (split, thinning, recovery mode), so they all share it.

Building is atomic and done once: under an exclusive file lock per (dataset, camera) the frames
are decoded and resized by TensorFlow into a temporary file that is renamed into place, and the
`.json` (written last) marks it complete; a second job waits on the lock and then reuses the
file. Bounded: at most KEEP_VARIANTS keys (crop/resize variants) per (dataset, camera) are kept
(least recently used go first), and a build that would leave less than FREE_SPACE_RESERVE free
on the disk is skipped (the pipeline then decodes and resizes JPEGs every epoch).

Reading uses positional reads (`os.preadv`) into the batch buffer rather than a NumPy memmap:
the same bytes, but they stay in the kernel's page cache, shared and evictable, instead of
growing the training process's resident set by the whole cache over an epoch. The file is a
plain `.npy`, so `np.load(path, mmap_mode="r")` opens it for inspection.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import shutil
import time
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from training.bc.config import SOURCE_HEIGHT, SOURCE_WIDTH, TrainConfig

log = logging.getLogger(__name__)

#: Folder of a dataset's caches, beside its driving_log.csv and IMG/.
DIR_NAME = ".frame_cache"
#: Environment: a root folder for all caches (instead of inside each dataset).
ENV_ROOT = "PITLANE_FRAME_CACHE_DIR"
#: Environment: "0", "off", "false" or "no" disable the cache.
ENV_ENABLED = "PITLANE_FRAME_CACHE"
#: Caches (crop/resize variants) kept per dataset and camera; older ones are deleted on a new build.
KEEP_VARIANTS = 2
#: Disk space a build must leave free.
FREE_SPACE_RESERVE = 1 << 30
#: Bump when the file layout, the decoding or the resize changes.
FORMAT_VERSION = 2
CAMERAS = ("center", "left", "right")
#: Frames decoded per tf.data element while building.
BUILD_BATCH = 64


def enabled() -> bool:
    return os.environ.get(ENV_ENABLED, "1").strip().lower() not in ("0", "off", "false", "no")


def frame_shape(cfg: TrainConfig) -> tuple[int, int, int]:
    """(rows, width, channels) of one cached frame: the model's input size, RGB."""
    return int(cfg.resize[0]), int(cfg.resize[1]), 3


def bytes_per_frame(cfg: TrainConfig) -> int:
    rows, width, channels = frame_shape(cfg)
    return rows * width * channels


def decoder_key(cfg: TrainConfig) -> dict:
    """Everything besides the image files that changes the cached bytes."""
    import tensorflow as tf

    return {"format": FORMAT_VERSION, "crop_top": cfg.crop_top, "crop_bottom": cfg.crop_bottom,
            "source": [SOURCE_HEIGHT, SOURCE_WIDTH], "decoder": f"tensorflow {tf.__version__}",
            "dct_method": "INTEGER_ACCURATE", "channels": 3,
            "resize": [int(cfg.resize[0]), int(cfg.resize[1])], "resample": "pillow-bilinear"}


def cache_dir(dataset_dir: Path, root: Path | None = None) -> Path:
    """Where the caches of the dataset at `dataset_dir` (its real path) live."""
    root = root if root is not None else (Path(os.environ[ENV_ROOT]) if os.environ.get(ENV_ROOT)
                                          else None)
    if root is None:
        return dataset_dir / DIR_NAME
    tag = hashlib.sha256(str(dataset_dir).encode()).hexdigest()[:16]
    return root / f"{dataset_dir.name}-{tag}"


def cache_bytes(directory: Path) -> int:
    """Bytes of the complete caches in one cache folder."""
    return sum(p.stat().st_size for p in directory.glob("*.npy")) if directory.is_dir() else 0


def clear(dataset_dir: str | Path, root: Path | None = None) -> None:
    """Delete every frame cache of a dataset."""
    shutil.rmtree(cache_dir(Path(os.path.realpath(dataset_dir)), root), ignore_errors=True)


def _files_digest(img_dir: Path, names: list[str]) -> str:
    digest = hashlib.sha256()
    for name in names:
        st = os.stat(img_dir / name)
        digest.update(f"{name}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return digest.hexdigest()


@contextmanager
def _locked(path: Path):
    with open(path, "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@dataclass
class _Entry:
    """One complete cache file: its frames' names (in row order) and where its data starts."""

    path: Path
    names: list[str]
    offset: int


def _open_entry(npy: Path, meta: Path, count: int, cfg: TrainConfig) -> _Entry | None:
    if not (npy.is_file() and meta.is_file()):
        return None
    try:
        names = json.loads(meta.read_text())["names"]
        array = np.load(npy, mmap_mode="r")
        offset, shape, dtype = int(array.offset), array.shape, array.dtype
        del array
    except (OSError, ValueError, KeyError):
        return None
    if dtype != np.uint8 or shape != (count, *frame_shape(cfg)) or len(names) != count:
        return None
    with suppress(OSError):  # last use, for pruning (a read-only cache is still usable)
        os.utime(meta)
    return _Entry(npy, names, offset)


def _decode_into(npy_tmp: Path, paths: list[str], cfg: TrainConfig) -> None:
    """Decode `paths` (cropped, resized) into a new .npy written sequentially (not via a memmap,
    so the building process's resident set does not grow with the file)."""
    import tensorflow as tf

    from training.bc import data

    shape = (len(paths), *frame_shape(cfg))
    with open(npy_tmp, "wb") as out:
        np.lib.format.write_array_header_1_0(
            out, {"descr": np.lib.format.dtype_to_descr(np.dtype(np.uint8)),
                  "fortran_order": False, "shape": shape})
        ds = tf.data.Dataset.from_tensor_slices(np.asarray(paths, dtype=str)).batch(BUILD_BATCH)
        ds = ds.map(lambda batch: data.resized_frames(batch, cfg),
                    num_parallel_calls=tf.data.AUTOTUNE).prefetch(2)
        written = 0
        for frames in ds:
            block = frames.numpy()
            out.write(block.tobytes())
            written += len(block)
        if written != len(paths):
            raise RuntimeError(f"decoded {written} of {len(paths)} frames")
        out.flush()
        os.fsync(out.fileno())


def _stale(meta: Path, decoder: dict) -> bool:
    """A cache that can never be used again: of this decoder, but its image files have changed
    since, or of an older FORMAT_VERSION (e.g. version 1's full-width frames)."""
    try:
        theirs = json.loads(meta.read_text()).get("decoder")
    except (OSError, ValueError):
        return True
    return not isinstance(theirs, dict) or theirs == decoder or theirs.get("format") != decoder["format"]


def _prune(directory: Path, camera: str, keep: Path, decoder: dict) -> None:
    """Delete unfinished builds, caches of older versions of the images, and all but the
    KEEP_VARIANTS most recently used caches (called under the camera's lock)."""
    for tmp in directory.glob(f"{camera}_*.tmp*"):
        tmp.unlink(missing_ok=True)
    metas = sorted((m for m in directory.glob(f"{camera}_*.json") if m == keep or not _stale(m, decoder)),
                   key=lambda p: p.stat().st_mtime, reverse=True)
    kept = [keep] + [m for m in metas if m != keep][:KEEP_VARIANTS - 1]
    for meta in directory.glob(f"{camera}_*.json"):
        if meta not in kept:
            meta.unlink(missing_ok=True)   # the marker first: a half-deleted cache is invalid
            meta.with_suffix(".npy").unlink(missing_ok=True)
    for npy in directory.glob(f"{camera}_*.npy"):
        if not npy.with_suffix(".json").exists():
            npy.unlink(missing_ok=True)


def camera_cache(dataset_dir: Path, camera: str, names: list[str], cfg: TrainConfig,
                 build: bool, root: Path | None = None) -> _Entry | None:
    """The complete cache of `names` (files in dataset_dir/IMG, in row order) for one camera,
    built now when missing and `build` is set; None when there is none (or no room for one)."""
    import tensorflow as tf

    img_dir = dataset_dir / "IMG"
    decoder = decoder_key(cfg)
    payload = {"decoder": decoder, "camera": camera,
               "files": _files_digest(img_dir, names), "count": len(names)}
    key = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:20]
    directory = cache_dir(dataset_dir, root)
    npy, meta = directory / f"{camera}_{key}.npy", directory / f"{camera}_{key}.json"
    entry = _open_entry(npy, meta, len(names), cfg)
    if entry is not None or not build:
        return entry
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        log.warning("frame cache: cannot create %s (%s); decoding JPEGs every epoch", directory, exc)
        return None
    with _locked(directory / f"{camera}.lock"):
        entry = _open_entry(npy, meta, len(names), cfg)  # built by another job meanwhile
        if entry is not None:
            return entry
        _prune(directory, camera, meta, decoder)
        need = len(names) * bytes_per_frame(cfg)
        free = shutil.disk_usage(directory).free
        if free - need < FREE_SPACE_RESERVE:
            log.warning("frame cache: %d MB for %s/%s would leave under %d MB free; decoding "
                        "JPEGs every epoch", need >> 20, dataset_dir, camera,
                        FREE_SPACE_RESERVE >> 20)
            return None
        tmp = npy.with_name(f"{npy.name}.tmp{os.getpid()}")
        start = time.perf_counter()
        try:
            _decode_into(tmp, [str(img_dir / n) for n in names], cfg)
        except (tf.errors.OpError, OSError, RuntimeError) as exc:
            # An undecodable frame: the uncached pipeline reports it if a run samples it.
            tmp.unlink(missing_ok=True)
            log.warning("frame cache: building %s failed (%s); decoding JPEGs every epoch", npy, exc)
            return None
        os.replace(tmp, npy)
        meta_tmp = meta.with_name(f"{meta.name}.tmp{os.getpid()}")
        meta_tmp.write_text(json.dumps({**payload, "names": names,
                                        "dataset": str(dataset_dir)}))
        os.replace(meta_tmp, meta)
        _prune(directory, camera, meta, decoder)
        log.info("frame cache: %d %s frames of %s in %.1f s (%d MB)", len(names), camera,
                 dataset_dir, time.perf_counter() - start, need >> 20)
        return _open_entry(npy, meta, len(names), cfg)


class FrameSource:
    """Model-sized frames of a list of image paths, read from their datasets' caches."""

    def __init__(self, entries: list[_Entry], entry: np.ndarray, row: np.ndarray,
                 shape: tuple[int, int, int]):
        self.entries = entries
        self.entry = entry          # int32 per path: which cache file
        self.row = row              # int64 per path: row in that file
        self.shape = shape
        self.frame_bytes = int(np.prod(shape))
        self._fds: list[int] = []
        for e in entries:  # one by one, so __del__ closes those opened if one is missing
            self._fds.append(os.open(e.path, os.O_RDONLY))

    def __len__(self) -> int:
        return int(self.entry.shape[0])

    def __del__(self):
        for fd in getattr(self, "_fds", []):
            with suppress(OSError):
                os.close(fd)

    @property
    def files(self) -> list[Path]:
        return [e.path for e in self.entries]

    def gather(self, ids: np.ndarray) -> np.ndarray:
        """uint8 (len(ids), height, width, 3): the frames of paths number `ids`."""
        ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        out = np.empty((ids.size, *self.shape), dtype=np.uint8)
        flat = out.reshape(-1).data
        size = self.frame_bytes
        for j, i in enumerate(ids):
            k = self.entry[i]
            offset = self.entries[k].offset + int(self.row[i]) * size
            if os.preadv(self._fds[k], [flat[j * size:(j + 1) * size]], offset) != size:
                raise OSError(f"{self.entries[k].path}: short read at frame {self.row[i]}")
        return out

    def tf_gather(self, ids):
        """`gather` as a TensorFlow op on an int64 (B,) tensor."""
        import tensorflow as tf

        frames = tf.numpy_function(self.gather, [ids], tf.uint8, stateful=False)
        return tf.ensure_shape(frames, [None, *self.shape])


def _camera_names(dataset_dir: Path) -> dict[str, list[str]] | None:
    """Image file names of each camera in the dataset's driving_log.csv, in row order."""
    from training.bc.dataset_index import index_dataset

    if not (dataset_dir / "driving_log.csv").is_file():
        return None
    try:
        index = index_dataset(dataset_dir)
    except (OSError, ValueError):
        return None
    return {camera: list(dict.fromkeys(os.path.basename(p) for p in getattr(index, camera) if p))
            for camera in CAMERAS}


def frames_for(paths: np.ndarray, cfg: TrainConfig, build: bool = True,
               root: Path | None = None) -> FrameSource | None:
    """A FrameSource for `paths` (building missing caches when `build`), or None when any path
    is not covered by a cache (caching off, a folder without a driving_log.csv, no room...)."""
    if not enabled() or len(paths) == 0:
        return None
    files = [str(p) for p in paths]
    folders: dict[str, list[int]] = {}
    for i, path in enumerate(files):
        folders.setdefault(os.path.dirname(path), []).append(i)
    entries: list[_Entry] = []
    entry = np.empty(len(files), dtype=np.int32)
    row = np.empty(len(files), dtype=np.int64)
    for folder, members in folders.items():
        dataset_dir = Path(os.path.realpath(folder)).parent
        cameras = _camera_names(dataset_dir)
        if cameras is None:
            return None
        wanted = {os.path.basename(files[i]) for i in members}
        where: dict[str, tuple[int, int]] = {}
        for camera, names in cameras.items():
            if not wanted.intersection(names):
                continue
            found = camera_cache(dataset_dir, camera, names, cfg, build, root)
            if found is None:
                return None
            entries.append(found)
            for r, name in enumerate(found.names):
                where.setdefault(name, (len(entries) - 1, r))
        for i in members:
            slot = where.get(os.path.basename(files[i]))
            if slot is None:
                return None
            entry[i], row[i] = slot
    try:
        return FrameSource(entries, entry, row, frame_shape(cfg))
    except FileNotFoundError:  # pruned by another job's build just now
        return None
