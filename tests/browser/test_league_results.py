"""In Chromium (issue 12): the league page draws the sim-to-real gap chart from local plotly.js with
the virtual and physical bests side by side and the season table; an organiser reveals a hidden
final from the event page and the public podium then shows it; a team picks the submission that
counts. Set PITLANE_SCREENSHOTS to a folder to keep the screenshots."""

from __future__ import annotations

import os

import pytest
from playwright.sync_api import expect

from tests.leagues.results_support import laps, make_race, submit
from webapp.leagues.models import Event, League
from webapp.leagues.services import make_organiser

from .helpers import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct-horse-battery"
SCREENSHOTS = os.environ.get("PITLANE_SCREENSHOTS")


def shot(page, name: str, tmp_path) -> None:
    folder = SCREENSHOTS or str(tmp_path)
    os.makedirs(folder, exist_ok=True)
    page.screenshot(path=os.path.join(folder, f"league_{name}.png"), full_page=True)


def test_league_page_chart_reveal_and_podium(live_server, new_page, make_user, make_team, team_a, team_b,
                                             tmp_path):
    league = League.objects.create(name="Harbour Series", description="Sim and track, one season.",
                                   points_table=[10, 6, 4])
    team_c = make_team("Team Charlie")
    teams = (team_a, team_b, team_c)
    virtual = make_race(league, "Virtual qualifier", kind=Event.Kind.VIRTUAL, days=-2.5, teams=teams)
    physical = make_race(league, "Harbour track day", days=-2, teams=teams)
    for team, sim, real in ((team_a, [6.1, 6.3], [7.9, 7.6]), (team_b, [6.6], [7.7]), (team_c, [5.9], [8.4])):
        submit(virtual, team, sim)
        laps(physical, team, *real)
    final = make_race(league, "Hidden final", kind=Event.Kind.VIRTUAL, days=-1, teams=teams,
                      results_revealed=False, hidden_track="pitlane_hairpin")
    submit(final, team_b, [6.2])
    early = submit(final, team_a, [6.0])
    submit(final, team_a, [6.4])  # Alpha's latest: it counts until the team picks another
    organiser = make_user("olga", password=PASSWORD)
    make_organiser(organiser, league)

    public = new_page(base_url=live_server.url)
    public.goto(league.get_absolute_url())
    expect(public.locator("[data-gap-chart][data-drawn='1']")).to_be_visible()
    expect(public.locator("[data-gap-chart] .main-svg").first).to_be_visible()
    expect(public.locator(f"[data-team-row='{team_a.pk}']")).to_contain_text("× 1.25")
    # The hidden final is not in the season yet: Alpha 10 + 6 (1st sim, 2nd track)... as the table says.
    expect(public.locator("[data-season] thead")).not_to_contain_text("Hidden final")
    expect(public.locator("[data-event-list]")).to_contain_text("hidden until revealed")
    shot(public, "page_public", tmp_path)

    public.goto(f"{final.get_absolute_url()}")
    expect(public.locator("[data-results-links]")).to_contain_text("Results hidden until the organisers reveal them")
    expect(public.locator("body")).not_to_contain_text("pitlane_hairpin")

    staff = new_page(base_url=live_server.url)
    log_in_organiser(staff, live_server.url, "olga")
    staff.goto(final.get_absolute_url())
    expect(staff.locator("[data-reveal-form]")).to_contain_text("final on pitlane_hairpin")
    shot(staff, "event_organiser_hidden", tmp_path)
    staff.locator("[data-reveal]").click()
    expect(staff.locator("[data-reveal-form]")).to_contain_text("Hide the results")

    public.goto(f"/leagues/{league.slug}/events/{final.pk}/podium/")
    expect(public.locator("[data-place='1']")).to_contain_text("Team Bravo")
    expect(public.locator("[data-place='2']")).to_contain_text("Team Alpha")
    shot(public, "podium", tmp_path)
    public.goto(league.get_absolute_url())
    expect(public.locator("[data-season] thead")).to_contain_text("Hidden final")
    shot(public, "page_revealed", tmp_path)

    # Team Alpha picks its earlier, faster submission: it takes the top step.
    racer = new_page(base_url=live_server.url)
    log_in(racer, live_server.url, team_a.captain.username, PASSWORD)
    racer.goto(final.get_absolute_url())
    racer.locator("[data-my-entries]").click()
    expect(racer.locator("[data-counting]")).to_contain_text("6.400 s")
    racer.locator(f"[data-submission='{early.pk}'] button").click()
    expect(racer.locator("[data-counting]")).to_contain_text("6.000 s")
    shot(racer, "entries", tmp_path)
    public.goto(f"/leagues/{league.slug}/events/{final.pk}/podium/")
    expect(public.locator("[data-place='1']")).to_contain_text("Team Alpha")


def log_in_organiser(page, base_url, username):
    """The organiser has no team: the login lands on the dashboard or the page it came from."""
    page.goto(f"{base_url}/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("form button[type=submit], form input[type=submit]")
    page.wait_for_load_state()
