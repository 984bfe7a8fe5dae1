"""In real browsers against Daphne (HTTP + websockets) and Redis: a timekeeper runs an attempt from the
console (start, three laps with the space bar, a reset, an undo, end) while a spectator on the public
event page sees each lap arrive without reloading; a second timekeeper's console shows the same laps,
and both pressing "lap" at the same moment record one lap."""

import os
import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from tests.browser.helpers import log_in
from webapp.leagues.models import Attempt, AuditEntry, Event, LapResult, League
from webapp.leagues.services import make_organiser

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct-horse-battery"
SCREENSHOTS = os.environ.get("PITLANE_SCREENSHOTS")  # a folder: keep screenshots to look at

# Page-side instrumentation: hold this console's state reads back for a while, so that it still shows
# the version it had when the other console's lap arrives (two presses "at the same moment").
SLOW_READS = """() => {
  const real = window.fetch;
  window.fetch = (url, options) => (options && options.method === "POST") ? real(url, options)
    : new Promise((resolve) => setTimeout(resolve, 2500)).then(() => real(url, options));
}"""


def shot(page, name, tmp_path):
    folder = SCREENSHOTS or str(tmp_path)
    os.makedirs(folder, exist_ok=True)
    page.screenshot(path=os.path.join(folder, f"console-{name}.png"), full_page=True)


@pytest.fixture
def race_day(make_user, team_a, team_b):
    league = League.objects.create(name="Harbour League")
    organiser = make_user("olive")
    make_organiser(organiser, league)
    timekeeper = make_user("tim")
    starts = timezone.now() - timedelta(hours=1)
    event = Event.objects.create(league=league, name="Race day", track="reinvent_base", starts=starts,
                                 ends=starts + timedelta(hours=6), kind=Event.Kind.PHYSICAL,
                                 status=Event.Status.RUNNING, attempt_time_s=120.0,
                                 min_plausible_lap_s=0.1)  # the test laps are ~0.5 s (the track's default is 7 s+)
    event.timekeepers.add(timekeeper)
    event.registrations.create(team=team_a)
    event.registrations.create(team=team_b)
    return event, organiser, timekeeper


def open_console(new_page, base_url, event, username):
    page = new_page()
    log_in(page, base_url, username, PASSWORD)
    page.goto(f"{base_url}/leagues/{event.league.slug}/events/{event.pk}/console/")
    expect(page.locator("[data-conn]")).to_have_text("Live")
    return page


def lap_cells(page):
    return page.locator("[data-laps] tr td.lap-time")


