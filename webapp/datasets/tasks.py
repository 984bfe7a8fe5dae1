"""Maintenance task of the datasets app (the maintenance queue, on beat's schedule)."""

from __future__ import annotations

from webapp.celery import app

from .chunked import purge_abandoned_parts


@app.task(name="pitlane.purge_abandoned_uploads", ignore_result=True)
def purge_abandoned_uploads() -> int:
    return len(purge_abandoned_parts())
