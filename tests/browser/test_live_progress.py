"""A person watches a job's progress bar move live: Daphne, a real Celery worker, Redis and the
websocket, with no page reload."""

import re
import time

import pytest

from tests.browser.helpers import log_in
from webapp.jobs.models import Job
from webapp.jobs.services import start_job

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def bar_width(row) -> float:
    style = row.locator('[data-field="bar"]').get_attribute("style") or ""
    match = re.search(r"width:\s*([\d.]+)%", style)
    return float(match.group(1)) if match else 0.0


def test_progress_bar_moves_live_and_cancel_button_disappears(daphne_server, celery_worker_process,
                                                               new_page, team_a):
    alice = team_a.captain
    page = new_page()
    log_in(page, daphne_server, alice.username, "correct-horse-battery")
    page.goto(f"{daphne_server}/teams/{team_a.slug}/")
    page.wait_for_function("document.body.dataset.live === 'on'")
    page.evaluate("window.__noReload = true")

    job = start_job(team=team_a, user=alice, kind="test.countdown", params={"steps": 12, "delay_s": 0.4},
                    title="Live countdown")
    row = page.locator(f'tr[data-job-id="{job.pk}"]')
    row.wait_for()

    widths = []
    deadline = time.monotonic() + 45  # generous: CI machines are slow and shared
    while time.monotonic() < deadline:
        widths.append(bar_width(row))
        if row.get_attribute("data-status") == "succeeded":
            break
        page.wait_for_timeout(150)
    assert row.locator('[data-field="status"]').inner_text() == "Succeeded"
    moving = sorted({w for w in widths if 0 < w < 100})
    assert len(moving) >= 3, f"the bar should move in steps, saw {widths}"
    assert bar_width(row) == 100
    assert page.evaluate("window.__noReload") is True
    assert Job.objects.get(pk=job.pk).status == Job.Status.SUCCEEDED


def test_job_page_shows_live_metrics_and_cancel_works(daphne_server, celery_worker_process, new_page, team_a):
    alice = team_a.captain
    job = start_job(team=team_a, user=alice, kind="test.countdown", params={"steps": 300, "delay_s": 0.1})
    page = new_page()
    log_in(page, daphne_server, alice.username, "correct-horse-battery")
    page.goto(f"{daphne_server}/teams/{team_a.slug}/jobs/{job.pk}/")
    page.wait_for_function("document.querySelector('[data-live-job]').dataset.status === 'running'")
    page.locator('[data-field="metrics"] dt', has_text="step").wait_for()
    page.click('[data-field="cancel"] button')
    page.wait_for_function("document.querySelector('[data-live-job]').dataset.status === 'cancelled'",
                           timeout=15_000)
    assert Job.objects.get(pk=job.pk).status == Job.Status.CANCELLED
