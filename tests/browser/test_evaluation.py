"""A team member starts an evaluation from the model page, watches the live bar reach
Succeeded (Daphne, a real Celery worker, the websocket), and the page then shows the Plotly track
plot and the lap table."""

from __future__ import annotations

import pytest

from simulator.limit import physics_fingerprint
from tests.browser.helpers import log_in
from webapp.evaluations.models import Evaluation, TrackLimit

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_start_evaluation_from_model_page_and_see_the_plot(daphne_server, celery_worker_process, new_page,
                                                           team_a, make_ready_model):
    model = make_ready_model(team_a, name="Browser model")
    # The limit solver's seconds are covered by the worker test; here the cache answers.
    TrackLimit.objects.create(track="pitlane_hairpin", direction="counterclockwise", profile="deepracer",
        physics=physics_fingerprint("deepracer"),
                              lap_time_s=8.0, line_length_m=21.0)
    page = new_page()
    # Remember, across the reload that follows success, what the live block showed.
    page.add_init_script("""
      document.addEventListener("DOMContentLoaded", () => {
        const live = document.querySelector("[data-live-job]");
        if (!live) return;
        new MutationObserver(() => {
          const bar = live.querySelector('[data-field="bar"]').style.width;
          const seen = JSON.parse(sessionStorage.getItem("seen") || "[]");
          seen.push([live.dataset.status, bar]);
          sessionStorage.setItem("seen", JSON.stringify(seen));
        }).observe(live, { attributes: true, subtree: true, attributeFilter: ["data-status", "style"] });
      });
    """)
    log_in(page, daphne_server, team_a.captain.username, "correct-horse-battery")
    page.goto(f"{daphne_server}{model.get_absolute_url()}")
    form = page.locator("form.evaluation-form")
    form.locator("select[name=track]").select_option("pitlane_hairpin")
    form.locator("input[name=trials]").fill("2")
    form.locator("button[type=submit]").click()

    page.wait_for_url("**/evaluations/*/")
    live = page.locator("[data-live-job]")
    live.wait_for()
    page.wait_for_function("document.body.dataset.live === 'on'")
    # The live block flips to Succeeded over the websocket, then the page reloads with the results.
    page.locator("[data-track-plot][data-rendered=yes]").wait_for(timeout=90_000)
    seen = page.evaluate("JSON.parse(sessionStorage.getItem('seen') || '[]')")
    assert ["succeeded", "100%"] in seen, seen
    assert page.locator("[data-live-job]").count() == 0  # reloaded into the results
    assert page.locator(".js-plotly-plot .scatterlayer .trace").count() == 4
    rows = page.locator("[data-lap-table] tbody tr")
    assert rows.count() == 2
    assert "Lap complete" in rows.first.inner_text()
    assert "8.000 s" in page.locator("[data-track-limit]").inner_text()

    evaluation = Evaluation.objects.get(model=model)
    assert evaluation.job.status == "succeeded" and evaluation.summary["completed_laps"] == 2
