"""Sign up, log in and out, password change and reset."""

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.exceptions import ValidationError
from django.urls import reverse

from webapp.accounts.signup import SIGNUP_REFUSED, sign_up

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-unusual-pass-42"


def _signup(client, username="carla", email="carla@example.com", next_url=None):
    url = reverse("signup") + (f"?next={next_url}" if next_url else "")
    return client.post(url, {"username": username, "email": email, "password1": PASSWORD, "password2": PASSWORD})


def test_signup_creates_the_account_and_logs_in(client):
    response = _signup(client)
    assert response.status_code == 302
    assert response.url == reverse("dashboard")
    user = get_user_model().objects.get(username="carla")
    assert client.session["_auth_user_id"] == str(user.pk)


def test_dashboard_without_a_team_offers_create_and_join(client):
    _signup(client)
    response = client.get(reverse("dashboard"))
    assert response.status_code == 200
    assert b"Create a team" in response.content and b"Join a team" in response.content


def test_signup_returns_to_next(client):
    response = _signup(client, next_url="/teams/join/abc/")
    assert response.url == "/teams/join/abc/"


def test_signup_ignores_an_offsite_next(client):
    response = _signup(client, next_url="https://evil.example/")
    assert response.url == reverse("dashboard")


def _refusal(response) -> list[str]:
    assert response.status_code == 200
    assert "_auth_user_id" not in response.wsgi_request.session
    form = response.context["form"]
    assert not any(form.errors.get(field) for field in ("username", "email")), form.errors
    return form.non_field_errors()


def test_signup_refuses_a_taken_email_without_saying_so_and_tells_its_owner(client, make_user):
    make_user("dora")  # dora@example.com
    response = _signup(client, username="dora2", email="DORA@example.com")
    assert _refusal(response) == [SIGNUP_REFUSED]
    assert "already exists" not in response.content.decode()
    assert get_user_model().objects.filter(email__iexact="dora@example.com").count() == 1
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["dora@example.com"]
    body = mail.outbox[0].body
    assert "dora" in body and "http://testserver/accounts/password/reset/" in body


def test_a_taken_username_gets_the_same_answer_and_mails_nobody(client, make_user):
    make_user("dora")
    taken_email = _refusal(_signup(client, username="newname", email="dora@example.com"))
    mail.outbox.clear()
    taken_username = _refusal(_signup(client, username="DORA", email="someone-new@example.com"))
    assert taken_username == taken_email == [SIGNUP_REFUSED]
    assert mail.outbox == []
    assert not get_user_model().objects.filter(email="someone-new@example.com").exists()


def test_the_service_enforces_one_account_per_email(make_user):
    make_user("ivy")  # ivy@example.com
    with pytest.raises(ValidationError) as refused:
        sign_up(username="ivy-two", email=" IVY@Example.com ", password=PASSWORD)
    assert refused.value.messages == [SIGNUP_REFUSED]
    assert get_user_model().objects.filter(email__iexact="ivy@example.com").count() == 1
    user = sign_up(username="ivy-three", email="ivy3@example.com", password=PASSWORD)
    assert user.check_password(PASSWORD) and user.email == "ivy3@example.com"


def test_login_and_logout(client, make_user):
    make_user("erik", password=PASSWORD)
    page = client.get(reverse("login"))
    assert page.status_code == 200 and b"Log in" in page.content
    response = client.post(reverse("login"), {"username": "erik", "password": PASSWORD})
    assert response.status_code == 302 and response.url == reverse("dashboard")
    assert client.get(reverse("logout")).status_code == 405  # logging out is a POST only
    response = client.post(reverse("logout"))
    assert response.url == reverse("home")
    assert "_auth_user_id" not in client.session


def test_dashboard_requires_login(client):
    response = client.get(reverse("dashboard"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_password_change(client, make_user):
    user = make_user("fay", password=PASSWORD)
    client.force_login(user)
    assert client.get(reverse("password_change")).status_code == 200
    response = client.post(reverse("password_change"), {
        "old_password": PASSWORD, "new_password1": "another-long-pass-77", "new_password2": "another-long-pass-77",
    })
    assert response.url == reverse("password_change_done")
    user.refresh_from_db()
    assert user.check_password("another-long-pass-77")


def test_password_reset_sends_a_working_link(client, make_user):
    make_user("gus")
    assert client.get(reverse("password_reset")).status_code == 200
    response = client.post(reverse("password_reset"), {"email": "gus@example.com"})
    assert response.url == reverse("password_reset_done")
    assert len(mail.outbox) == 1
    link = next(line for line in mail.outbox[0].body.splitlines() if "/accounts/password/reset/" in line)
    path = link.split("testserver", 1)[1]
    response = client.get(path, follow=True)
    assert response.status_code == 200 and b"Choose a new password" in response.content
    response = client.post(response.redirect_chain[-1][0], {
        "new_password1": "reset-long-pass-99", "new_password2": "reset-long-pass-99",
    })
    assert response.url == reverse("password_reset_complete")
    assert get_user_model().objects.get(username="gus").check_password("reset-long-pass-99")
