"""The reward function pages through Django's test client: the list, the editor on a version,
saving (a new version or none), the history, the diff and the download; and team isolation: every
URL answers 404 to another team, with real objects of that team behind each id."""

from __future__ import annotations

import time

import pytest
from django.urls import reverse

from tests.rewards.helpers import BROKEN, CENTRE, make_function
from webapp.rewards import services
from webapp.rewards.models import RewardFunction, RewardFunctionVersion

pytestmark = pytest.mark.django_db


def test_list_shows_each_function_with_its_latest_version(client, team_a):
    function = make_function(team_a)
    services.save_version(function=function, user=None, source=BROKEN)
    client.force_login(team_a.captain)
    page = client.get(reverse("reward_list", args=[team_a.slug]))
    assert page.status_code == 200
    html = page.content.decode()
    assert "Centre line" in html and "v2" in html and "not validated" in html
    assert reverse("reward_version", args=[team_a.slug, function.pk, 2]) in html
    # The nav links to the current team's reward functions.
    assert f'href="{reverse("reward_list", args=[team_a.slug])}"' in html


def test_editor_shows_the_version_with_codemirror_served_locally(client, team_a):
    function = make_function(team_a)
    client.force_login(team_a.captain)
    assert client.get(reverse("reward_detail", args=[team_a.slug, function.pk])).url == \
        reverse("reward_version", args=[team_a.slug, function.pk, 1])
    page = client.get(reverse("reward_version", args=[team_a.slug, function.pk, 1]))
    html = page.content.decode()
    assert page.status_code == 200
    assert "distance_from_center" in html  # the source, in the textarea
    assert "/static/CodeMirror/lib/codemirror.js" in html and "/static/CodeMirror/mode/python/python.js" in html
    assert "http://" not in html.split("<main", 1)[1] and "https://" not in html  # nothing from a CDN
    assert "reinvent_base" in html  # the track chooser, DeepRacer-scale tracks only
    assert "has not been validated yet" in html


def test_codemirror_static_files_are_found(client):
    from django.contrib.staticfiles import finders

    for name in ("CodeMirror/lib/codemirror.js", "CodeMirror/lib/codemirror.css", "CodeMirror/mode/python/python.js",
                 "CodeMirror/addon/edit/matchbrackets.js", "CodeMirror/addon/selection/active-line.js",
                 "rewards/editor.js", "rewards/rewards.css"):
        assert finders.find(name), name


def test_saving_from_the_editor_makes_a_new_version_once(client, team_a):
    function = make_function(team_a)
    client.force_login(team_a.captain)
    url = reverse("reward_version", args=[team_a.slug, function.pk, 1])
    edited = CENTRE.replace("return 0.5", "return 0.4").replace("\n", "\r\n")  # as a browser sends it
    response = client.post(url, {"source": edited, "action": "save", "track": "reinvent_base"})
    assert response.status_code == 302
    assert response.url == reverse("reward_version", args=[team_a.slug, function.pk, 2])
    v2 = function.versions.get(number=2)
    assert "return 0.4" in v2.source and "\r" not in v2.source and v2.created_by == team_a.captain
    # Saving the same text again (from version 2's page) is no new version, and says so.
    response = client.post(response.url, {"source": edited, "action": "save"}, follow=True)
    assert function.versions.count() == 2
    assert "No changes: version 2 already holds this code." in response.content.decode()
    # Editing an old version saves on top of the latest.
    response = client.post(url, {"source": CENTRE + "# again\n", "action": "save"})
    assert response.url.endswith("/v3/")
    old_page = client.get(url).content.decode()
    assert "the latest is" in old_page and "Saving makes version 4" in old_page


def test_a_broken_save_is_refused_with_a_message(client, team_a):
    function = make_function(team_a)
    client.force_login(team_a.captain)
    url = reverse("reward_version", args=[team_a.slug, function.pk, 1])
    response = client.post(url, {"source": "   ", "action": "save"})
    assert response.status_code == 400
    assert "This field is required" in response.content.decode() or "empty" in response.content.decode()
    response = client.post(url, {"source": "#" * (70 * 1024), "action": "save"})
    assert response.status_code == 400
    assert "at most 65,536 bytes (64 KB) are allowed" in response.content.decode()
    assert function.versions.count() == 1


