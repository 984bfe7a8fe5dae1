"""A job kind that only the test settings register: counts down, reporting progress, so the
plumbing (worker, Redis, websocket, cancel, crash recovery) can be tested before real jobs."""

from __future__ import annotations

import os
import time


def countdown(job, reporter) -> dict:
    steps = int(job.params.get("steps", 10))
    delay = float(job.params.get("delay_s", 0.2))
    # Each execution appends a line to a file named by the test, so it can count real runs.
    marker = job.params.get("marker")
    if marker:
        with open(marker, "a") as fh:
            fh.write(f"{os.getpid()} attempt {job.attempts}\n")
    start = int(job.metrics.get("step", 0))  # resume where a dead worker stopped
    for step in range(start, steps):
        reporter.check_cancelled()
        time.sleep(delay)
        reporter.progress(100.0 * (step + 1) / steps, f"Step {step + 1} of {steps}", step=step + 1)
        reporter.log(f"step {step + 1}")
    if job.params.get("fail"):
        raise ValueError("asked to fail")
    return {"steps": steps, "pid": os.getpid(), "ran_from": start}


def start_countdown_from_web(client, user, team, **params):
    """Start a countdown job the way a person does: signed in, through the test-only start view
    (tests/support/urls.py); returns the Job the view redirected to."""
    from webapp.jobs.models import Job

    client.force_login(user)
    response = client.post(f"/teams/{team.slug}/test-countdown/", params)
    assert response.status_code == 302
    return Job.objects.get(pk=int(response.url.rstrip("/").split("/")[-1]))
