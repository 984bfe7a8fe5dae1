"""Fixtures shared by the whole suite: Redis, real Celery workers, Daphne, users and teams.

`make test` runs pytest with REDIS_URL pointing at an embedded Redis; run bare, the suite starts
its own. Workers and Daphne run as real subprocesses against the test database.

Fixture modules shared across folders are registered once here (`pytest_plugins`): the tiny ready
model (tests.support.model_fixtures) and the per-test folders `pitlane_dirs` (tests.support.folders).
Helpers live in tests/support (waiting: `run_async`, `wait_for`) and are imported from there, never
from a conftest.

TensorFlow thread settings go into the environment before anything imports TensorFlow (the machine
has 2 shared cores); worker and Daphne subprocesses inherit them.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.paths import ROOT, SHARED_DATA

os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "2")
os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

pytest_plugins = ["tests.support.model_fixtures", "tests.support.folders"]


@pytest.fixture(scope="session", autouse=True)
def _frame_cache_root(tmp_path_factory):
    """Decoded-frame caches (training.bc.cache) go to a temporary root, never into the shared
    sample's folder; workers started by tests inherit it."""
    os.environ.setdefault("PITLANE_FRAME_CACHE_DIR", str(tmp_path_factory.mktemp("frame_cache")))

_redis = None


def pytest_configure(config):
    global _redis
    if os.environ.get("REDIS_URL"):
        return
    from webapp.embedded_redis import EmbeddedRedis

    _redis = EmbeddedRedis().start()
    os.environ["REDIS_URL"] = _redis.url
    try:
        from django.conf import settings

        if settings.configured:
            _point_settings_at_redis(settings, _redis.url)
    except ImportError:
        pass


def _point_settings_at_redis(settings, url: str) -> None:
    settings.REDIS_URL = url
    settings.CELERY_BROKER_URL = url
    settings.CELERY_RESULT_BACKEND = url
    for host in settings.CHANNEL_LAYERS["default"]["CONFIG"]["hosts"]:
        host["address"] = url  # keep the host's connection options (socket timeout)


def pytest_unconfigure(config):
    if _redis is not None:
        _redis.stop()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data: DeepRacer tracks and logs, the real Udacity sample."""
    if not SHARED_DATA.exists():
        pytest.fail(f"shared test data not found at {SHARED_DATA}: clone the repo beside ../shared")
    return SHARED_DATA


@pytest.fixture(scope="session")
def real_sample(shared_data, tmp_path_factory) -> Path:
    """The real Udacity simulator recording: driving_log.csv and IMG/ (120 frames), as a session copy
    (hard links where the file system allows): whatever training writes beside a dataset (the
    decoded-frame cache) stays out of ../shared, which every other test zips and uploads."""
    import shutil

    source = shared_data / "udacity" / "real_sample"
    if not (source / "driving_log.csv").is_file():
        pytest.fail(f"real Udacity sample not found at {source}")
    path = tmp_path_factory.mktemp("shared") / "real_sample"
    (path / "IMG").mkdir(parents=True)
    shutil.copy2(source / "driving_log.csv", path / "driving_log.csv")
    for image in (source / "IMG").iterdir():
        try:
            os.link(image, path / "IMG" / image.name)
        except OSError:
            shutil.copy2(image, path / "IMG" / image.name)
    return path


@pytest.fixture
def archive(real_sample, tmp_path) -> bytes:
    """The real sample zipped under a top folder, as people upload it."""
    from tests.datasets.helpers import zip_folder

    return zip_folder(real_sample, tmp_path / "real_sample.zip", prefix="real_sample/").read_bytes()


@pytest.fixture(scope="session")
def tiny_models(request) -> Path:
    """The folder of tiny TFLite models and cards (tests.support.tiny_models), built once per
    version of the builder in a TensorFlow subprocess and kept in pytest's cache."""
    from tests.support.tiny_models import cached_tiny_models

    return cached_tiny_models(request.config.cache.mkdir("pitlane_tiny_models"))


@pytest.fixture(autouse=True)
def _fresh_channel_layer():
    """Channel layers cache connections per event loop; each test starts with a fresh one."""
    from channels.layers import channel_layers

    channel_layers.backends.clear()
    yield
    channel_layers.backends.clear()


# -- people and teams ---------------------------------------------------------------------------