def test_history_diff_and_download(client, team_a):
    function = make_function(team_a)
    services.save_version(function=function, user=None, source=CENTRE.replace("return 0.5", "return 0.4"))
    client.force_login(team_a.captain)
    page = client.get(reverse("reward_version", args=[team_a.slug, function.pk, 2])).content.decode()
    assert "v1" in page and "v2" in page and "?from=1&amp;to=2" in page

    diff = client.get(reverse("reward_diff", args=[team_a.slug, function.pk]) + "?from=1&to=2")
    html = diff.content.decode()
    assert diff.status_code == 200 and 'class="diff"' in html
    assert "return 0.5" in html and "return 0.4" in html and "diff_chg" in html
    same = client.get(reverse("reward_diff", args=[team_a.slug, function.pk]) + "?from=2&to=2")
    assert "The two versions hold the same code." in same.content.decode()
    assert client.get(reverse("reward_diff", args=[team_a.slug, function.pk]) + "?from=1&to=9").status_code == 404

    download = client.get(reverse("reward_download", args=[team_a.slug, function.pk, 1]))
    assert download.status_code == 200
    assert download["Content-Disposition"] == 'attachment; filename="Centre_line_v1.py"'
    assert download["Content-Type"].startswith("text/x-python")
    assert download.content.decode() == CENTRE
    assert download["X-Checksum-SHA256"] == services.source_sha256(CENTRE)


def test_diff_of_large_rewritten_versions_answers_quickly_with_the_unified_diff(client, team_a):
    """Two 60 KB versions that differ on every line: difflib's side-by-side table compares every
    removed line with every added one (minutes of the web process's CPU); the page shows the
    unified diff instead, at once."""
    old = "def reward_function(params):\n    return 1.0\n" + "".join(
        f"value_{i:05d} = min(1.0, {i} * 0.5)\n" for i in range(1500))
    function = make_function(team_a, "Big", source=old)
    services.save_version(function=function, user=None, source=old.replace(" * 0.5)", " * 0.25)"))
    client.force_login(team_a.captain)
    started = time.monotonic()
    page = client.get(reverse("reward_diff", args=[team_a.slug, function.pk]) + "?from=1&to=2")
    assert time.monotonic() - started < 5.0
    html = page.content.decode()
    assert page.status_code == 200 and 'class="diff"' not in html and "data-diff-too-large" in html
    assert "-value_01499 = min(1.0, 1499 * 0.5)" in html and "+value_01499 = min(1.0, 1499 * 0.25)" in html


@pytest.mark.parametrize("query", ["from=%C2%B2&to=2", "from=1&to=%D9%A3", "from=abc&to=-1"])
def test_diff_ignores_version_numbers_that_are_not_ascii_digits(client, team_a, query):
    function = make_function(team_a)
    services.save_version(function=function, user=None, source=CENTRE.replace("return 0.5", "return 0.4"))
    client.force_login(team_a.captain)
    page = client.get(reverse("reward_diff", args=[team_a.slug, function.pk]) + "?" + query)
    assert page.status_code == 200 and "Changes from version 1 to version 2" in page.content.decode()


def test_the_editor_posts_multipart_so_a_large_source_gets_the_size_refusal(client, team_a):
    """A form-encoded body triples each '#', so 1 MB of source passed Django's 2.5 MB upload limit
    and got a bare 400 page; the editor's form is multipart, and its refusal says the size."""
    function = make_function(team_a)
    client.force_login(team_a.captain)
    url = reverse("reward_version", args=[team_a.slug, function.pk, 1])
    assert 'enctype="multipart/form-data"' in client.get(url).content.decode().split("data-reward-editor")[0][-300:]
    source = CENTRE + "#" * (1 << 20) + "\n"
    page = client.post(url, {"source": source, "action": "save"})  # multipart, as the page sends it
    assert page.status_code == 400
    assert "at most 65,536 bytes (64 KB) are allowed" in page.content.decode()
    assert function.versions.count() == 1


