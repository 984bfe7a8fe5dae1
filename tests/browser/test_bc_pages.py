"""In headless Chromium, the behavioural-cloning pages of issue 13: the training form shows only
the chosen network's fields; a training model's loss chart grows live, over the job websocket and,
without one, by polling; a ready model's page draws the validation blocks as separate segments
with a range slider across the page and labelled heat maps inside their card; the grid page
shows the varied parameters and starts evaluations of the best runs."""

from __future__ import annotations

import io
import json
import os

import numpy as np
import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from playwright.sync_api import expect

from tests.browser.helpers import in_thread, log_in
from training.bc import plots
from webapp.evaluations.models import Evaluation
from webapp.garage.models import TrainedModel
from webapp.jobs.models import Job

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = os.environ.get("PITLANE_SCREENSHOTS")  # a folder: keep screenshots to look at
PASSWORD = "correct-horse-battery"


def _shot(page, name: str) -> None:
    if SCREENSHOTS:
        page.screenshot(path=os.path.join(SCREENSHOTS, f"{name}.png"), full_page=True)


def test_training_form_shows_the_fields_of_the_chosen_network(live_server, new_page, team_a):
    page = new_page(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    log_in(page, live_server.url, team_a.captain.username, PASSWORD)
    page.goto(f"/teams/{team_a.slug}/models/train/")
    inception_only = ["inception_cut", "head_conv_filters", "head_dense_units", "use_bottleneck_cache", "weights"]
    expect(page.locator('select[name="architecture"]')).to_have_value("pilotnet")
    for name in inception_only:
        expect(page.locator(f'[name="{name}"]')).to_be_hidden()
    expect(page.locator('[name="learning_rate"]')).to_be_visible()
    _shot(page, "bc_train_pilotnet")
    page.select_option('select[name="architecture"]', "inception_transfer")
    for name in inception_only:
        expect(page.locator(f'[name="{name}"]')).to_be_visible()
    _shot(page, "bc_train_inception")
    page.select_option('select[name="architecture"]', "pilotnet")
    expect(page.locator('[name="inception_cut"]')).to_be_hidden()


def _training_model(team, history):
    job = Job.objects.create(team=team, kind="garage.train_bc", status=Job.Status.RUNNING, progress=40,
                             title="Train Live", metrics={"epoch": "2 / 5", "val_loss": 0.2})
    return TrainedModel.objects.create(team=team, name="Live", job=job, history=history,
                                       config={"architecture": "pilotnet", "epochs": 5, "loss": "mae"})


def _points(page) -> str:
    return page.locator('[data-chart="loss"]').get_attribute("data-epochs") or ""


def test_loss_chart_grows_over_the_websocket(served_static, daphne_server, new_page, team_a):
    model = _training_model(team_a, {"loss": [0.3, 0.2], "val_loss": [0.25, 0.2]})
    page = new_page(base_url=daphne_server, viewport={"width": 1280, "height": 900})
    log_in(page, daphne_server, team_a.captain.username, PASSWORD)
    page.goto(f"/teams/{team_a.slug}/models/{model.pk}/")
    chart = page.locator('[data-chart="loss"][data-drawn="true"]')
    expect(chart).to_have_attribute("data-epochs", "2")
    expect(page.locator("body[data-live=on]")).to_have_count(1)
    assert page.locator('[data-chart="loss"] .scatterlayer .trace').count() == 3  # loss, val_loss, best

    def third_epoch():
        from webapp.jobs.notify import notify_job

        TrainedModel.objects.filter(pk=model.pk).update(
            history={"loss": [0.3, 0.2, 0.15], "val_loss": [0.25, 0.2, 0.18]})
        job = Job.objects.get(pk=model.job_id)
        job.metrics = {"epoch": "3 / 5", "val_loss": 0.18}
        job.save(update_fields=["metrics"])
        notify_job(job)

    in_thread(third_epoch)
    expect(chart).to_have_attribute("data-epochs", "3", timeout=4_000)  # before any 5 s poll
    expect(page.locator('[data-chart="loss"] .legendtext').filter(has_text="best so far: epoch 3")).to_have_count(1)
    _shot(page, "bc_live_loss")


# Without a websocket (a proxy that drops it): jobs.js marks the page not live, the chart polls.
NO_WEBSOCKET = """
window.WebSocket = class { constructor() { setTimeout(() => this.onclose && this.onclose(), 0); }
  addEventListener(type, fn) { if (type === "close") setTimeout(fn, 0); } };
"""


def test_loss_chart_polls_without_a_websocket(live_server, new_page, team_a):
    model = _training_model(team_a, {"loss": [0.3], "val_loss": [0.25]})
    page = new_page(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    page.add_init_script(NO_WEBSOCKET)
    log_in(page, live_server.url, team_a.captain.username, PASSWORD)
    page.goto(f"/teams/{team_a.slug}/models/{model.pk}/")
    expect(page.locator('[data-chart="loss"][data-drawn="true"]')).to_have_attribute("data-epochs", "1")
    TrainedModel.objects.filter(pk=model.pk).update(history={"loss": [0.3, 0.2], "val_loss": [0.25, 0.21]})
    expect(page.locator('[data-chart="loss"]')).to_have_attribute("data-epochs", "2", timeout=12_000)


def _png(width=400, height=150, shade=90) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (shade, 40, 200 - shade)).save(buffer, format="PNG")
    return buffer.getvalue()


def _publish_ready(model, frames: np.ndarray) -> None:
    rng = np.random.default_rng(0)
    true = np.sin(frames / 40.0) * 0.4
    predicted = true + rng.normal(0, 0.05, frames.size)
    history = {"loss": [0.3, 0.2, 0.15], "val_loss": [0.2, 0.1654, 0.1779]}
    model.artifacts_dir = f"teams/{model.team_id}/models/{model.pk}"
    figures = plots.training_figures(history, true, predicted, frames)
    for name, figure in figures.items():
        default_storage.save(model.artifact_name(f"plots/{name}.json"), ContentFile(json.dumps(figure).encode()))
    pngs = []
    for k in range(6):
        pngs.append(default_storage.save(model.artifact_name(f"heatmaps/frame_{k:03d}.png"),
                                         ContentFile(_png(shade=40 * k)))[len(model.artifacts_dir) + 1:])
    model.artifacts = {"plots": {name: f"plots/{name}.json" for name in figures},
                       "heatmaps": {"png": pngs, "gif": "", "labels": [
                           {"true": round(0.1 * k - 0.2, 4), "predicted": round(0.1 * k - 0.15, 4)} for k in range(6)]}}
    model.history = history
    model.metrics = {"val_loss": 0.1654, "val_mae": 0.1654, "best_epoch": 2.0, "epochs_completed": 3,
                     "stopped_early": False}
    model.config = {"architecture": "pilotnet", "loss": "mae", "epochs": 3, "learning_rate": 0.001,
                    "batch_size": 32, "inception_cut": "mixed0"}
    model.save()


def test_ready_model_page_reads_well(live_server, new_page, team_a, make_ready_model):
    model = make_ready_model(team_a, name="Udacity PilotNet")
    # Ten validation blocks of 700 frames spread over a 35,000-frame recording.
    frames = np.concatenate([np.arange(start, start + 700) for start in range(0, 35_000, 3_500)])
    _publish_ready(model, frames)
    page = new_page(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    log_in(page, live_server.url, team_a.captain.username, PASSWORD)
    page.goto(f"/teams/{team_a.slug}/models/{model.pk}/")
    facts = page.locator("[data-validation-facts]")
    expect(facts).to_contain_text("epoch 2 kept")
    expect(facts).not_to_contain_text("Validation MAE")
    if SCREENSHOTS:
        facts.screenshot(path=os.path.join(SCREENSHOTS, "bc_model_facts.png"))
    wide = page.locator(".figure-wide .plot[data-drawn=true]")
    expect(wide).to_have_count(1)
    card_width = page.locator(".figure-wide").bounding_box()["width"]
    main_width = page.locator("main").bounding_box()["width"] if page.locator("main").count() else 1280
    assert card_width > 0.8 * main_width
    expect(wide.locator(".rangeslider-container")).to_have_count(1)
    # Ten blocks, ten separate segments per line: Plotly draws one path per run of points
    # between the gaps (one path for the old single line over all frames).
    expect(wide.locator(".cartesianlayer .scatterlayer .trace").first.locator("path.js-line")).to_have_count(10)
    # Heat maps are labelled and stay inside their card.
    labels = page.locator("[data-heatmap-label]")
    expect(labels).to_have_count(6)
    expect(labels.first).to_contain_text("true -0.200")
    card = page.locator(".heatmap-strip").bounding_box()
    for image in page.locator(".heatmap-strip img").all():
        image.scroll_into_view_if_needed()
        box = image.bounding_box()
        assert box["x"] >= card["x"] - 1 and box["x"] + box["width"] <= card["x"] + card["width"] + 1
    page.locator(".figure-wide").scroll_into_view_if_needed()
    _shot(page, "bc_model_ready")


def test_grid_page_columns_and_evaluate_the_best(live_server, new_page, team_a, make_ready_model):
    runs = []
    for rate, size, loss in [(0.001, 16, 0.09), (0.0003, 16, 0.03), (0.001, 32, 0.05), (0.0003, 32, None)]:
        status = TrainedModel.Status.READY if loss is not None else TrainedModel.Status.FAILED
        model = make_ready_model(team_a, name=f"Grid [learning_rate={rate}, batch_size={size}]", status=status)
        model.group_key = "g-browser"
        model.config = {"architecture": "pilotnet", "loss": "mae", "learning_rate": rate, "batch_size": size}
        model.metrics = {"val_loss": loss, "val_mae": loss} if loss is not None else {}
        model.save()
        runs.append(model)
    page = new_page(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    log_in(page, live_server.url, team_a.captain.username, PASSWORD)
    page.goto(f"/teams/{team_a.slug}/models/groups/g-browser/")
    expect(page.locator("th[data-varied-param]")).to_have_text(["Learning rate", "Batch size"])
    _shot(page, "bc_grid")
    form = page.locator("form[data-evaluate-best]")
    form.locator('input[name="count"]').fill("2")
    form.locator('input[name="trials"]').fill("1")
    form.get_by_role("button", name="Start evaluations").click()
    page.wait_for_url("**/evaluations/")
    assert set(Evaluation.objects.values_list("model_id", flat=True)) == {runs[1].pk, runs[2].pk}
