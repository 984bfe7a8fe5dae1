"""The reporter a running job talks to: progress, metrics and log lines go to the database
(throttled) and a notification goes to the team's browsers; cancellation is read back from the
database flag so that a cancel works whichever worker runs the job.

A handler stops on a cancel with `reporter.check_cancelled()`, or hands `reporter.cancel_requested`
as `should_stop` to a plain function; either way `simulator.stopping.Stopped` reaches the runner,
which records the job as cancelled."""

from __future__ import annotations

import math
import threading
import time
from collections import deque

from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone

from simulator.stopping import Stopped

from .models import Job
from .notify import notify_job


class JobReporter:
    def __init__(self, job: Job, *, min_interval_s: float = 0.5, log_lines: int = 200):
        self.job = job
        self.min_interval_s = min_interval_s
        self._lines: deque[str] = deque(job.log_tail.splitlines()[-log_lines:], maxlen=log_lines)
        self._last_write = 0.0
        self._last_cancel_check = 0.0
        self._cancelled = False
        self._lock = threading.Lock()

    # -- what jobs call ------------------------------------------------------------------------
    def progress(self, percent: float, message: str | None = None, *, force: bool = False, **metrics) -> None:
        """Record progress (0-100). Writes at most every `min_interval_s` unless forced."""
        if not math.isfinite(percent):
            percent = 0.0
        with self._lock:
            self.job.progress = min(100.0, max(0.0, float(percent)))
            if message is not None:
                self.job.message = message[:300]
            if metrics:
                self.job.metrics = {**self.job.metrics, **metrics}
            now = time.monotonic()
            if force or now - self._last_write >= self.min_interval_s:
                self._flush(now)

    def log(self, line: str) -> None:
        with self._lock:
            for part in str(line).splitlines() or [""]:
                self._lines.append(part)

    def check_cancelled(self) -> None:
        """Raise `simulator.stopping.Stopped` when the user asked to cancel. Cheap to call often."""
        if self.cancel_requested():
            raise Stopped("Cancelled by request")

    def cancel_requested(self) -> bool:
        """Whether the job's cancel flag is set (read from the database at most every 0.5 s):
        the `should_stop` callback of the plain functions a handler calls."""
        now = time.monotonic()
        if not self._cancelled and now - self._last_cancel_check >= min(self.min_interval_s, 0.5):
            self._last_cancel_check = now
            self._cancelled = Job.objects.filter(pk=self.job.pk, cancel_requested=True).exists()
        return self._cancelled

    # -- used by the runner --------------------------------------------------------------------
    def flush(self) -> None:
        with self._lock:
            self._flush(time.monotonic())

    @property
    def log_tail(self) -> str:
        return "\n".join(self._lines)[-Job.LOG_TAIL_CHARS:]

    def _flush(self, now: float) -> None:
        self._last_write = now
        fields = dict(
            progress=self.job.progress, message=self.job.message, metrics=self.job.metrics,
            log_tail=self.log_tail, heartbeat=timezone.now(),
        )
        # Only a running job is ours to update: a job failed by the reaper stays failed.
        Job.objects.filter(pk=self.job.pk, status=Job.Status.RUNNING).update(**fields)
        self.job.log_tail = fields["log_tail"]
        notify_job(self.job)


class Heartbeat:
    """Keeps `Job.heartbeat` fresh from a thread while the job's own code blocks (a TF epoch)."""

    def __init__(self, job_id: int, interval_s: float | None = None):
        self.job_id = job_id
        self.interval_s = interval_s or settings.JOB_HEARTBEAT_INTERVAL_S
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"job-{job_id}-heartbeat", daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        try:
            while not self._stop.wait(self.interval_s):
                Job.objects.filter(pk=self.job_id, status=Job.Status.RUNNING).update(heartbeat=timezone.now())
        finally:
            close_old_connections()
