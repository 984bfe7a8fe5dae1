"""The RL pages in headless Chromium against Daphne: the action space table editor and its presets
write what the server receives, a clone shows what a new action space does to the policy, and the
live page's charts grow when the job's websocket says the job changed (no reload)."""

import json

import pytest

from tests.browser.helpers import in_thread, log_in
from tests.rl_web.helpers import validated_version
from training.rl.config import RLConfig
from webapp.garage.models import TrainedModel
from webapp.rl import services

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True),
              pytest.mark.usefixtures("pitlane_dirs", "purge_queues")]
PASSWORD = "correct-horse-battery"


def test_action_space_editor_presets_rows_and_clone_plan(daphne_server, new_page, team_a, tmp_path):
    version = validated_version(team_a)
    page = new_page()
    log_in(page, daphne_server, team_a.captain.username, PASSWORD)
    page.goto(f"{daphne_server}/teams/{team_a.slug}/rl/train/")
    rows = page.locator("[data-action-rows] tr")
    assert rows.count() == 10  # the console's default space, from the JSON box
    page.click('[data-preset="fast15"]')
    assert rows.count() == 15
    assert json.loads(page.input_value('textarea[name="action_space"]'))[-1] == {"steering_angle": 30, "speed": 3.5}
    rows.nth(0).locator("input").nth(1).fill("3.9")
    page.click("[data-add-action]")
    rows.nth(2).get_by_role("button", name="Remove").click()
    assert rows.count() == 15
    sent = json.loads(page.input_value('textarea[name="action_space"]'))
    assert sent[0] == {"steering_angle": -30, "speed": 3.9} and len(sent) == 15
    page.check('input[value="pitlane_loop:reverse"]')
    page.fill('input[name="name"]', "Edited in the table")
    page.fill('textarea[name="advanced_json"]', '{"max_seconds": 30}')
    page.screenshot(path=str(tmp_path / "rl_train.png"), full_page=True)
    page.click("[data-rl-train-form] button[type=submit]")
    page.wait_for_url("**/rl/models/*/")
    model = TrainedModel.objects.get(name="Edited in the table")
    config = RLConfig.from_dict(model.config)
    assert config.action_space == sent and [t.key for t in config.tracks] == ["pitlane_loop:reverse", "reinvent_base"]
    assert config.model_metadata().action_space.n == 15

    # A cancelled run is cloned; switching to a continuous space shows clone_plan's sentence.
    model.status = TrainedModel.Status.CANCELLED
    model.save(update_fields=["status"])
    page.goto(f"{daphne_server}/teams/{team_a.slug}/rl/train/?clone={model.pk}")
    plan = page.locator("[data-clone-plan]")
    says = "(text) => document.querySelector('[data-clone-plan]').textContent.includes(text)"
    page.wait_for_function(says, arg="every weight is kept")
    page.select_option('select[name="action_space_type"]', "continuous")
    page.wait_for_function(says, arg="from discrete to continuous")
    assert "policy head" in plan.inner_text()
    assert not page.locator("[data-continuous-editor]").is_hidden()
    page.fill('[data-range="speed.high"]', "3.8")
    page.check('input[name="confirm_head_change"]')
    page.fill('input[name="name"]', "Continuous clone")
    page.screenshot(path=str(tmp_path / "rl_clone.png"), full_page=True)
    page.click("[data-rl-train-form] button[type=submit]")
    page.wait_for_url("**/rl/models/*/")
    clone = TrainedModel.objects.get(name="Continuous clone")
    assert clone.cloned_from_id == model.pk and clone.config["action_space_type"] == "continuous"
    assert clone.config["action_space"]["speed"]["high"] == 3.8
    assert version.pk == clone.options["reward_version_id"]


def _iteration(i: int) -> dict:
    return {"iteration": i, "episodes": 5 * (i + 1), "steps": 900 * (i + 1), "elapsed_s": 10.0 * (i + 1),
            "eta_s": 600 - 10 * (i + 1), "reward_mean": 10.0 + i, "reward_min": 1.0, "reward_max": 30.0 + i,
            "eval_completion_pct": [20.0, 100.0, 60.0, 80.0][i], "best_iteration": 1 if i >= 1 else 0,
            "steps_per_s": 1100.0, "episodes_per_hour": 1800.0, "entropy": 2.2 - 0.1 * i, "kl": 0.01,
            "policy_loss": -0.01, "value_loss": 0.5,
            "episode_rows": [{"episode": 5 * i + k, "reward": 5.0 + k, "progress": 20.0 * k, "steps": 60,
                              "status": "off_track"} for k in range(5)]}


