"""A streaming upload handler: every byte goes straight to a file under the upload folder (never
to memory), and an upload over the size limit is stopped as soon as it crosses it.

The one-request upload form takes zips up to `PITLANE_DATASET_MAX_FORM_UPLOAD_BYTES` (a few MB,
within the web server's request limit `PITLANE_MAX_REQUEST_BYTES`); larger ones go up in chunks
(`chunked.py`), which is how the browser sends every zip."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler, StopUpload

from .archive import ZIP_SIGNATURE, zip_start_problem
from .sizes import binary_size


def form_upload_limit() -> int:
    """The most the one-request form takes: its own cap, or the dataset limit if that is lower."""
    return min(settings.PITLANE_DATASET_MAX_FORM_UPLOAD_BYTES, settings.PITLANE_DATASET_MAX_UPLOAD_BYTES)


class StreamedUpload(UploadedFile):
    """An uploaded file that already lies at its final place on disk."""

    def __init__(self, path: Path, name: str, content_type: str, size: int, charset):
        super().__init__(open(path, "rb"), name, content_type, size, charset)  # noqa: SIM115 (Django closes it)
        self.path = path

    def temporary_file_path(self) -> str:
        return str(self.path)


class LimitedDiskUploadHandler(FileUploadHandler):
    """Writes each file to `UPLOAD_ROOT/incoming/`, refusing more than `max_bytes`.

    When the limit is crossed the handler stops the upload and sets `too_large`; the view turns
    that into a message. The partial file is removed.
    """

    def __init__(self, request=None, max_bytes: int | None = None):
        super().__init__(request)
        self.max_bytes = max_bytes or form_upload_limit()
        self.too_large = False
        self.refusal = ""  # why the file was refused from its first bytes (not a zip)
        self._path: Path | None = None
        self._fh = None
        self._size = 0

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        if content_length and content_length > self.max_bytes + 64 * 1024:
            self.too_large = True  # the body is still drained by Django, then the view says why
        return

    def new_file(self, *args, **kwargs):
        super().new_file(*args, **kwargs)
        if self.too_large:
            raise StopUpload(connection_reset=False)
        folder = Path(settings.UPLOAD_ROOT) / "incoming"
        folder.mkdir(parents=True, exist_ok=True)
        self._path = folder / f"{uuid.uuid4().hex}.part"
        self._fh = open(self._path, "wb")  # noqa: SIM115 (closed in file_complete or on abort)
        self._size = 0

    def receive_data_chunk(self, raw_data, start):
        if start == 0 and len(raw_data) >= len(ZIP_SIGNATURE):
            problem = zip_start_problem(self.file_name or "The file", raw_data[:len(ZIP_SIGNATURE)])
            if problem:  # refused at its first chunk, the rest is not written
                self.refusal = problem
                self.discard()
                raise StopUpload(connection_reset=False)
        self._size += len(raw_data)
        if self._size > self.max_bytes:
            self.too_large = True
            self.discard()
            raise StopUpload(connection_reset=False)
        self._fh.write(raw_data)
        return

    def file_complete(self, file_size):
        self._fh.close()
        return StreamedUpload(self._path, self.file_name, self.content_type, file_size, self.charset)

    def too_large_message(self, chunk_url: str) -> str:
        if self.max_bytes >= settings.PITLANE_DATASET_MAX_UPLOAD_BYTES:
            return (f"The file is larger than the upload limit of "
                    f"{binary_size(settings.PITLANE_DATASET_MAX_UPLOAD_BYTES)}.")
        return (f"The file is larger than {binary_size(self.max_bytes)}, the most one request takes. "
                f"Larger zips go up in chunks: upload it from this page in a browser with JavaScript on, "
                f"or send it in pieces to {chunk_url} (upload_id, offset and total in the query string).")

    def upload_interrupted(self):
        self.discard()

    def discard(self) -> None:
        if self._fh is not None:
            self._fh.close()
        if self._path is not None and self._path.exists():
            os.unlink(self._path)
