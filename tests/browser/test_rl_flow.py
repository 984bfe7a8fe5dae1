"""Issue 10's "done when", end to end in headless Chromium against Daphne and a real Celery worker
(the real reward sandbox, the real PPO trainer with a budget of seconds): a team writes a reward
function from an example, validates it and sees the preview heat map; trains an RL model watching
the live charts; opens the ready model's log-analysis page; evaluates the model on pitlane_loop;
registers for the demo league's virtual time trial and submits the evaluation's laps; creates an
API token and drives the model with `drive_agent --model-id N --target sim`.

Screenshots go to $PITLANE_SCREENSHOTS when set (else the test's tmp folder)."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from tests.browser.helpers import log_in
from tests.rl_web.helpers import TINY
from tests.support.paths import ROOT
from webapp.evaluations.models import Evaluation
from webapp.garage.models import TrainedModel
from webapp.leagues.models import Event, LapResult

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.slow,
              pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("pitlane_dirs")]
PASSWORD = "correct-horse-battery"
#: Seconds of training: enough for a few iterations with an evaluation, not for a lap.
TRAIN_SECONDS = 30


def test_reward_to_league_and_drive_agent(daphne_server, celery_worker_process, new_page, team_a, tmp_path):
    shots = Path(os.environ.get("PITLANE_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)

    def shot(page, name: str) -> None:
        page.screenshot(path=str(shots / f"rl_flow_{name}.png"), full_page=True)

    call_command("seed_demo", stdout=io.StringIO())
    event = Event.objects.get(kind=Event.Kind.VIRTUAL, league__name="Pitlane Demo League")
    assert event.track == "pitlane_loop"
    page = new_page(viewport={"width": 1280, "height": 900})
    log_in(page, daphne_server, team_a.captain.username, PASSWORD)

    # 1. A reward function from one of our examples, validated on the event's track: the preview
    # drive's reward heat map renders.
    page.goto(f"{daphne_server}/teams/{team_a.slug}/rewards/new/")
    page.get_by_label("Name").fill("Centre line")
    page.get_by_text("Follow the centre line").click()
    page.get_by_role("button", name="Create and open the editor").click()
    page.wait_for_url("**/rewards/*/v1/")
    page.locator("[data-reward-editor][data-editor-ready=yes]").wait_for()
    page.get_by_label("Track").select_option("pitlane_loop")
    page.get_by_role("button", name="Save and validate").click()
    page.wait_for_url(re.compile(r".*/rewards/\d+/v\d+/#validation"), timeout=60_000)
    page.locator("[data-reward-heatmap][data-rendered=yes]").wait_for(timeout=60_000)
    expect(page.locator("[data-verdict=ok]")).to_be_visible()
    shot(page, "1_reward_validated")

    # 2. Train with it on pitlane_loop, a budget of seconds; the live charts draw while it runs.
    page.locator("[data-train-link]").click()
    page.wait_for_url("**/rl/train/?reward=*")
    page.fill('input[name="name"]', "E2E PPO")
    for box in page.locator('input[name="tracks"]:checked').all():
        box.uncheck()
    page.check('input[name="tracks"][value="pitlane_loop"]')
    page.fill('textarea[name="advanced_json"]', json.dumps({**TINY, "max_seconds": TRAIN_SECONDS}))
    shot(page, "2_train_form")
    page.click("[data-rl-train-form] button[type=submit]")
    page.wait_for_url("**/rl/models/*/")
    model = TrainedModel.objects.get(name="E2E PPO")
    assert model.kind == TrainedModel.Kind.REINFORCEMENT and model.config["tracks"] == [
        {"name": "pitlane_loop", "reverse": False}]
    page.wait_for_function("document.body.dataset.live === 'on'")
    page.wait_for_function("Number(document.querySelector('[data-chart=\"reward\"]').dataset.points || 0) > 0",
                           timeout=240_000)
    shot(page, "3_training_live")

    # 3. The job ends, the page reloads into a ready model with its log-analysis page.
    page.locator("text=Result and downloads").wait_for(timeout=240_000)
    model.refresh_from_db()
    assert model.is_ready and model.card["kind"] == "discrete_actions", (model.status, model.job.error)
    # The ready page draws the whole training history (fetched after the reload).
    page.wait_for_function("document.querySelector('[data-figure=iteration]').textContent.trim() !== '—'",
                           timeout=30_000)
    assert int(page.locator("[data-figure=iteration]").inner_text()) >= 1
    assert page.locator("[data-chart=reward] .scatterlayer .trace").count() >= 1
    shot(page, "4_model_ready")
    page.get_by_role("link", name="Log analysis").click()
    page.wait_for_url("**/analysis/")
    page.wait_for_function("document.body.dataset.analysisDrawn === 'yes'", timeout=30_000)
    for key in ("reward_heatmap", "actions", "paths", "completion", "reward", "lap_times"):
        assert page.locator(f'[data-analysis-figure="{key}"][data-rendered=yes] .main-svg').count() >= 1, key
    heat = page.evaluate("""() => document.querySelector('[data-analysis-figure="reward_heatmap"]').data
                                .map((t) => t.type || 'scatter')""")
    assert "heatmap" in heat
    expect(page.locator("[data-raw-logs]")).to_contain_text("logs/robomaker.log")
    shot(page, "5_log_analysis")

    # 4. Evaluate it on the event's track (the form offers no set speed: its actions carry speeds).
    page.goto(f"{daphne_server}/teams/{team_a.slug}/rl/models/{model.pk}/")
    form = page.locator("form.evaluation-form")
    assert form.locator('input[name="set_speed"]').count() == 0
    expect(form.locator("[data-action-speeds]")).to_be_visible()
    form.locator("select[name=track]").select_option("pitlane_loop")
    form.locator("input[name=trials]").fill("2")
    form.locator("input[name=time_limit_s]").fill("20")
    form.locator("button[type=submit]").click()
    page.wait_for_url("**/evaluations/*/")
    page.locator("[data-track-plot][data-rendered=yes]").wait_for(timeout=180_000)
    evaluation = Evaluation.objects.get(model=model)
    assert evaluation.is_done and len(evaluation.summary["trials"]) == 2
    shot(page, "6_evaluated")

    # 5. Register for the virtual time trial and submit the evaluation's laps.
    page.goto(f"{daphne_server}{event.get_absolute_url()}")
    expect(page.locator("[data-track-facts]")).to_contain_text("DeepRacer-scale track")
    page.get_by_role("button", name=f"Register {team_a.name}").click()
    expect(page.locator(f'[data-entry-model="{model.pk}"]')).to_be_visible()
    page.goto(f"{daphne_server}{evaluation.get_absolute_url()}")
    page.get_by_role("button", name="Submit to the event").click()
    page.wait_for_url(f"**{event.get_absolute_url()}")
    laps = list(LapResult.objects.filter(event=event, team=team_a).order_by("lap_number"))
    assert len(laps) == 2 and all(lap.source == LapResult.Source.EVALUATION for lap in laps)
    board = page.locator("table.leaderboard")
    expect(board).to_contain_text(team_a.name)
    expect(board).to_contain_text(f"{sum(lap.valid for lap in laps)} / 2")
    shot(page, "7_leaderboard")

    # 6. An API token from the team's page, then the drive agent fetches and drives the model.
    page.goto(f"{daphne_server}/teams/{team_a.slug}/tokens/")
    page.get_by_label("Name").fill("laptop")
    page.locator("[data-token-form] button[type=submit]").click()
    token = page.locator("#new-token").inner_text().strip()
    assert token.startswith("plt_")
    out = tmp_path / "drive"
    drive = subprocess.run(
        [sys.executable, "-m", "drive_agent", "--model-id", str(model.pk), "--server", daphne_server,
         "--token", token, "--cache-dir", str(tmp_path / "cache"), "--target", "sim", "--track", "pitlane_loop",
         "--max-time", "10", "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert drive.returncode == 0, drive.stderr[-2000:]
    assert "pitlane_loop: completion" in drive.stdout and "latency over" in drive.stdout
    (evaluation,) = out.glob("evaluation-[0-9]*")  # deepracer-for-cloud's layout
    summary = json.loads((evaluation / "summary.json").read_text())
    assert summary["model_kind"] == "discrete_actions" and summary["steps"] > 0
    with (evaluation / "evaluation-simtrace" / "0-iteration.csv").open() as fh:
        actions = {int(line.split(",")[7]) for line in list(fh)[1:]}
    assert actions <= set(range(len(model.card["action_space"])))