def test_a_timekeeper_runs_an_attempt_while_the_public_board_follows(daphne_server, new_page, race_day, team_a,
                                                                     tmp_path):
    event, organiser, timekeeper = race_day
    board = new_page()  # a spectator, not logged in
    board.goto(f"{daphne_server}{event.get_absolute_url()}")
    board.wait_for_selector("[data-live-board][data-board-live='1']")
    board.evaluate("window.__noReload = true")
    row = board.locator(f"tbody[data-board-rows] tr[data-team-id='{team_a.pk}']")
    expect(row.locator("td.laps")).to_have_text("0 / 0")

    console = open_console(new_page, daphne_server, event, timekeeper.username)
    console.select_option("[data-team]", label="Team Alpha")
    console.get_by_role("button", name="Put on track").click()
    expect(console.locator("[data-team-name]")).to_have_text("Team Alpha")
    expect(console.locator("[data-status]")).to_have_text("Ready")
    console.locator("[data-action=start]").click()
    expect(console.locator("[data-status]")).to_have_text("Running")
    # The race timer counts down on its own.
    first = console.locator("[data-remaining]").inner_text()
    console.wait_for_timeout(600)
    assert console.locator("[data-remaining]").inner_text() != first
    assert first.startswith(("2:00", "1:59"))

    # The row of the team on track stays a table row (board.css gave every .on-track flex layout).
    expect(row.locator(".pill")).to_have_text("on track")
    assert row.evaluate("r => getComputedStyle(r).display") == "table-row"
    for n in (1, 2, 3):
        console.wait_for_timeout(400)
        console.keyboard.press(" ")
        expect(lap_cells(console)).to_have_count(n)
        expect(row.locator("td.laps")).to_have_text(f"{n} / {n}")  # the spectator, without a reload
    shot(board, "board-after-three-laps", tmp_path)

    console.keyboard.press("+")
    expect(console.locator("[data-resets]")).to_have_text("1")
    expect(board.locator("[data-ot-resets]")).to_have_text("1")
    console.keyboard.press("u")  # undo the reset
    expect(console.locator("[data-resets]")).to_have_text("0")
    expect(board.locator("[data-ot-resets]")).to_have_text("0")
    shot(console, "running", tmp_path)
    console.locator("[data-action=end]").click()
    expect(console.locator("[data-status]")).to_have_text("Finished")
    expect(board.locator("[data-on-track]")).to_be_hidden()
    expect(row.locator("td.rank")).to_have_text("1")
    assert board.evaluate("window.__noReload") is True

    attempt = Attempt.objects.get()
    assert attempt.status == Attempt.Status.FINISHED
    laps = list(LapResult.objects.filter(attempt=attempt).order_by("lap_number"))
    assert [lap.lap_number for lap in laps] == [1, 2, 3]
    assert [lap.resets for lap in laps] == [0, 0, 0]
    assert all(lap.lap_time_s > 0.3 for lap in laps)
    shown = [float(re.sub(r"[^\d.]", "", text)) for text in lap_cells(console).all_inner_texts()]
    assert shown == [lap.lap_time_s for lap in laps]
    assert list(AuditEntry.objects.order_by("pk").values_list("action", flat=True)) == [
        "attempt_started", "lap_added", "lap_added", "lap_added", "reset_added", "undo", "attempt_ended"]

    # A reload shows the same state; the organiser reads every change in the audit log.
    console.reload()
    expect(lap_cells(console)).to_have_count(3)
    expect(console.locator("[data-status]")).to_have_text("Finished")
    audit = new_page()
    log_in(audit, daphne_server, organiser.username, PASSWORD)
    audit.goto(f"{daphne_server}/leagues/{event.league.slug}/events/{event.pk}/audit/")
    expect(audit.locator("tr[data-audit-action]")).to_have_count(7)
    expect(audit.locator("tr.undone")).to_have_count(1)
    expect(audit.locator("tr[data-audit-action=lap_added]").first).to_contain_text("lap #1:")
    shot(audit, "audit-log", tmp_path)


def test_two_consoles_see_the_same_laps_and_never_double_count(daphne_server, new_page, race_day, team_b, tmp_path):
    event, organiser, timekeeper = race_day
    first = open_console(new_page, daphne_server, event, timekeeper.username)
    second = open_console(new_page, daphne_server, event, organiser.username)
    first.select_option("[data-team]", label="Team Bravo")
    first.get_by_role("button", name="Put on track").click()
    # The second console follows the team put on track elsewhere, without a reload.
    expect(second.locator("[data-team-name]")).to_have_text("Team Bravo")
    first.locator("[data-action=start]").click()
    expect(second.locator("[data-status]")).to_have_text("Running")
    first.wait_for_timeout(500)
    first.keyboard.press(" ")
    expect(lap_cells(first)).to_have_count(1)
    expect(lap_cells(second)).to_have_count(1)  # from the other console, live

    # Both press lap at the same moment: the second console still shows the version before the first
    # console's lap (its reads are held back), so the server refuses its press.
    second.evaluate(SLOW_READS)
    first.wait_for_timeout(500)
    first.keyboard.press(" ")
    second.keyboard.press(" ")
    message = second.locator("[data-message]")
    expect(message).to_contain_text("Another console recorded “Lap added” (tim,")
    expect(lap_cells(first)).to_have_count(2)
    expect(lap_cells(second)).to_have_count(2)
    assert LapResult.objects.count() == 2
    shot(second, "second-console-refused", tmp_path)

    # The second console acts on the state it now has.
    second.locator("[data-action=pause]").click()
    expect(first.locator("[data-status]")).to_have_text("Paused")
    assert Attempt.objects.get().status == Attempt.Status.PAUSED


