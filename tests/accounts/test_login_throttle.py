"""Login throttling (django-axes, webapp/accounts/login_throttle.py): after AXES_FAILURE_LIMIT
wrong passwords for an account, or from an address, even the right password is refused until the
cool-off has passed; other accounts from other addresses log in as before. The site's login and
the admin's alike, through the test client and through a real Daphne."""

from __future__ import annotations

import http.client
from datetime import timedelta
from urllib.parse import urlencode, urlsplit

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.utils import timezone

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery"  # make_user's default
LOGIN, ADMIN_LOGIN = "/accounts/login/", "/admin/login/"


@pytest.fixture
def limit() -> int:
    return settings.AXES_FAILURE_LIMIT


def _login(client, username: str, password: str, address: str = "10.0.0.1", url: str = LOGIN):
    return client.post(url, {"username": username, "password": password}, REMOTE_ADDR=address)


def _logged_in(client) -> bool:
    return "_auth_user_id" in client.session


def _cool_off_passes() -> None:
    AccessAttempt.objects.update(attempt_time=timezone.now() - settings.AXES_COOLOFF_TIME - timedelta(seconds=1))


def test_the_right_password_is_refused_after_too_many_wrong_ones_until_the_cool_off(client, make_user, limit):
    make_user("alice")
    statuses = [_login(client, "alice", "wrong").status_code for _ in range(limit)]
    assert statuses == [200] * (limit - 1) + [429]  # the form again with its error, then the lockout
    response = _login(client, "alice", PASSWORD)
    assert response.status_code == 429 and not _logged_in(client)
    assert b"Too many login attempts" in response.content and b"Try again in 15 minutes" in response.content
    # From another address too: the account is what is being guessed.
    assert _login(client, "alice", PASSWORD, address="10.9.9.9").status_code == 429
    _cool_off_passes()
    assert _login(client, "alice", PASSWORD).status_code == 302 and _logged_in(client)


def test_another_account_from_another_address_is_unaffected(client, make_user, limit):
    make_user("alice"), make_user("bob")
    for _ in range(limit):
        _login(client, "alice", "wrong")
    assert _login(client, "bob", PASSWORD, address="10.0.0.2").status_code == 302 and _logged_in(client)


def test_one_address_guessing_many_accounts_is_stopped(client, make_user, limit):
    make_user("carol")
    for k in range(limit):
        _login(client, f"nobody{k}", "wrong", address="10.6.6.6")
    assert _login(client, "carol", PASSWORD, address="10.6.6.6").status_code == 429
    assert _login(client, "carol", PASSWORD, address="10.0.0.3").status_code == 302


def test_a_successful_login_clears_only_its_own_accounts_failures(client, make_user, limit):
    make_user("alice"), make_user("mallory")
    for _ in range(limit - 1):
        _login(client, "alice", "wrong", address="10.6.6.6")
    # Logging into one's own account from the same address does not wipe the count against alice
    # (axes' own reset on success would: it deletes every failure from the address too).
    assert _login(client, "mallory", PASSWORD, address="10.6.6.6").status_code == 302
    client.logout()
    _login(client, "alice", "wrong", address="10.7.7.7")
    assert _login(client, "alice", PASSWORD, address="10.0.0.1").status_code == 429
    # Alice's own success clears her typos: after a good login she has the full allowance again.
    _cool_off_passes()
    for _ in range(limit - 1):
        _login(client, "alice", "wrong")
    assert _login(client, "alice", PASSWORD).status_code == 302
    client.logout()
    for _ in range(limit - 1):
        _login(client, "alice", "wrong")
    assert _login(client, "alice", PASSWORD).status_code == 302


def test_the_admin_login_is_throttled_the_same_way(client, make_user, limit):
    make_user("root", is_staff=True, is_superuser=True)
    statuses = [_login(client, "root", "wrong", url=ADMIN_LOGIN).status_code for _ in range(limit)]
    assert statuses == [200] * (limit - 1) + [429]
    response = _login(client, "root", PASSWORD, url=ADMIN_LOGIN)
    assert response.status_code == 429 and b"Too many login attempts" in response.content
    assert not _logged_in(client)
    # The site's login for the same account is locked too: one account, one count.
    assert _login(client, "root", PASSWORD).status_code == 429


# -- through Daphne: the ASGI path (axes' middleware runs async there) and real client addresses --

CSRF = "b" * 32  # a well-formed CSRF secret, sent as the cookie and as the form's token


def _post_login(base_url: str, username: str, password: str, source: str, path: str = LOGIN):
    parts = urlsplit(base_url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30, source_address=(source, 0))
    try:
        body = urlencode({"username": username, "password": password, "csrfmiddlewaretoken": CSRF})
        connection.request("POST", path, body=body, headers={
            "Content-Type": "application/x-www-form-urlencoded", "Cookie": f"csrftoken={CSRF}"})
        response = connection.getresponse()
        return response.status, response.getheader("Set-Cookie") or "", response.read()
    finally:
        connection.close()


@pytest.mark.django_db(transaction=True)
def test_through_daphne_a_locked_account_is_refused_and_another_address_logs_in(daphne_server, make_user, limit):
    make_user("alice"), make_user("bob")
    statuses = [_post_login(daphne_server, "alice", "wrong", "127.0.0.1")[0] for _ in range(limit)]
    assert statuses == [200] * (limit - 1) + [429]
    status, cookies, body = _post_login(daphne_server, "alice", PASSWORD, "127.0.0.1")
    assert status == 429 and "sessionid=" not in cookies and b"Too many login attempts" in body
    admin_status, _, _ = _post_login(daphne_server, "alice", PASSWORD, "127.0.0.1", path=ADMIN_LOGIN)
    assert admin_status == 429
    # The address 127.0.0.1 is locked too (it made the failures); bob from 127.0.0.2 is not.
    assert _post_login(daphne_server, "bob", PASSWORD, "127.0.0.1")[0] == 429
    status, cookies, _ = _post_login(daphne_server, "bob", PASSWORD, "127.0.0.2")
    assert status == 302 and "sessionid=" in cookies
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"127.0.0.1"}
