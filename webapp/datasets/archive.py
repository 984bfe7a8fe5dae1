"""Safe extraction of an uploaded driving-log zip, with plain Python and `zipfile`.

A zip from a browser is untrusted: member names may climb out of the target folder (zip-slip),
declared sizes may lie, and a few MB can inflate to terabytes (a zip bomb). So names are checked
before anything is written, declared totals and compression ratios are checked up front, and the
real number of bytes written is counted while extracting. Only `driving_log.csv` and the JPEGs in
the `IMG/` folder beside it are extracted, each under its bare file name.
"""

from __future__ import annotations

import re
import shutil
import stat
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from simulator.stopping import ShouldStop, raise_if_stopped

LOG_NAME = "driving_log.csv"
SOURCE_LOG_NAME = "driving_log.source.csv"
IMAGE_SUFFIXES = (".jpg", ".jpeg")
CHUNK = 1 << 20


class UploadRejected(ValueError):
    """The upload cannot be ingested; the message says why, for the person who uploaded it."""


ZIP_SIGNATURE = b"PK\x03\x04"        # a zip's first local file header
EMPTY_ZIP_SIGNATURE = b"PK\x05\x06"  # the end record that alone makes an empty zip
ZIP_ADVICE = "zip the recording folder (driving_log.csv and IMG/) and upload the .zip."


def zip_start_problem(filename: str, head: bytes) -> str | None:
    """Why a file whose first bytes are `head` is no zip of a recording (None when it starts like
    one). Read from the first chunk of an upload, before the rest is sent."""
    if head.startswith(ZIP_SIGNATURE):
        return None
    if head.startswith(EMPTY_ZIP_SIGNATURE):
        return f"{filename} is an empty zip (it holds no files): {ZIP_ADVICE}"
    return f"{filename} is not a zip file (it does not start like one): {ZIP_ADVICE}"


def zip_file_problem(path: Path, filename: str) -> str | None:
    """Why the whole file at `path` is no readable zip (None when it is): a wrong start, or a zip
    whose table of contents (at its end) is missing, as when a copy or a download was cut short.
    Reads the first bytes and the tail only."""
    with open(path, "rb") as fh:
        problem = zip_start_problem(filename, fh.read(len(ZIP_SIGNATURE)))
    if problem:
        return problem
    if not zipfile.is_zipfile(path):
        return (f"{filename} is not a complete zip file (its table of contents at the end is missing: "
                f"was the file cut short?): {ZIP_ADVICE}")
    return None


@dataclass(frozen=True)
class Limits:
    max_upload_bytes: int
    max_uncompressed_bytes: int
    max_compression_ratio: float
    max_members: int


@dataclass
class ZipPlan:
    """What to take out of the archive: the log member and the image members beside it."""

    log_member: zipfile.ZipInfo
    images: list[zipfile.ZipInfo]
    ignored: int = 0
    declared_bytes: int = 0
    notes: list[str] = field(default_factory=list)


_DRIVE = re.compile(r"^[A-Za-z]:")


def _unsafe_reason(name: str, info: zipfile.ZipInfo) -> str | None:
    normalised = name.replace("\\", "/")
    if normalised.startswith("/") or _DRIVE.match(normalised):
        return "an absolute path"
    if ".." in PurePosixPath(normalised).parts:
        return "a '..' path that climbs out of the folder"
    if stat.S_ISLNK(info.external_attr >> 16):
        return "a symbolic link"
    if "\x00" in name:
        return "a NUL byte in its name"
    return None


