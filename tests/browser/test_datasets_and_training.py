"""A person uploads a driving log with a visible progress bar, watches it ingest, starts a
PilotNet run from the browser, watches the live bar and metrics move, and sees the model page's
Plotly figures and heat maps: Daphne, a real Celery worker, Redis and the websocket."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import log_in
from tests.datasets.helpers import zip_folder

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.slow, pytest.mark.django_db(transaction=True),
              pytest.mark.usefixtures("pitlane_dirs")]  # per-test folders, seen by Daphne and the worker

# Keeps, across page loads of the tab, every value a progress bar showed (sessionStorage).
RECORD_BAR = """([selector, key]) => {
  const el = document.querySelector(selector);
  const seen = JSON.parse(sessionStorage.getItem(key) || "[]");
  const note = () => {
    const box = el.closest("[data-upload-progress]") || el;
    seen.push({value: Number(el.getAttribute("aria-valuenow")), visible: !box.hidden && box.offsetParent !== null,
               metrics: (document.querySelector('[data-field="metrics"]') || {}).textContent || ""});
    sessionStorage.setItem(key, JSON.stringify(seen));
  };
  new MutationObserver(note).observe(el,
    {attributes: true, subtree: true, attributeFilter: ["aria-valuenow", "style"]});
}"""


def seen(page, key):
    return page.evaluate(f"JSON.parse(sessionStorage.getItem('{key}') || '[]')")


def test_upload_ingest_train_watch_and_see_plots(served_static, daphne_server, celery_worker_process, new_page,
                                                 team_a, real_sample, tmp_path):
    archive = zip_folder(real_sample, tmp_path / "real_sample.zip", prefix="data/")
    page = new_page()
    log_in(page, daphne_server, team_a.captain.username, "correct-horse-battery")
    page.get_by_role("link", name="Datasets").first.click()
    expect(page.get_by_role("heading", name="Datasets", exact=True)).to_be_visible()

    # Upload: the XHR's progress events move a visible bar to 100 %.
    page.set_input_files("input[name=file]", str(archive))
    page.fill("input[name=name]", "Real sample")
    page.evaluate(RECORD_BAR, ["[data-upload-progress] [role=progressbar]", "upload"])
    page.click("[data-upload-button]")
    page.wait_for_url(re.compile(r".*/datasets/\d+/$"))
    upload = seen(page, "upload")
    assert upload and upload[-1]["value"] == 100 and all(v["visible"] for v in upload), upload

    # Ingestion runs on the worker; the page reloads itself when it is done and draws the plots.
    expect(page.locator('[data-stat="frames"]')).to_have_text("120", timeout=60_000)
    expect(page.locator(".js-plotly-plot")).to_have_count(2, timeout=20_000)
    assert page.locator(".frame-strip img").count() == 8

    # Train a small PilotNet from the form, then watch the bar and metrics move live.
    page.get_by_role("link", name="Train on this dataset").click()
    for name, value in {"name": "Browser PilotNet", "epochs": "8", "batch_size": "16", "max_steps_per_epoch": "3",
                        "val_block_frames": "20", "val_gap_frames": "2", "saliency_samples": "3",
                        "saliency_gif_frames": "6"}.items():
        page.fill(f"input[name={name}]", value)
    page.click("form[data-train-form] button[type=submit]")
    page.wait_for_url(re.compile(r".*/models/\d+/$"))
    page.evaluate(RECORD_BAR, ["[data-live-job] [role=progressbar]", "training"])
    expect(page.locator('[data-model-status]')).to_have_text("Ready", timeout=120_000)
    expect(page.locator(".js-plotly-plot")).to_have_count(4, timeout=20_000)
    training = seen(page, "training")
    moving = sorted({v["value"] for v in training if 0 < v["value"] < 100})
    assert len(moving) >= 3, training  # the bar moved in steps before the run finished
    assert any("epoch" in v["metrics"] and "val_loss" in v["metrics"] and "eta" in v["metrics"] for v in training)

    heatmaps = page.locator(".heatmap-strip img")
    expect(heatmaps).to_have_count(3)
    page.wait_for_function("[...document.querySelectorAll('.heatmap-strip img, .heatmap-gif')]"
                           ".every(img => img.complete && img.naturalWidth > 0)")
    assert page.get_by_role("link", name="Clone configuration").is_visible()
