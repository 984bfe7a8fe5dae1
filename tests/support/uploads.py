"""Chunked dataset uploads as the browser sends them (the `archive` fixture, the real sample
zipped, is in tests/conftest.py)."""

from __future__ import annotations

from urllib.parse import urlencode

ZIP_START = b"PK\x03\x04"  # how a zip file begins: the first chunk must start so


def send(client, team, upload_id, data: bytes, offset: int, total: int, filename="log.zip", name="Chunked"):
    """POST one chunk of an upload to the team's chunk URL."""
    query = urlencode({"upload_id": upload_id, "offset": offset, "total": total, "filename": filename, "name": name})
    return client.post(f"/teams/{team.slug}/datasets/upload/chunk/?{query}", data=data,
                       content_type="application/octet-stream")
