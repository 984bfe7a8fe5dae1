"""In real browsers against Daphne (HTTP + websockets) and Redis, issue 12's "Done when" for rounds and
timing hardware:

a. a 16-team qualifying round (laps recorded through the race services) seeds a single-elimination
   bracket from the rounds page; the heats are raced (two attempts each, through the services) and
   decided with the page's buttons, round after round, to a final; the page then shows the final
   ranking and the decided bracket, on a phone and on a big screen;
b. a simulated timer device posts crossings to /api/v1/timer/crossings/ (a repeated id, a burst inside
   the debounce window) while a spectator has the public event page open: exactly the right laps
   appear, live, without a reload;
c. an organiser of another league gets 404 from the round actions, sees no controls on a public
   league's rounds page, and a 404 for a private league's."""

import json
import os
import re
import urllib.error
import urllib.request
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from tests.browser.helpers import in_thread, log_in
from tests.leagues.helpers import drive as drive_attempt
from webapp.leagues import race, rounds
from webapp.leagues.models import Crossing, Event, Heat, LapResult, League, Round
from webapp.leagues.services import make_organiser

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct-horse-battery"
SCREENSHOTS = os.environ.get("PITLANE_SCREENSHOTS")  # a folder: keep screenshots to look at
T0 = timezone.now().replace(microsecond=0)


def shot(page, name, tmp_path):
    folder = SCREENSHOTS or str(tmp_path)
    os.makedirs(folder, exist_ok=True)
    page.screenshot(path=os.path.join(folder, f"rounds-{name}.png"), full_page=True)


class Clock:
    def __init__(self):
        self.seconds = 0.0

    def __call__(self, advance: float = 0.0):
        self.seconds += advance
        return T0 + timedelta(seconds=self.seconds)


def drive(user, event, team, lap_times, clock, race_round=None, heat=None):
    """One attempt with these lap times, through the race services (off Playwright's thread, so the
    live notification's async_to_sync runs)."""
    in_thread(lambda: drive_attempt(user, event, team, lap_times, clock, race_round=race_round, heat=heat))


@pytest.fixture
def race_day(make_user, make_team):
    league = League.objects.create(name="Harbour League")
    organiser = make_user("olive")
    make_organiser(organiser, league)
    starts = timezone.now() - timedelta(hours=1)
    event = Event.objects.create(league=league, name="Race day", track="reinvent_base", starts=starts,
                                 ends=starts + timedelta(hours=6), kind=Event.Kind.PHYSICAL,
                                 status=Event.Status.RUNNING, ranking_rule="best_lap", attempt_time_s=120.0)
    return event, organiser


def rounds_url(base, event):
    return f"{base}/leagues/{event.league.slug}/events/{event.pk}/rounds/"