def test_archive_and_restore(client, team_a):
    function = make_function(team_a)
    client.force_login(team_a.captain)
    client.post(reverse("reward_archive", args=[team_a.slug, function.pk]), {"archived": "1"})
    function.refresh_from_db()
    assert function.archived
    link = reverse("reward_version", args=[team_a.slug, function.pk, 1])
    assert link not in client.get(reverse("reward_list", args=[team_a.slug])).content.decode()
    assert link in client.get(reverse("reward_list", args=[team_a.slug]) + "?archived=1").content.decode()
    client.post(reverse("reward_archive", args=[team_a.slug, function.pk]), {"archived": "0"})
    function.refresh_from_db()
    assert not function.archived


# -- team isolation ----------------------------------------------------------------------------------

def _urls(slug, function, number):
    gets = [
        reverse("reward_detail", args=[slug, function.pk]),
        reverse("reward_version", args=[slug, function.pk, number]),
        reverse("reward_download", args=[slug, function.pk, number]),
        reverse("reward_diff", args=[slug, function.pk]),
        reverse("reward_diff", args=[slug, function.pk]) + f"?from=1&to={number}",
    ]
    posts = [
        (reverse("reward_version", args=[slug, function.pk, number]), {"source": CENTRE + "# x\n", "action": "save"}),
        (reverse("reward_version", args=[slug, function.pk, number]),
         {"source": CENTRE, "action": "validate", "track": "reinvent_base"}),
        (reverse("reward_archive", args=[slug, function.pk]), {"archived": "1"}),
    ]
    return gets, posts


def test_every_reward_url_is_404_for_another_team(client, team_a, team_b):
    secret = make_function(team_b, "Bravo secret", source=CENTRE + "# Bravo secret tuning\n")
    client.force_login(team_a.captain)
    for slug in (team_b.slug, team_a.slug):  # their URLs, and our URLs pointed at their ids
        gets, posts = _urls(slug, secret, 1)
        for url in gets:
            response = client.get(url)
            assert response.status_code == 404, url
            assert b"Bravo secret" not in response.content, url
        for url, data in posts:
            assert client.post(url, data).status_code == 404, url
    for url in (reverse("reward_list", args=[team_b.slug]), reverse("reward_new", args=[team_b.slug])):
        assert client.get(url).status_code == 404, url
    assert client.post(reverse("reward_new", args=[team_b.slug]), {"name": "x", "start": "blank"}).status_code == 404
    assert b"Bravo secret" not in client.get(reverse("reward_list", args=[team_a.slug])).content
    assert b"Bravo secret" not in client.get(reverse("reward_list", args=[team_a.slug]) + "?archived=1").content
    # Nothing of team B changed.
    secret.refresh_from_db()
    assert not secret.archived and secret.versions.count() == 1 and secret.versions.get().ok is None
    assert RewardFunction.objects.filter(team=team_a).count() == 0


def test_anonymous_visitors_are_sent_to_log_in(client, team_b):
    secret = make_function(team_b, "Bravo secret")
    gets, posts = _urls(team_b.slug, secret, 1)
    for url in gets + [u for u, _ in posts] + [reverse("reward_list", args=[team_b.slug])]:
        response = client.get(url)
        assert response.status_code == 302 and response.url.startswith(reverse("login")), url


def test_admin_shows_reward_code_to_superusers_only(client, team_a, make_user):
    from django.contrib.auth.models import Group

    function = make_function(team_a)
    version = function.versions.get()
    organiser = make_user("organiser", is_staff=True)
    organiser.groups.add(*Group.objects.all())
    client.force_login(organiser)
    for name in ("admin:rewards_rewardfunction_changelist", "admin:rewards_rewardfunctionversion_changelist"):
        assert client.get(reverse(name)).status_code == 403
    change = reverse("admin:rewards_rewardfunctionversion_change", args=[version.pk])
    assert client.get(change).status_code in (302, 403)
    root = make_user("root", is_staff=True, is_superuser=True)
    client.force_login(root)
    page = client.get(change)
    assert page.status_code == 200 and "distance_from_center" in page.content.decode()
    assert RewardFunctionVersion.objects.count() == 1
