"""Uploads in pieces. Daphne reads a whole request body into memory before the application sees
it, so one multi-GB POST would cost its size in RAM; the browser therefore sends the zip in
chunks of a few MB (PITLANE_UPLOAD_CHUNK_BYTES) that are appended to a file on disk, and the last
one hands the file to `services.accept_upload`. A chunk that is sent again (a retry) is accepted
without writing twice, and `received_bytes` lets a browser that lost its connection, or a new tab,
carry on where the upload stopped."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.template.defaultfilters import filesizeformat

from .models import Dataset
from .services import accept_upload

UPLOAD_ID = re.compile(r"^[0-9a-f]{32}$")


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


def part_path(team, upload_id: str) -> Path:
    # One folder per team: an upload id of another team is simply not found here.
    return _parts_root() / str(team.pk) / f"{upload_id}.part"


def received_bytes(*, team, upload_id: str) -> int:
    """How much of upload `upload_id` of `team` is on disk (0 if none, or purged)."""
    if not UPLOAD_ID.match(upload_id or ""):
        raise ValidationError("Malformed upload id.")
    path = part_path(team, upload_id)
    return path.stat().st_size if path.exists() else 0


def purge_abandoned_parts(max_age_s: float | None = None, now: float | None = None) -> list[Path]:
    """Delete partial uploads nobody has appended to for `max_age_s` (a closed tab, a lost
    connection): without this every abandoned multi-GB upload would stay on disk for good.
    An upload still in progress touches its file with every chunk, so it is never old."""
    max_age_s = settings.PITLANE_UPLOAD_ABANDONED_AFTER_S if max_age_s is None else max_age_s
    cutoff = (time.time() if now is None else now) - max_age_s
    removed = []
    for part in _parts_root().glob("*/*.part"):
        try:
            if part.stat().st_mtime < cutoff:
                part.unlink()
                removed.append(part)
        except FileNotFoundError:  # finished or purged meanwhile
            continue
    return removed


def append_chunk(*, team, user, upload_id: str, offset: int, total: int, filename: str, name: str,
                 stream) -> ChunkResult:
    """Write the bytes of `stream` at `offset` of the upload; finish it when `total` is reached."""
    received = received_bytes(team=team, upload_id=upload_id)
    if not (filename or "").lower().endswith(".zip"):
        raise ValidationError("Upload a .zip of the recording folder (driving_log.csv and IMG/).")
    limit = settings.PITLANE_DATASET_MAX_UPLOAD_BYTES
    if total <= 0 or total > limit:
        raise ValidationError(f"The file is larger than the upload limit of {filesizeformat(limit)}."
                              if total > 0 else "The file is empty.")
    path = part_path(team, upload_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    if offset < received:
        # A retry of a chunk that arrived: skip what we have, keep what is new.
        stream.read(received - offset)
    elif offset > received:
        raise ValidationError(f"Chunk at byte {offset} does not follow the {received} bytes received so far.")
    with path.open("ab") as out:
        while piece := stream.read(1024 * 1024):
            received += len(piece)
            if received > total:
                out.close()
                path.unlink(missing_ok=True)
                raise ValidationError("The upload sent more bytes than it announced; start again.")
            out.write(piece)
    if received < total:
        return ChunkResult(received)
    dataset = accept_upload(team=team, user=user, uploaded=_FileOnDisk(path, filename), name=name)
    return ChunkResult(received, dataset)