def plan(zf: zipfile.ZipFile, limits: Limits) -> ZipPlan:
    """Check every member name and size; find the log and its images. Raises UploadRejected."""
    infos = zf.infolist()
    if len(infos) > limits.max_members:
        raise UploadRejected(f"The zip holds {len(infos):,} entries; at most {limits.max_members:,} are allowed.")
    declared = compressed = 0
    for info in infos:
        reason = _unsafe_reason(info.filename, info)
        if reason:
            raise UploadRejected(f"Rejected: the zip entry {info.filename!r} is {reason} (zip-slip protection).")
        declared += info.file_size
        compressed += info.compress_size
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > CHUNK and ratio > limits.max_compression_ratio:
            raise UploadRejected(
                f"Rejected as a possible zip bomb: {info.filename!r} expands {ratio:,.0f} times "
                f"(limit {limits.max_compression_ratio:,.0f}).")
    if declared > limits.max_uncompressed_bytes:
        raise UploadRejected(
            f"Rejected: the zip expands to {declared / 1e9:,.2f} GB; the limit is "
            f"{limits.max_uncompressed_bytes / 1e9:,.2f} GB.")
    if declared > CHUNK and declared / max(compressed, 1) > limits.max_compression_ratio:
        raise UploadRejected(
            f"Rejected as a possible zip bomb: the zip expands {declared / max(compressed, 1):,.0f} times "
            f"(limit {limits.max_compression_ratio:,.0f}).")

    files = [i for i in infos if not i.is_dir() and not i.filename.startswith("__MACOSX/")]
    logs = [i for i in files if PurePosixPath(i.filename.replace("\\", "/")).name.lower() == LOG_NAME]
    if not logs:
        raise UploadRejected(f"No {LOG_NAME} in the zip: upload the folder the simulator recorded "
                             f"({LOG_NAME} and IMG/).")
    logs.sort(key=lambda i: (i.filename.count("/"), i.filename))
    log = logs[0]
    root = PurePosixPath(log.filename.replace("\\", "/")).parent
    images, ignored = [], 0
    for info in files:
        path = PurePosixPath(info.filename.replace("\\", "/"))
        if info is log:
            continue
        if path.parent.parent == root and path.parent.name.upper() == "IMG" and path.suffix.lower() in IMAGE_SUFFIXES:
            images.append(info)
        else:
            ignored += 1
    result = ZipPlan(log, images, ignored, declared)
    if len(logs) > 1:
        result.notes.append(f"The zip holds {len(logs)} {LOG_NAME} files; used {log.filename!r}.")
    if ignored:
        result.notes.append(f"{ignored} file(s) outside {root / 'IMG' if str(root) != '.' else 'IMG'}/ were ignored.")
    return result


def _copy(zf: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, budget: list[int]) -> int:
    """Copy one member, counting real bytes: a member may not exceed its declared size, nor the
    whole extraction its budget (declared sizes can lie)."""
    written = 0
    with zf.open(info) as src, open(target, "wb") as dst:
        while True:
            chunk = src.read(CHUNK)
            if not chunk:
                break
            written += len(chunk)
            budget[0] -= len(chunk)
            if written > info.file_size or budget[0] < 0:
                raise UploadRejected(f"Rejected as a possible zip bomb: {info.filename!r} expands beyond "
                                     "its declared size or the size limit.")
            dst.write(chunk)
    return written


def extract(zip_path: Path, dest: Path, limits: Limits,
            on_progress: Callable[[int, int], None] | None = None,
            should_stop: ShouldStop | None = None) -> ZipPlan:
    """Extract the log (as driving_log.source.csv) and IMG/*.jpg into `dest`.

    on_progress(bytes_done, bytes_total); should_stop() is polled between members (True raises
    `simulator.stopping.Stopped`). On any error, stopping included, `dest` is removed again, so a
    rejected upload leaves nothing half-written.
    """
    try:
        zf = zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise UploadRejected(f"The upload is not a readable zip file ({exc}).") from None
    with zf:
        the_plan = plan(zf, limits)
        (dest / "IMG").mkdir(parents=True, exist_ok=True)
        budget = [limits.max_uncompressed_bytes]
        done = 0
        try:
            done += _copy(zf, the_plan.log_member, dest / SOURCE_LOG_NAME, budget)
            for k, info in enumerate(the_plan.images):
                name = PurePosixPath(info.filename.replace("\\", "/")).name
                done += _copy(zf, info, dest / "IMG" / name, budget)
                if k % 200 == 0:
                    raise_if_stopped(should_stop, "extraction stopped")
                    if on_progress is not None:
                        on_progress(done, the_plan.declared_bytes)
        except (zipfile.BadZipFile, zlib_error()) as exc:
            shutil.rmtree(dest, ignore_errors=True)
            raise UploadRejected(f"The zip is damaged: {exc}") from None
        except BaseException:
            shutil.rmtree(dest, ignore_errors=True)
            raise
    return the_plan


def zlib_error() -> type[Exception]:
    import zlib

    return zlib.error
