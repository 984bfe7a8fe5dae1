"""Uploads in pieces. Daphne reads a whole request body into memory before the application sees
it, so one multi-GB POST would cost its size in RAM; the browser therefore sends the zip in
chunks of a few MB (PITLANE_UPLOAD_CHUNK_BYTES) that are appended to a file on disk, and the last
one hands the file to `services.accept_upload`. A chunk that is sent again (a retry) is accepted
without writing twice, and `received_bytes` lets a browser that lost its connection, or a new tab,
carry on where the upload stopped.

Each upload of a team is three files in the team's folder: `<id>.part` (the bytes so far),
`<id>.json` (what the first chunk announced: total, file name, dataset name; and, once finished,
the dataset it became, so a repeated last chunk answers the same) and `<id>.lock`. Every chunk
holds an exclusive `flock` on the lock file while it reads the upload's state and writes, so two
requests for the same upload (threads of one Daphne or several processes) never append at once:
the second one is answered 409 and sends again. A new upload is opened under the team's lock,
which checks the team's quota of unfinished uploads (count and announced bytes)."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile

from .archive import ZIP_SIGNATURE, zip_start_problem
from .models import Dataset
from .services import accept_upload
from .sizes import binary_size

UPLOAD_ID = re.compile(r"^[0-9a-f]{32}$")
_PIECE = 1024 * 1024


class ChunkRefused(ValidationError):
    """A chunk the server does not take. `status` is the HTTP answer; `received` (when set) is how
    many bytes the server has, so the client can carry on from there; `retry` says that sending
    the same chunk again in a moment may succeed."""

    status = 400

    def __init__(self, message: str, *, received: int | None = None, retry: bool = False):
        super().__init__(message)
        self.received = received
        self.retry = retry

    def body(self) -> dict:
        body: dict = {"error": " ".join(self.messages)}
        if self.received is not None:
            body["received"] = self.received
        if self.retry:
            body["retry"] = True
        return body


class UploadConflict(ChunkRefused):
    """The chunk does not fit the upload's state: another chunk is being written, the offset does
    not follow what the server has, or the total differs from the one announced first."""

    status = 409


class UploadTooLarge(ChunkRefused):
    status = 413


class UploadQuotaExceeded(ChunkRefused):
    """The team has too many unfinished uploads, or they would announce too many bytes."""

    status = 429


@dataclass(frozen=True)
class ChunkResult:
    received: int
    dataset: Dataset | None = None


class _FileOnDisk(UploadedFile):
    """The assembled zip, handed to accept_upload like a streamed upload."""

    def __init__(self, path: Path, name: str):
        super().__init__(open(path, "rb"), name,  # noqa: SIM115 (Django closes an UploadedFile)
                         "application/zip", path.stat().st_size, None)
        self.path = path

    def temporary_file_path(self) -> str:
        return str(self.path)


def _parts_root() -> Path:
    return Path(settings.UPLOAD_ROOT) / "incoming" / "chunked"


def _team_dir(team) -> Path:
    # One folder per team: an upload id of another team is simply not found here.
    return _parts_root() / str(team.pk)


def part_path(team, upload_id: str) -> Path:
    return _team_dir(team) / f"{upload_id}.part"


def meta_path(team, upload_id: str) -> Path:
    return _team_dir(team) / f"{upload_id}.json"


def lock_path(team, upload_id: str) -> Path:
    return _team_dir(team) / f"{upload_id}.lock"


def _check_id(upload_id: str) -> None:
    if not UPLOAD_ID.match(upload_id or ""):
        raise ChunkRefused("Malformed upload id.")


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _mtime(path: Path) -> float | None:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:  # none, or purged meanwhile
        return None


def _read_meta(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None


def _write_meta(path: Path, meta: dict) -> None:
    temporary = path.with_suffix(".json.tmp")
    temporary.write_text(json.dumps(meta))
    os.replace(temporary, path)  # readers see the old or the new file, never half of one


def received_bytes(*, team, upload_id: str) -> int:
    """How much of upload `upload_id` of `team` is on disk (0 if none, or purged; the whole file
    once it became a dataset)."""
    _check_id(upload_id)
    meta = _read_meta(meta_path(team, upload_id))
    if meta and meta.get("dataset_id"):
        return int(meta["total"])
    return _size(part_path(team, upload_id))


@contextlib.contextmanager
def _flock(path: Path, *, wait: bool) -> Iterator[bool]:
    """Hold an exclusive lock on `path` (created if missing). Yields False instead of waiting when
    `wait` is False and someone else holds it. Works across threads and processes: each call
    opens its own descriptor."""
    for _ in range(5):
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
            except BlockingIOError:
                yield False
                return
            try:
                same_file = os.fstat(fd).st_ino == os.stat(path).st_ino
            except FileNotFoundError:
                same_file = False
            if same_file:  # else it was removed (purged) while we waited: lock the new one
                yield True
                return
        finally:
            os.close(fd)
    raise UploadConflict("The upload is being cleared; send it again.", retry=True)


def _team_quota_error(team, total: int) -> str | None:
    """Why `team` may not open another upload of `total` bytes now (None if it may)."""
    cutoff = time.time() - settings.PITLANE_UPLOAD_ABANDONED_AFTER_S
    count, announced = 0, 0
    for meta_file in _team_dir(team).glob("*.json"):
        meta = _read_meta(meta_file)
        if not meta or meta.get("dataset_id"):
            continue
        touched = [t for t in (_mtime(meta_file), _mtime(meta_file.with_suffix(".part"))) if t is not None]
        if not touched or max(touched) < cutoff:  # abandoned: the hourly purge deletes it, it no longer counts
            continue
        count += 1
        announced += int(meta["total"])
    max_count = settings.PITLANE_UPLOAD_MAX_OPEN_PER_TEAM
    max_bytes = settings.PITLANE_UPLOAD_MAX_OPEN_BYTES_PER_TEAM
    hours = settings.PITLANE_UPLOAD_ABANDONED_AFTER_S / 3600
    later = f"finish or cancel one first (unfinished uploads are cleared after {hours:g} hours)"
    if count >= max_count:
        return f"Your team already has {count} unfinished uploads, the most it may have at once: {later}."
    if announced + total > max_bytes:
        return (f"This upload of {binary_size(total)} and your team's {count} unfinished uploads "
                f"({binary_size(announced)}) would exceed its {binary_size(max_bytes)} for unfinished "
                f"uploads: {later}.")
    return None


def _skip(stream, count: int) -> None:
    while count > 0:
        piece = stream.read(min(count, _PIECE))
        if not piece:
            return
        count -= len(piece)


def _read_exactly(stream, count: int) -> bytes:
    data = b""
    while len(data) < count and (piece := stream.read(count - len(data))):
        data += piece
    return data


def append_chunk(*, team, user, upload_id: str, offset: int, total: int, filename: str, name: str,
                 stream) -> ChunkResult:
    """Write the bytes of `stream` at `offset` of the upload; finish it when `total` is reached.

    The first chunk (offset 0 of an unknown id) opens the upload: it must be the start of a zip,
    fit the upload limit and the team's quota; its total, file name and dataset name hold for the
    whole upload. Later chunks must announce the same total and start at or before the bytes the
    server has (what it has already is skipped)."""
    _check_id(upload_id)
    if offset < 0:
        raise ChunkRefused("offset must be 0 or more.")
    if total <= 0:
        raise ChunkRefused("The file is empty.")
    limit = settings.PITLANE_DATASET_MAX_UPLOAD_BYTES
    if total > limit:
        raise UploadTooLarge(f"The file is larger than the upload limit of {binary_size(limit)}.")
    folder = _team_dir(team)
    folder.mkdir(parents=True, exist_ok=True)
    part, meta_file, lock = part_path(team, upload_id), meta_path(team, upload_id), lock_path(team, upload_id)
    with _flock(lock, wait=False) as locked:
        if not locked:
            raise UploadConflict("Another chunk of this upload is being written; send this one again.", retry=True)
        try:
            return _append_locked(team, user, upload_id, offset=offset, total=total, filename=filename, name=name,
                                  stream=stream)
        finally:
            if not meta_file.exists() and not part.exists():  # refused before it began: leave no trace
                lock.unlink(missing_ok=True)


def _append_locked(team, user, upload_id: str, *, offset: int, total: int, filename: str, name: str,
                   stream) -> ChunkResult:
    part, meta_file = part_path(team, upload_id), meta_path(team, upload_id)
    meta = _read_meta(meta_file)
    received, consumed = _size(part), 0
    if meta is None:
        meta, consumed = _open_upload(team, upload_id, offset=offset, total=total, filename=filename,
                                      name=name, received=received, stream=stream)
        received, opened = _size(part), True
    else:
        opened = False
        if int(meta["total"]) != total:
            raise UploadConflict(
                f"This upload was started as a file of {int(meta['total']):,} bytes, not {total:,}: "
                "upload the file again from the start.")
        if meta.get("dataset_id"):  # finished: the answer to its last chunk, again
            dataset = Dataset.objects.filter(team=team, pk=meta["dataset_id"]).first()
            if dataset is None:
                raise UploadConflict("This upload was finished and its dataset deleted; upload it again.")
            return ChunkResult(total, dataset)
    if offset > received:
        raise UploadConflict(f"Chunk at byte {offset} does not follow the {received} bytes received so far.",
                             received=received)
    _skip(stream, received - offset - consumed)  # a retry of a chunk that arrived: keep only what is new
    before = received
    with part.open("ab") as out:
        while piece := stream.read(_PIECE):
            received += len(piece)
            if received > total:
                out.truncate(before)
                if opened:
                    _discard(part, meta_file)
                if opened:
                    raise ChunkRefused("The upload sent more bytes than it announced; start again.")
                raise ChunkRefused(f"This chunk runs past the {total:,} bytes the upload announced; the "
                                   f"{before:,} bytes before it are kept.", received=before)
            out.write(piece)
    if received < total:
        return ChunkResult(received)
    dataset = accept_upload(team=team, user=user, uploaded=_FileOnDisk(part, meta["filename"]),
                            name=meta["name"])
    _write_meta(meta_file, {**meta, "dataset_id": dataset.pk})
    return ChunkResult(received, dataset)


def _open_upload(team, upload_id: str, *, offset: int, total: int, filename: str, name: str, received: int,
                 stream) -> tuple[dict, int]:
    """Check and record a new upload. Returns its record and how many bytes of `stream` were
    consumed (and written: the zip signature that starts the part file). `received` > 0 is a part
    left by an older version of this module, without a record: it is adopted as it is."""
    if received == 0 and offset != 0:
        raise UploadConflict(f"Chunk at byte {offset} does not follow the 0 bytes received so far.", received=0)
    if not (filename or "").lower().endswith(".zip"):
        raise ChunkRefused("Upload a .zip of the recording folder (driving_log.csv and IMG/).")
    head = b""
    if received == 0:
        head = _read_exactly(stream, len(ZIP_SIGNATURE))
        problem = zip_start_problem(filename, head)
        if problem:
            raise ChunkRefused(problem)
    meta = {"total": total, "filename": filename[:255], "name": name[:120], "started": time.time()}
    with _flock(_team_dir(team) / ".team.lock", wait=True):
        problem = _team_quota_error(team, total)
        if problem:
            raise UploadQuotaExceeded(problem)
        _write_meta(meta_path(team, upload_id), meta)
    if head:
        part_path(team, upload_id).write_bytes(head)
    return meta, len(head)


def _discard(*paths: Path) -> None:
    for path in paths:
        path.unlink(missing_ok=True)


def discard_upload(*, team, upload_id: str) -> bool:
    """Delete an unfinished upload of `team` (the browser gave it up). False if a chunk of it is
    being written right now (nothing is deleted then)."""
    _check_id(upload_id)
    with _flock(lock_path(team, upload_id), wait=False) as locked:
        if not locked:
            return False
        meta = _read_meta(meta_path(team, upload_id))
        if not (meta and meta.get("dataset_id")):
            _discard(part_path(team, upload_id), meta_path(team, upload_id))
        return True


def purge_abandoned_parts(max_age_s: float | None = None, now: float | None = None) -> list[Path]:
    """Delete partial uploads nobody has appended to for `max_age_s` (a closed tab, a lost
    connection): without this every abandoned multi-GB upload would stay on disk for good.
    An upload still in progress touches its file with every chunk, so it is never old; one being
    written right now is left alone. Finished uploads' records go the same way. Returns the part
    (or, for a finished upload, record) files removed."""
    max_age_s = settings.PITLANE_UPLOAD_ABANDONED_AFTER_S if max_age_s is None else max_age_s
    cutoff = (time.time() if now is None else now) - max_age_s
    removed = []
    for team_dir in _parts_root().glob("*"):
        ids = {path.name.split(".", 1)[0] for pattern in ("*.part", "*.json", "*.lock")
               for path in team_dir.glob(pattern)}
        for upload_id in sorted(ids):
            part, meta_file = team_dir / f"{upload_id}.part", team_dir / f"{upload_id}.json"
            lock = team_dir / f"{upload_id}.lock"
            touched = [t for t in (_mtime(part), _mtime(meta_file), _mtime(lock)) if t is not None]
            if not touched or max(touched) >= cutoff:
                continue
            with _flock(lock, wait=False) as locked:
                if not locked:
                    continue
                if part.exists() or meta_file.exists():
                    removed.append(part if part.exists() else meta_file)
                _discard(part, meta_file, lock)
    return removed
