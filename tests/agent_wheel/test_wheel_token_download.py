"""The agent wheel downloads with a team API token (`Authorization: Bearer plt_...`), so a car's
Raspberry Pi without a browser can fetch it: any team's valid token works (the wheel is the same
for everyone), a bad, revoked or expired token gets a 401 saying so (not the login page), and a
request with neither a token nor a login is still refused. The agent page shows the command."""

from __future__ import annotations

import html as html_lib
import re
from datetime import timedelta

import pytest
from django.shortcuts import resolve_url
from django.utils import timezone

from webapp.agent import wheel
from webapp.api.services import issue_token, revoke_token

pytestmark = pytest.mark.django_db

WHEEL_BYTES = b"PK\x05\x06" + b"\0" * 18  # an empty zip: the access rules do not need a real build


@pytest.fixture(autouse=True)
def built_wheel(monkeypatch, tmp_path):
    path = tmp_path / wheel.wheel_name()
    path.write_bytes(WHEEL_BYTES)
    monkeypatch.setattr(wheel, "agent_wheel", lambda: path)
    return path


def url(team) -> str:
    return f"/teams/{team.slug}/agent/wheel/"


def bearer(secret: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {secret}"}


def test_the_teams_token_downloads_the_wheel_without_a_login(client, team_a):
    _, secret = issue_token(team=team_a, user=team_a.captain, name="pi")
    response = client.get(url(team_a), **bearer(secret))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == WHEEL_BYTES
    assert f'filename="{wheel.wheel_name()}"' in response["Content-Disposition"]


def test_another_teams_token_downloads_the_same_wheel(client, team_a, team_b):
    _, secret = issue_token(team=team_b, user=team_b.captain, name="pi")
    response = client.get(url(team_a), **bearer(secret))
    assert response.status_code == 200 and b"".join(response.streaming_content) == WHEEL_BYTES


def test_a_valid_token_on_an_unknown_team_is_404(client, team_a):
    _, secret = issue_token(team=team_a, user=team_a.captain, name="pi")
    assert client.get("/teams/no-such-team/agent/wheel/", **bearer(secret)).status_code == 404


def test_anonymous_requests_stay_refused(client, team_a):
    response = client.get(url(team_a))
    assert response.status_code == 302 and response["Location"].startswith(resolve_url("login") + "?")
    assert "next=" in response["Location"]


@pytest.mark.parametrize("kind", ["unknown", "malformed", "revoked", "expired"])
def test_a_bad_token_is_a_401_saying_why_not_the_login_page(client, team_a, kind):
    token, secret = issue_token(team=team_a, user=team_a.captain, name="pi")
    if kind == "unknown":
        secret = "plt_" + "x" * 40
    elif kind == "malformed":
        secret = "not-a-pitlane-token"
    elif kind == "revoked":
        revoke_token(token)
    else:
        token.expires = timezone.now() - timedelta(minutes=1)
        token.save(update_fields=["expires"])
    response = client.get(url(team_a), **bearer(secret))
    assert response.status_code == 401 and response["WWW-Authenticate"] == "Bearer"
    expected = {"unknown": "Invalid or revoked", "malformed": "start with 'plt_'", "revoked": "Invalid or revoked",
                "expired": "expired on"}[kind]
    assert expected in response.content.decode()


def test_a_logged_in_member_still_downloads_and_another_teams_member_gets_404(client, team_a, team_b):
    client.force_login(team_a.captain)
    assert client.get(url(team_a)).status_code == 200
    assert client.get(url(team_b)).status_code == 404


def test_the_page_shows_the_token_download_command_for_this_server(client, team_a):
    client.force_login(team_a.captain)
    page = client.get(f"/teams/{team_a.slug}/agent/", HTTP_HOST="localhost:8000").content.decode()
    command = html_lib.unescape(re.search(r'data-command="download">(.*?)</pre>', page, re.S).group(1))
    assert command == (f'curl -fL -H "Authorization: Bearer $PITLANE_TOKEN" -o {wheel.wheel_name()} '
                       f"http://localhost:8000/teams/{team_a.slug}/agent/wheel/")
    install = html_lib.unescape(re.search(r'data-command="install">(.*?)</pre>', page, re.S).group(1))
    assert install.startswith("python3 -m venv pitlane-agent")
