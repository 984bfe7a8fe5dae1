"""A team's pages belong to its members only. The test walks every URL pattern that takes a
`team_slug`, so team pages added later (jobs, datasets, models...) are covered without edits."""

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.urls.resolvers import RoutePattern

from webapp.accounts.services import create_invite
from webapp.jobs.models import Job

pytestmark = pytest.mark.django_db

SECRET = "Bravo secret training run"
PARAM = re.compile(r"<(?:(?P<converter>[^>:]+):)?(?P<name>[^>]+)>")


def team_routes(patterns=None, prefix: str = "") -> list[str]:
    """Full `path()` routes (with their <converter:name> parts) that take a team_slug."""
    routes = []
    for entry in get_resolver().url_patterns if patterns is None else patterns:
        if not isinstance(entry.pattern, RoutePattern):
            continue
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            routes += team_routes(entry.url_patterns, route)
        elif isinstance(entry, URLPattern) and any(name == "team_slug" for _, name in PARAM.findall(route)):
            routes.append(route)
    return routes


@pytest.fixture
def bravo(team_b):
    """Team B with one of everything a URL might point at."""
    invite = create_invite(user=team_b.captain, team=team_b)
    job = Job.objects.create(kind="test.countdown", team=team_b, title=SECRET)
    values = {"team_slug": team_b.slug, "job_id": job.pk, "user_id": team_b.captain.pk, "invite_id": invite.pk}
    return team_b, values


def fill(route: str, values: dict) -> tuple[str, bool]:
    """The URL for a route, and whether every parameter had a real value of team B."""
    known = True

    def value(match):
        nonlocal known
        if match["name"] in values:
            return str(values[match["name"]])
        known = False
        return "1" if match["converter"] == "int" else "x"

    return "/" + PARAM.sub(value, route), known


def test_the_walk_finds_the_team_pages():
    routes = set(team_routes())
    assert {
        "teams/<slug:team_slug>/",
        "teams/<slug:team_slug>/invites/<int:invite_id>/revoke/",
        "teams/<slug:team_slug>/members/<int:user_id>/remove/",
        "teams/<slug:team_slug>/jobs/",
        "teams/<slug:team_slug>/jobs/<int:job_id>/",
    } <= routes, sorted(routes)


def test_other_teams_pages_answer_404(client, team_a, bravo):
    team_b, values = bravo
    client.force_login(team_a.captain)
    for route in team_routes():
        url, _ = fill(route, values)
        got = client.get(url)
        assert got.status_code in (403, 404, 405), f"GET {url} answered {got.status_code}"
        assert team_b.name not in got.content.decode() and SECRET not in got.content.decode(), url
        posted = client.post(url)
        assert posted.status_code in (403, 404), f"POST {url} answered {posted.status_code}"
    # Nothing changed in team B.
    assert team_b.memberships.count() == 1
    assert team_b.invites.filter(revoked=False).count() == 1
    assert Job.objects.get(team=team_b).cancel_requested is False


def test_members_reach_their_own_team_pages(client, bravo):
    """The control: the same URLs work for team B's captain, so the 404s above are about membership."""
    team_b, values = bravo
    client.force_login(team_b.captain)
    for route in team_routes():
        url, known = fill(route, values)
        if known:
            # 400: the view ran and wants query parameters (e.g. an upload id): not a 404.
            assert client.get(url).status_code in (200, 400, 405), url


def test_anonymous_visitors_are_sent_to_log_in(client, bravo):
    _, values = bravo
    for route in team_routes():
        url, _ = fill(route, values)
        response = client.get(url)
        assert response.status_code in (302, 403, 404, 405), url
        if response.status_code == 302:
            assert response.url.startswith(reverse("login"))


def test_listings_show_only_your_own_teams_things(client, team_a, bravo):
    team_b, _ = bravo
    Job.objects.create(kind="test.countdown", team=team_a, title="Alpha warm-up")
    client.force_login(team_a.captain)
    for url in (team_a.get_absolute_url(), reverse("job_list", args=[team_a.slug]), reverse("league_list")):
        page = client.get(url).content.decode()
        assert SECRET not in page and team_b.name not in page, url
    assert "Alpha warm-up" in client.get(team_a.get_absolute_url()).content.decode()