def test_a_qualifying_round_seeds_a_bracket_raced_to_a_final(served_static, daphne_server, new_page, race_day,
                                                             make_team, tmp_path):
    event, organiser = race_day
    teams = [make_team(f"Team {i:02d}") for i in range(1, 17)]
    for team in teams:
        event.registrations.create(team=team)
    clock = Clock()
    qualifying = in_thread(lambda: rounds.create_round(user=organiser, event=event, name="Qualifying"))
    for index, team in enumerate(teams):  # Team 01 fastest ... Team 16 slowest
        drive(organiser, event, team, [8.0 + index * 0.1, 9.5], clock, race_round=qualifying)

    page = new_page()
    log_in(page, daphne_server, organiser.username, PASSWORD)
    page.goto(f"{daphne_server}{event.get_absolute_url()}")
    page.locator("[data-rounds-link]").click()
    expect(page.locator(f"[data-round='{qualifying.pk}'] [data-standings] tbody tr")).to_have_count(16)
    expect(page.locator(f"[data-round='{qualifying.pk}'] tr[data-team-id='{teams[0].pk}'] td.rank")).to_have_text("1")

    # Create the knockout round and seed it with the top 16 of qualifying, from the page.
    create = page.locator("[data-round-create]")
    create.locator("input[name=name]").fill("Knockout")
    create.locator("select[name=kind]").select_option("single_elimination")
    create.get_by_role("button", name="Create round").click()
    expect(page.locator(".message-success")).to_contain_text("Round “Knockout” created")
    knockout = Round.objects.get(event=event, name="Knockout")
    seed = page.locator(f"[data-seed-form='{knockout.pk}']")
    seed.locator("select[name=from_round]").select_option(label="Qualifying")
    seed.locator("select[name=size]").select_option("16")
    seed.get_by_role("button", name="Seed").click()
    expect(page.locator(".message-success")).to_contain_text("“Knockout” seeded: 16 teams.")
    section = page.locator(f"[data-round='{knockout.pk}']")
    expect(section.locator("[data-match]")).to_have_count(15)
    expect(section.locator("[data-match='W1-1'] .slot").first).to_contain_text("Team 01")
    expect(section.locator("[data-match='W1-1'] .slot").last).to_contain_text("Team 16")
    expect(section.locator("[data-match='W2-1']")).to_contain_text("Winner of W1-1")
    expect(section.locator("[data-heat]")).to_have_count(8)  # heats to race, none raced yet
    expect(section.locator("[data-decide]")).to_have_count(0)
    expect(page.locator(f"[data-round='{qualifying.pk}']")).to_have_attribute("data-round-status", "finished")
    page.set_viewport_size({"width": 1400, "height": 900})
    shot(page, "seeded", tmp_path)
    # The venue's big screen (a spectator) is open from now on and never reloads.
    screen = new_page(viewport={"width": 1920, "height": 1080})
    screen.goto(rounds_url(daphne_server, event))
    expect(screen.locator("[data-rounds-status]")).to_have_text("Live")
    expect(screen.locator("[data-match='W1-1']")).not_to_have_class(re.compile(r"is-decided"))
    screen.evaluate("window.__noReload = true")

    # Race each ready heat (the better seed is faster, except Team 09 beats Team 08) and decide it from
    # the page, round after round: 8 + 4 + 2 + 1 heats.
    for expected in (8, 4, 2, 1):
        expect(section.locator("[data-heat]")).to_have_count(expected)
        for heat in Heat.objects.filter(round=knockout, winner__isnull=True).exclude(team_a=None).exclude(team_b=None):
            favourite, other = sorted([heat.team_a, heat.team_b], key=lambda t: t.name)
            if other.name == "Team 09" and heat.round_index == 1:
                favourite, other = other, favourite
            drive(organiser, event, favourite, [7.6], clock, race_round=knockout, heat=heat)
            drive(organiser, event, other, [7.9], clock, race_round=knockout, heat=heat)
        page.reload()
        expect(section.locator("[data-decide]")).to_have_count(expected)  # raced: each can be decided
        for key in section.locator("[data-decide]").evaluate_all("bs => bs.map(b => b.dataset.decide)"):
            lines = section.locator(f"[data-heat='{key}']")
            expect(lines).to_contain_text("1 lap")
            section.locator(f"[data-decide='{key}']").click()
            expect(page.locator(".message-success")).to_contain_text(f"{key}: ")
        if expected == 4:
            shot(page, "quarter-finals-decided", tmp_path)

    knockout.refresh_from_db()
    assert knockout.status == Round.Status.FINISHED
    expect(section).to_have_attribute("data-round-status", "finished")
    expect(section.locator("[data-decide]")).to_have_count(0)
    final = section.locator("[data-match='W4-1']")
    expect(final.locator("[data-winner]")).to_contain_text("Team 01")
    expect(section.locator("[data-match='W1-2'] [data-winner]")).to_contain_text("Team 09")  # the upset
    expect(section.locator("[data-match]:not(.is-decided)")).to_have_count(0)
    ranking = page.locator("[data-event-ranking] li")
    expect(ranking.nth(0)).to_have_text(re.compile(r"^1\s+Team 01$"))
    expect(ranking.nth(1)).to_have_text(re.compile(r"^2\s+Team 02$"))
    expect(ranking.nth(2)).to_have_text(re.compile(r"^3\s+Team 03, Team 04$"))
    expect(ranking.nth(3)).to_have_text(re.compile(r"^5\s+Team 05, Team 06, Team 07, Team 09$"))
    places = rounds.event_ranking(event)
    assert [t.name for t in places[0]] == ["Team 01"] and sum(len(p) for p in places) == 16
    shot(page, "final-desktop", tmp_path)

    # The public sees the same bracket and ranking, readable on a phone and on the venue's big screen.
    phone = new_page(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    phone.goto(rounds_url(daphne_server, event))
    expect(phone.locator("[data-event-ranking] li").first).to_contain_text("Team 01")
    expect(phone.locator("[data-round-create]")).to_have_count(0)
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390  # the bracket scrolls, the page does not
    bracket = phone.locator(f"[data-round='{knockout.pk}'] [data-bracket]")
    assert bracket.evaluate("b => b.scrollWidth > b.clientWidth")
    shot(phone, "final-phone", tmp_path)
    # The big screen followed every decision live, without a reload.
    expect(screen.locator("[data-match='W4-1'] [data-winner]")).to_contain_text("Team 01")
    expect(screen.locator("[data-event-ranking] li").first).to_contain_text("Team 01")
    expect(screen.locator("[data-match]:not(.is-decided)")).to_have_count(0)
    assert screen.evaluate("window.__noReload") is True
    shot(screen, "final-big-screen", tmp_path)


def post_crossing(base, token, crossing_id, seconds, sensor="s1"):
    body = json.dumps({"crossing_id": crossing_id, "device_time_us": int(seconds * 1_000_000),
                       "sensor": sensor}).encode()
    request = urllib.request.Request(f"{base}/api/v1/timer/crossings/", data=body, method="POST",
                                     headers={"Authorization": f"Device {token}",
                                              "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, json.loads(response.read())


def test_a_timer_device_feeds_the_public_board_live(daphne_server, new_page, race_day, team_a, tmp_path):
    event, organiser = race_day
    event.registrations.create(team=team_a)
    device, token = race.issue_device(user=organiser, event=event, name="Finish line", debounce_s=2.0)
    board = new_page()  # a spectator, not logged in
    board.goto(f"{daphne_server}{event.get_absolute_url()}")
    board.wait_for_selector("[data-live-board][data-board-live='1']")
    board.evaluate("window.__noReload = true")
    row = board.locator(f"tbody[data-board-rows] tr[data-team-id='{team_a.pk}']")
    expect(row.locator("td.laps")).to_have_text("0 / 0")

    def on_track():
        attempt = race.create_attempt(user=organiser, event=event, team=team_a)
        race.start(user=organiser, attempt=attempt, expected_version=attempt.version)

    in_thread(on_track)
    expect(board.locator("[data-on-track]")).to_be_visible()
    ot_laps = board.locator("[data-ot-laps] li")

    assert post_crossing(daphne_server, token, "c1", 100.0)[0] == 201  # starts lap 1
    assert post_crossing(daphne_server, token, "c1b", 100.4)[1]["status"] == "debounced"  # bounce
    status, answer = post_crossing(daphne_server, token, "c2", 108.25)
    assert status == 201 and answer["status"] == "counted"
    expect(row.locator("td.laps")).to_have_text("1 / 1")
    expect(ot_laps).to_have_text(["Lap 1: 8.250 s"])
    # The device resends c2 (its answer was lost): the first answer, no second lap.
    again, answer_again = post_crossing(daphne_server, token, "c2", 108.25)
    assert again == 200 and answer_again == answer
    # A burst inside the 2 s debounce window after c2: none of it counts.
    for i, seconds in enumerate((108.3, 108.9, 109.6, 110.2), start=1):
        assert post_crossing(daphne_server, token, f"burst{i}", seconds)[1]["status"] == "debounced"
    assert post_crossing(daphne_server, token, "c3", 115.75)[1]["status"] == "counted"
    expect(ot_laps).to_have_text(["Lap 1: 8.250 s", "Lap 2: 7.500 s"])
    expect(row.locator("td.laps")).to_have_text("2 / 2")
    expect(row.locator("td.best")).to_have_text("7.500 s")
    expect(row.locator("td.rank")).to_have_text("1")
    shot(board, "timer-device-board", tmp_path)

    assert board.evaluate("window.__noReload") is True  # every lap arrived over the socket
    assert list(LapResult.objects.order_by("lap_number").values_list("lap_number", "lap_time_s", "source")) == [
        (1, 8.25, "lap_timer"), (2, 7.5, "lap_timer")]
    assert Crossing.objects.filter(status="debounced").count() == 5
    assert Crossing.objects.count() == 8  # the repeated id is stored once


def test_another_leagues_organiser_gets_404(daphne_server, new_page, race_day, make_user, make_team, tmp_path):
    event, organiser = race_day
    teams = [make_team(f"Team {i}") for i in range(1, 5)]
    for team in teams:
        event.registrations.create(team=team)
    knockout = in_thread(lambda: rounds.create_round(user=organiser, event=event, name="Knockout",
                                                     kind=Round.Kind.SINGLE_ELIMINATION))
    in_thread(lambda: rounds.seed_round(user=organiser, race_round=knockout, teams=teams))
    heat = Heat.objects.get(round=knockout, key="W1-1")
    clock = Clock()
    drive(organiser, event, heat.team_a, [7.6], clock, race_round=knockout, heat=heat)
    drive(organiser, event, heat.team_b, [7.9], clock, race_round=knockout, heat=heat)

    rival = make_user("rita")
    make_organiser(rival, League.objects.create(name="Rival League"))
    page = new_page()
    log_in(page, daphne_server, rival.username, PASSWORD)
    # A public league's rounds page is public, without an organiser's controls.
    page.goto(rounds_url(daphne_server, event))
    expect(page.locator("[data-match='W1-1']")).to_contain_text("Team 1")
    expect(page.locator("[data-round-create]")).to_have_count(0)
    expect(page.locator("[data-decide]")).to_have_count(0)
    expect(page.locator("[data-seed-form]")).to_have_count(0)

    # Every action, sent from this logged-in browser with its own CSRF token, is a 404.
    token = page.context.cookies()
    csrf = next(c["value"] for c in token if c["name"] == "csrftoken")
    base = f"{daphne_server}/leagues/{event.league.slug}/events/{event.pk}"
    headers = {"X-CSRFToken": csrf, "Referer": rounds_url(daphne_server, event)}
    actions = [(f"{base}/rounds/create/", {"name": "Sneaky", "kind": "qualifying"}),
               (f"{base}/rounds/{knockout.pk}/seed/", {"from_round": str(knockout.pk)}),
               (f"{base}/heats/{heat.pk}/decide/", {})]
    for url, form in actions:
        response = page.request.post(url, form=form, headers=headers, max_redirects=0)
        assert response.status == 404, url
    heat.refresh_from_db()
    assert heat.winner is None and Round.objects.filter(event=event).count() == 1

    # A private league: its rounds page is a 404 too.
    League.objects.filter(pk=event.league.pk).update(visibility=League.Visibility.INVITE_ONLY)
    response = page.goto(rounds_url(daphne_server, event))
    assert response.status == 404
    shot(page, "rival-404", tmp_path)
    # The league's own organiser decides the heat from the page.
    own = new_page()
    log_in(own, daphne_server, organiser.username, PASSWORD)
    own.goto(rounds_url(daphne_server, event))
    own.locator("[data-decide='W1-1']").click()
    expect(own.locator(".message-success")).to_contain_text("W1-1: Team 1 goes through.")