@pytest.fixture
def make_user(django_user_model):
    counter = iter(range(1, 10_000))

    def make(username: str | None = None, password: str = "correct-horse-battery", **extra):
        username = username or f"user{next(counter)}"
        return django_user_model.objects.create_user(username=username, password=password,
                                                     email=f"{username}@example.com", **extra)

    return make


@pytest.fixture
def make_team(make_user):
    from webapp.accounts.services import create_team

    def make(name: str, captain=None):
        captain = captain or make_user()
        return create_team(user=captain, name=name)

    return make


@pytest.fixture
def team_a(make_team, make_user):
    return make_team("Team Alpha", captain=make_user("alice"))


@pytest.fixture
def team_b(make_team, make_user):
    return make_team("Team Bravo", captain=make_user("bob"))


# -- subprocesses against the test database ------------------------------------------------------

def subprocess_env() -> dict:
    from django.db import connection

    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "webapp.settings_test",
        "PITLANE_TEST_DB_NAME": str(connection.settings_dict["NAME"]),
        "PYTHONUNBUFFERED": "1",
    }


class WorkerProcess:
    """A real `celery worker` in its own process group, so a test can kill it like a crash would."""

    def __init__(self, queues: str = "training,evaluation,maintenance", name: str = "test"):
        self.queues = queues
        self.name = f"{name}-{os.getpid()}-{time.monotonic_ns()}@%h"
        self.process: subprocess.Popen | None = None
        self.log_path = ROOT / "var" / f"worker-{name}.log"

    def start(self) -> WorkerProcess:
        self.log_path.parent.mkdir(exist_ok=True)
        self._log = open(self.log_path, "w")  # noqa: SIM115 (the worker's stdout until stop())
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "webapp.celery", "worker", "-Q", self.queues,
             "--concurrency", "1", "--pool", "prefork", "--loglevel", "INFO", "-n", self.name,
             "--without-gossip", "--without-mingle", "--without-heartbeat"],
            cwd=ROOT, env=subprocess_env(), stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"celery worker exited early:\n{self.log_path.read_text()[-3000:]}")
            if "ready." in self.log_path.read_text():
                return self
            time.sleep(0.2)
        raise RuntimeError(f"celery worker not ready in 60 s:\n{self.log_path.read_text()[-3000:]}")

    def kill(self) -> None:
        """SIGKILL the whole process group: the worker dies without acking or cleaning up."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()
        if getattr(self, "_log", None):
            self._log.close()


@pytest.fixture
def purge_queues():
    from webapp.celery import app

    with app.connection_for_write() as conn:
        for queue in ("training", "evaluation", "maintenance"):
            conn.default_channel.queue_purge(queue)


@pytest.fixture
def celery_worker_process(transactional_db, purge_queues):
    worker = WorkerProcess().start()
    yield worker
    worker.stop()


@pytest.fixture
def make_worker(transactional_db, purge_queues):
    started: list[WorkerProcess] = []

    def make(**kwargs) -> WorkerProcess:
        worker = WorkerProcess(**kwargs).start()
        started.append(worker)
        return worker

    yield make
    for worker in started:
        worker.stop()


@pytest.fixture
def daphne_server(transactional_db):
    """Daphne (webapp.server: with the request body limit) serving the ASGI app (HTTP + websockets) on a
    free port, against the test database."""
    from webapp.embedded_redis import free_port

    port = free_port()
    log_path = ROOT / "var" / "daphne-test.log"
    log_path.parent.mkdir(exist_ok=True)
    log = open(log_path, "w")  # noqa: SIM115 (Daphne's stdout for the fixture's lifetime)
    process = subprocess.Popen(
        [sys.executable, "-m", "webapp.server", "-b", "127.0.0.1", "-p", str(port), "webapp.asgi:application"],
        cwd=ROOT, env=subprocess_env(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    import urllib.request

    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(url + "/api/v1/health/", timeout=1)
            break
        except Exception:  # noqa: BLE001
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"daphne did not start:\n{log_path.read_text()[-3000:]}") from None
            time.sleep(0.2)
    yield url
    # Daphne drains open sockets on SIGTERM; on a loaded machine that can outlast the wait, and a
    # server that passed its tests must not turn them into errors: then the group is killed.
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    log.close()
