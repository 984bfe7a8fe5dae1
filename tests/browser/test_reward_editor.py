"""In headless Chromium: a team member creates a reward function from one of our examples, edits it
in the CodeMirror editor (line numbers, Python highlighting), saves and validates it on a track and
sees the reward heat map and trace drawn by Plotly; then a broken function shows its error with
the line, the button jumps the editor to that line, and the step's params are shown."""

from __future__ import annotations

import os

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import log_in
from tests.rewards.helpers import BROKEN
from webapp.rewards.models import RewardFunction

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = os.environ.get("PITLANE_SCREENSHOTS")  # a folder: keep screenshots to look at


def _shot(page, name: str) -> None:
    if SCREENSHOTS:
        page.screenshot(path=os.path.join(SCREENSHOTS, f"{name}.png"), full_page=True)


def test_write_validate_and_see_the_heat_map_then_a_broken_function(live_server, new_page, team_a):
    page = new_page(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    log_in(page, live_server.url, team_a.captain.username, "correct-horse-battery")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Reward functions").click()
    expect(page.get_by_role("heading", name="Reward functions")).to_be_visible()
    page.get_by_role("link", name="New reward function").click()

    page.get_by_label("Name").fill("Centre, tuned")
    page.get_by_text("Follow the centre line").click()
    _shot(page, "reward_new")
    page.get_by_role("button", name="Create and open the editor").click()
    page.wait_for_url("**/rewards/*/v1/")

    # The editor: CodeMirror with line numbers and Python highlighting, served by this server.
    page.locator("[data-reward-editor][data-editor-ready=yes]").wait_for()
    editor = page.locator(".CodeMirror")
    expect(editor).to_be_visible()
    assert page.locator(".CodeMirror-linenumber").filter(has_text="1").count() >= 1
    expect(page.locator(".CodeMirror .cm-keyword").filter(has_text="def").first).to_be_visible()
    expect(page.locator(".CodeMirror .cm-def").filter(has_text="reward_function")).to_be_visible()

    # Edit by typing at the end, then save and validate on a built-in track.
    page.locator(".CodeMirror-code").click()
    page.keyboard.press("Control+End")
    page.keyboard.press("Enter")
    page.keyboard.type("# tuned in the browser")
    expect(page.locator("[data-dirty]")).to_be_visible()
    page.get_by_label("Track").select_option("pitlane_loop")
    page.get_by_role("button", name="Save and validate").click()
    page.wait_for_url("**/rewards/*/v2/#validation", timeout=60_000)

    heatmap = page.locator("[data-reward-heatmap][data-rendered=yes]")
    heatmap.wait_for(timeout=30_000)
    page.locator("[data-reward-trace][data-rendered=yes]").wait_for()
    expect(page.locator("[data-verdict=ok]")).to_be_visible()
    expect(page.locator("[data-cars] tbody tr")).to_have_count(4)
    # The heat map holds the borders, the centre line and the 300 rewarded steps, coloured by reward.
    plotted = page.evaluate("""() => {
        const plot = document.querySelector('[data-reward-heatmap]');
        const reward = plot.data.find((t) => t.name === 'Reward');
        return {traces: plot.querySelectorAll('.scatterlayer .trace').length, points: reward.x.length,
                colours: new Set(reward.marker.color).size,
                drawn: plot.querySelectorAll('.scatterlayer .trace .points path').length};
    }""")
    assert plotted["traces"] >= 4 and plotted["points"] == 300 and plotted["drawn"] == 300, plotted
    assert plotted["colours"] > 1, plotted  # the reward varies along the drive
    _shot(page, "reward_validated")

    function = RewardFunction.objects.get(team=team_a)
    v2 = function.versions.get(number=2)
    assert v2.ok is True and v2.source.endswith("# tuned in the browser\n")

    # A broken function: its error, the line, a jump to it, and the params that broke it.
    page.evaluate("(source) => window.rewardEditor.setValue(source)", BROKEN)
    page.get_by_role("button", name="Save and validate").click()
    page.wait_for_url("**/rewards/*/v3/#validation", timeout=60_000)
    expect(page.locator("[data-verdict=failed]")).to_be_visible()
    issue = page.locator("[data-issue]").first
    expect(issue).to_contain_text("KeyError")
    expect(issue.locator("[data-params]")).to_contain_text('"all_wheels_on_track": false')
    page.locator("[data-reward-editor][data-editor-ready=yes]").wait_for()
    assert page.locator(".CodeMirror .cm-issue-line").count() >= 1
    issue.get_by_role("button", name="line 4").click()
    assert page.evaluate("window.rewardEditor.getCursor().line") == 3
    expect(page.locator(".CodeMirror .cm-jump-wrap")).to_contain_text('params["no_such_key"]')
    _shot(page, "reward_broken")
    assert function.versions.get(number=3).ok is False

    # The history: the list shows the latest version's verdict; the diff shows what changed.
    page.get_by_role("link", name="Compare versions").click()
    expect(page.locator("table.diff")).to_be_visible()
    expect(page.locator("table.diff .diff_add, table.diff .diff_chg").first).to_be_visible()
    expect(page.locator("table.diff")).to_contain_text("no_such_key")
    _shot(page, "reward_diff")
    page.get_by_role("link", name="Reward functions").first.click()
    row = page.locator("[data-reward-table] tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("v3")
    expect(row).to_contain_text("failed")
    _shot(page, "reward_list")


def test_a_source_past_the_limit_is_refused_in_the_editor_with_its_size(live_server, new_page, team_a):
    """1 MB pasted into the editor: the page says how large it is and what the limit is, keeps the
    text and saves nothing (sent as a form it was past Django's upload limit: a bare 400 page)."""
    from tests.rewards.helpers import make_function

    function = make_function(team_a)
    page = new_page(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    log_in(page, live_server.url, team_a.captain.username, "correct-horse-battery")
    page.goto(f"{live_server.url}/teams/{team_a.slug}/rewards/{function.pk}/v1/")
    page.locator("[data-reward-editor][data-editor-ready=yes]").wait_for()
    big = "def reward_function(params):\n    return 1.0\n" + "#" * (1 << 20) + "\n"
    page.evaluate("text => window.rewardEditor.setValue(text)", big)
    page.get_by_role("button", name="Save as new version").click()
    note = page.locator("[data-size-error]")
    expect(note).to_contain_text("at most 65,536 bytes (64 KB) are allowed")
    expect(note).to_contain_text("1,048,621 bytes")
    assert page.url.endswith(f"/rewards/{function.pk}/v1/")
    assert page.evaluate("() => window.rewardEditor.getValue()") == big  # the text is kept
    assert function.versions.count() == 1
