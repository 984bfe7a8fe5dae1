"""In a real browser: sign up, create a team, invite a second person who signs up through the link."""

import re

import pytest
from playwright.sync_api import expect

from webapp.accounts.models import Team

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "browser-test-pass-314"


def sign_up(page, username: str) -> None:
    page.get_by_label("Username").fill(username)
    page.get_by_label("Email").fill(f"{username}@example.com")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password confirmation").fill(PASSWORD)
    page.get_by_role("button", name="Sign up").click()


def test_sign_up_create_team_invite_and_join(live_server, new_page):
    captain = new_page(base_url=live_server.url)
    captain.goto("/")
    captain.get_by_role("link", name="Create an account").click()
    sign_up(captain, "ada")
    expect(captain.get_by_role("heading", name="Welcome, ada")).to_be_visible()

    captain.get_by_label("Team name").fill("Silver Arrows")
    captain.get_by_role("button", name="Create team").click()
    expect(captain.get_by_role("heading", name="Silver Arrows")).to_be_visible()
    expect(captain.locator("#team-switch")).to_have_value(str(Team.objects.get(name="Silver Arrows").pk))

    captain.get_by_role("button", name="Create invite").click()
    link = captain.locator("[data-invite-link]").first.input_value()
    code = captain.locator("[data-invite-code]").first.inner_text()
    assert link.endswith(f"/teams/join/{code}/")

    # Someone else, in a separate browser context, opens the link before having an account.
    friend = new_page()
    friend.goto(link)
    expect(friend).to_have_url(re.compile(r"/accounts/login/\?next="))
    friend.get_by_role("link", name="Create an account").click()
    sign_up(friend, "ben")
    expect(friend.get_by_role("heading", name="Join Silver Arrows?")).to_be_visible()
    friend.get_by_role("button", name="Join Silver Arrows").click()
    expect(friend.get_by_role("heading", name="Silver Arrows")).to_be_visible()
    expect(friend.locator(".member-list")).to_contain_text("ada")
    expect(friend.locator(".member-list")).to_contain_text("ben")

    captain.reload()
    expect(captain.locator(".member-list li")).to_have_count(2)
    expect(captain.get_by_role("button", name="Make captain")).to_be_visible()


def test_switching_teams_from_the_nav(live_server, new_page, make_user, make_team):
    user = make_user("cleo", password=PASSWORD)
    make_team("Alpha Racing", captain=user)
    make_team("Zulu Racing", captain=user)
    page = new_page(base_url=live_server.url)
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill("cleo")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Alpha Racing")).to_be_visible()

    page.locator("#team-switch").select_option(label="Zulu Racing")
    expect(page.get_by_role("heading", name="Zulu Racing")).to_be_visible()
    page.get_by_role("link", name="Dashboard").click()
    expect(page.get_by_role("heading", name="Zulu Racing")).to_be_visible()

    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("navigation", name="Main").get_by_role("link", name="Log in")).to_be_visible()