def test_live_charts_grow_over_the_websocket(daphne_server, new_page, team_a, tmp_path):
    from webapp.jobs.notify import notify_job

    version = validated_version(team_a)
    model = services.start_rl_training(team=team_a, user=team_a.captain, name="Live", reward_version=version,
                                       config=RLConfig().to_dict())
    for i in range(2):
        services.record_iteration(model, _iteration(i))
    page = new_page()
    log_in(page, daphne_server, team_a.captain.username, PASSWORD)
    page.goto(f"{daphne_server}/teams/{team_a.slug}/rl/models/{model.pk}/")
    page.wait_for_function("document.body.dataset.live === 'on'")
    page.evaluate("window.__noReload = true")
    page.wait_for_function("document.querySelector('[data-chart=\"reward\"]').dataset.points === '12'")
    for chart in ("reward", "progress", "evaluation", "entropy", "losses"):
        assert page.locator(f'[data-chart="{chart}"] .main-svg').count() >= 1, chart
    assert page.locator('[data-figure="best"]').inner_text() == "100 % (iteration 1)"
    assert page.locator('[data-figure="steps_per_s"]').inner_text() == "1,100"

    # Two more iterations; the worker's reporter would notify the job: the page fetches only those.
    for i in (2, 3):
        services.record_iteration(model, _iteration(i))
    in_thread(notify_job, model.job)
    page.wait_for_function("document.querySelector('[data-chart=\"reward\"]').dataset.points === '24'")
    assert page.locator('[data-figure="iteration"]').inner_text() == "4"  # iterations 0-3
    assert page.locator('[data-figure="eta"]').inner_text() == "9 min 20 s"
    # The best checkpoint's star sits on iteration 1 (100 %).
    star = page.evaluate("""() => {
        const plot = document.querySelector('[data-chart="evaluation"]');
        const trace = plot.data.find((t) => t.name === 'best checkpoint');
        return [trace.x, trace.y];
    }""")
    assert star == [[1], [100.0]]
    assert page.evaluate("window.__noReload") is True
    page.screenshot(path=str(tmp_path / "rl_live.png"), full_page=True)
    page.goto("about:blank")


@pytest.mark.worker
@pytest.mark.slow
def test_real_training_draws_live_then_offers_downloads(daphne_server, celery_worker_process, new_page, team_a,
                                                       tmp_path):
    from tests.rl_web.helpers import TINY

    validated_version(team_a)
    page = new_page()
    log_in(page, daphne_server, team_a.captain.username, PASSWORD)
    page.goto(f"{daphne_server}/teams/{team_a.slug}/rl/train/")
    page.fill('input[name="name"]', "Watched live")
    page.fill('textarea[name="advanced_json"]', json.dumps({**TINY, "max_seconds": 40}))
    page.click("[data-rl-train-form] button[type=submit]")
    page.wait_for_url("**/rl/models/*/")
    page.wait_for_function("document.body.dataset.live === 'on'")
    # While the job runs, the charts fill in from the websocket's notifications.
    page.wait_for_function("document.querySelector('[data-chart=\"evaluation\"]').dataset.drawn === 'true'"
                           " && document.querySelector('[data-live-job]').dataset.status === 'running'",
                           timeout=240_000)
    assert page.locator('[data-figure="steps_per_s"]').inner_text() != "—"
    page.screenshot(path=str(tmp_path / "rl_training_live.png"), full_page=True)
    # The page reloads when the job ends and offers the model's files.
    page.locator("text=Result and downloads").wait_for(timeout=240_000)
    with page.expect_download() as download:
        page.click("text=Console / DRfC archive")
    assert download.value.suggested_filename.endswith(".zip")
    model = TrainedModel.objects.get(name="Watched live")
    assert model.is_ready
    page.screenshot(path=str(tmp_path / "rl_ready.png"), full_page=True)
    page.goto("about:blank")  # close the websocket now, so Daphne has nothing left to wind down
