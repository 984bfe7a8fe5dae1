"""In a real browser: an organiser logs in to the admin and finds only their own league."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from webapp.leagues.models import Event, League
from webapp.leagues.services import make_organiser

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "organiser-pass-2718"


def league_with_event(name: str) -> League:
    league = League.objects.create(name=name)
    starts = timezone.now() + timedelta(days=5)
    Event.objects.create(league=league, name=f"{name} Grand Prix", track="reinvent_base",
                         starts=starts, ends=starts + timedelta(hours=3))
    return league


def test_organiser_sees_only_their_league(live_server, new_page, make_user):
    mine = league_with_event("Harbour League")
    league_with_event("Summit League")
    make_organiser(make_user("olive", password=PASSWORD), mine)

    page = new_page(base_url=live_server.url)
    page.goto("/admin/")
    page.get_by_label("Username").fill("olive")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Leagues, events and results")).to_be_visible()

    page.get_by_role("link", name="Events").first.click()
    results = page.locator("#result_list")
    expect(results).to_contain_text("Harbour League Grand Prix")
    expect(results).not_to_contain_text("Summit League")

    page.goto("/admin/leagues/league/")
    expect(page.locator("#result_list")).to_contain_text("Harbour League")
    expect(page.locator("#result_list")).not_to_contain_text("Summit League")
    expect(page.locator("body")).not_to_contain_text("Accounts and teams")