def test_a_network_blip_and_a_lost_answer_never_lose_or_double_a_lap(daphne_server, new_page, race_day, team_a,
                                                                     tmp_path):
    event, organiser, timekeeper = race_day
    console = open_console(new_page, daphne_server, event, timekeeper.username)
    console.select_option("[data-team]", label="Team Alpha")
    console.get_by_role("button", name="Put on track").click()
    console.locator("[data-action=start]").click()
    expect(console.locator("[data-status]")).to_have_text("Running")

    # Offline for a moment: the press is resent once the network is back, and counts once.
    console.context.set_offline(True)
    console.wait_for_timeout(300)
    console.keyboard.press(" ")
    console.wait_for_timeout(700)
    assert LapResult.objects.count() == 0
    console.context.set_offline(False)
    expect(lap_cells(console)).to_have_count(1)
    assert LapResult.objects.count() == 1

    # The server records the next lap but its answer is lost on the way back: the page resends the
    # same press (same expected_version), the server refuses it and the page shows the one lap.
    lost = []

    def lose_the_answer(route):
        if route.request.method == "POST" and not lost:
            lost.append(route.fetch().status)  # the request reaches the server ...
            route.abort()  # ... and the page never hears back
        else:
            route.continue_()

    console.route("**/console/attempts/*/action/", lose_the_answer)
    console.wait_for_timeout(400)
    console.keyboard.press(" ")
    expect(console.locator("[data-message]")).to_contain_text("Already recorded: “Lap added” from your earlier press")
    expect(lap_cells(console)).to_have_count(2)
    assert lost == [200]
    assert LapResult.objects.count() == 2
    assert AuditEntry.objects.filter(action="lap_added").count() == 2
    shot(console, "lost-answer", tmp_path)


def test_confirm_an_implausible_lap_then_invalidate_it_with_a_reason(daphne_server, new_page, race_day, team_a):
    event, organiser, timekeeper = race_day
    Event.objects.filter(pk=event.pk).update(min_plausible_lap_s=30.0)
    console = open_console(new_page, daphne_server, event, timekeeper.username)
    console.select_option("[data-team]", label="Team Alpha")
    console.get_by_role("button", name="Put on track").click()
    console.locator("[data-action=start]").click()
    expect(console.locator("[data-status]")).to_have_text("Running")
    console.wait_for_timeout(300)

    # Too fast: the console asks; cancelling records nothing.
    console.keyboard.press(" ")
    dialog = console.locator("[data-confirm-dialog]")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("faster than this event's plausible minimum (30.000 s)")
    dialog.get_by_role("button", name="Cancel").click()
    expect(console.locator("[data-message]")).to_have_text("The lap was not recorded.")
    assert LapResult.objects.count() == 0

    console.keyboard.press(" ")
    expect(dialog).to_be_visible()
    console.wait_for_timeout(1500)  # the timekeeper reads the dialog: the lap keeps the moment of the press
    dialog.get_by_role("button", name="Record it").click()
    expect(lap_cells(console)).to_have_count(1)
    lap = LapResult.objects.get()
    assert lap.confirmed_implausible and lap.valid
    assert lap.lap_time_s < 1.4
    expect(console.locator("[data-laps] tr td.lap-status")).to_have_text("valid (confirmed fast)")

    # Afterwards: invalidate it with a reason.
    console.locator("[data-laps] tr").get_by_role("button", name="Invalidate").click()
    reason = console.locator("[data-reason-dialog]")
    expect(reason).to_be_visible()
    reason.locator("input").fill("sensor glitch")
    reason.get_by_role("button", name="Save").click()
    expect(console.locator("[data-laps] tr td.lap-status")).to_have_text("invalid: sensor glitch")
    lap.refresh_from_db()
    assert (lap.valid, lap.invalidated_reason) == (False, "sensor glitch")
