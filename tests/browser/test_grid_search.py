"""A person starts a 4-point grid search from the training form, watches the runs' bars move on
the group page without reloading it, cancels one run there, and sees the other three ranked by
validation loss: Daphne, a real Celery worker, Redis and the websocket."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import in_thread, log_in
from tests.garage.helpers import ready_dataset
from webapp.garage.models import TrainedModel
from webapp.jobs.models import Job

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.slow, pytest.mark.django_db(transaction=True),
              pytest.mark.usefixtures("pitlane_dirs")]  # per-test folders, seen by Daphne and the worker

# Installed in every page load of the tab: records each bar value the websocket paints (server-
# rendered values are not mutations), across the reloads that finished runs cause.
RECORD_LIVE_BARS = """
document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("[data-grid-ranking] [role=progressbar]").forEach((bar) => {
    new MutationObserver(() => {
      const seen = JSON.parse(sessionStorage.getItem("bars") || "[]");
      seen.push(Number(bar.getAttribute("aria-valuenow")));
      sessionStorage.setItem("bars", JSON.stringify(seen));
    }).observe(bar, {attributes: true, attributeFilter: ["aria-valuenow"]});
  });
});
"""


def test_grid_of_four_runs_live_cancel_one_and_rank(served_static, daphne_server,
                                                    celery_worker_process, new_page, client, team_a,
                                                    real_sample, tmp_path):
    dataset = in_thread(ready_dataset, client, team_a, real_sample, tmp_path)
    page = new_page()
    page.add_init_script(RECORD_LIVE_BARS)
    log_in(page, daphne_server, team_a.captain.username, "correct-horse-battery")

    page.goto(f"{daphne_server}/teams/{team_a.slug}/models/train/?dataset={dataset.pk}")
    for name, value in {"name": "Grid", "epochs": "4", "batch_size": "16, 32",
                        "learning_rate": "0.001, 0.0003", "max_steps_per_epoch": "3",
                        "val_block_frames": "20", "val_gap_frames": "2", "saliency_samples": "1",
                        "saliency_gif_frames": "0"}.items():
        page.fill(f"input[name={name}]", value)
    page.click("form[data-train-form] button[type=submit]")
    page.wait_for_url(re.compile(r".*/models/groups/[\w-]+/$"))
    expect(page.locator("[data-grid-ranking] tbody tr")).to_have_count(4)
    assert in_thread(lambda: TrainedModel.objects.filter(team=team_a).count()) == 4

    # The worker runs one job at a time: the last run is still queued and cancels at once.
    last = page.locator("[data-grid-ranking] tbody tr").nth(3)
    cancelled_id = int(last.get_attribute("data-model-id"))
    last.get_by_role("button", name="Cancel").click()
    expect(page.locator(f'tr[data-model-id="{cancelled_id}"] [data-model-status]')).to_have_text("Cancelled")
    assert in_thread(lambda: Job.objects.get(trained_model__pk=cancelled_id).status) == Job.Status.CANCELLED

    # Each finished run reloads the page; in the end three are ready, ranked by val_loss.
    statuses = page.locator("[data-model-status]")
    expect(statuses).to_have_text(["Ready", "Ready", "Ready", "Cancelled"], timeout=240_000)
    losses = [float(t) for t in page.locator("[data-val-loss]").all_text_contents()[:3]]
    assert losses == sorted(losses)
    ranks = page.locator("[data-grid-ranking] tbody tr td.num:first-child").all_text_contents()
    assert ranks == ["1", "2", "3", "—"]
    # Bars moved over the websocket, without reloads, while the runs trained.
    painted = page.evaluate("JSON.parse(sessionStorage.getItem('bars') || '[]')")
    assert len({v for v in painted if 0 < v < 100}) >= 3, painted
