"""Abandoned chunked uploads are deleted by the maintenance queue; live ones are kept."""

import os
import time
import uuid

import pytest

from tests.support.uploads import ZIP_START, send
from webapp.celery import app
from webapp.datasets import tasks
from webapp.datasets.chunked import lock_path, meta_path, part_path, purge_abandoned_parts

pytestmark = pytest.mark.django_db


def test_old_parts_go_fresh_parts_stay(client, team_a, team_b, pitlane_dirs, settings):
    settings.PITLANE_UPLOAD_ABANDONED_AFTER_S = 3600
    client.force_login(team_a.captain)
    live, stale = uuid.uuid4().hex, uuid.uuid4().hex
    first = ZIP_START + b"PK" * 8
    assert send(client, team_a, live, first, 0, 1000).json()["received"] == 20
    assert send(client, team_a, stale, first, 0, 1000).json()["received"] == 20
    other = part_path(team_b, uuid.uuid4().hex)
    other.parent.mkdir(parents=True, exist_ok=True)
    other.write_bytes(b"x")
    two_hours_ago = time.time() - 7200
    for path in (part_path(team_a, stale), meta_path(team_a, stale), lock_path(team_a, stale), other):
        os.utime(path, (two_hours_ago, two_hours_ago))

    removed = purge_abandoned_parts()

    assert sorted(removed) == sorted([part_path(team_a, stale), other])
    assert part_path(team_a, live).exists()
    assert not any(p.exists() for p in (meta_path(team_a, stale), lock_path(team_a, stale)))
    # The live upload goes on where it was; the purged one has to start again.
    assert send(client, team_a, live, b"PK" * 10, 20, 1000).json()["received"] == 40
    response = send(client, team_a, stale, b"PK" * 10, 20, 1000)
    assert response.status_code == 409 and "does not follow the 0 bytes" in response.json()["error"]


def test_nothing_to_purge_without_an_upload_folder(pitlane_dirs):
    assert purge_abandoned_parts(max_age_s=0) == []


def test_purge_runs_hourly_on_the_maintenance_queue(team_a, pitlane_dirs):
    entry = app.conf.beat_schedule["purge-abandoned-uploads"]
    assert entry["task"] == tasks.purge_abandoned_uploads.name == "pitlane.purge_abandoned_uploads"
    assert entry["schedule"] == 3600.0
    assert app.conf.task_routes[entry["task"]] == {"queue": "maintenance"}
    old = part_path(team_a, uuid.uuid4().hex)
    old.parent.mkdir(parents=True, exist_ok=True)
    old.write_bytes(b"x")
    os.utime(old, (0, 0))
    assert tasks.purge_abandoned_uploads.apply().get() == 1 and not old.exists()
