"""Test settings: the production settings plus a plumbing job kind that only tests register."""

import os

from webapp.settings import *
from webapp.settings import PITLANE_JOB_KINDS

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
PITLANE_JOB_KINDS = {
    **PITLANE_JOB_KINDS,
    "test.countdown": {"handler": "tests.support.job_kinds:countdown", "queue": "training", "label": "Countdown"},
}
JOB_HEARTBEAT_INTERVAL_S = 0.5
JOB_STALE_AFTER_S = 4
JOB_REDISPATCH_AFTER_S = 3

# Test-only URLs: a view that queues the countdown job, so tests can start one from a web request.
ROOT_URLCONF = "tests.support.urls"

# Subprocesses started by tests (Celery worker, Daphne) are pointed at the test database by name.
if os.environ.get("PITLANE_TEST_DB_NAME"):
    DATABASES["default"]["NAME"] = os.environ["PITLANE_TEST_DB_NAME"]

# Serve static files straight from the app folders (no collectstatic before tests).
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True

# Small upload chunks, so browser tests of the real sample's zip (~5 MB) send several.
PITLANE_UPLOAD_CHUNK_BYTES = 1024 * 1024
