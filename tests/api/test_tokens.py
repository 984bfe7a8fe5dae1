"""Team API tokens: shown once, stored hashed, revocable, scoped to one team."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from drive_agent.fetch import FetchError, fetch_model
from webapp.api.models import ApiToken, hash_token
from webapp.jobs.models import Job

pytestmark = pytest.mark.django_db


def create_token_via_ui(client, user, team, name="laptop", **expiry) -> str:
    client.force_login(user)
    response = client.post(f"/teams/{team.slug}/tokens/", {"name": name, "expires_in": "never", **expiry})
    assert response.status_code == 200
    secret = response.context["new_secret"]
    assert secret.startswith("plt_")
    return secret


def test_token_is_shown_once_and_stored_hashed(client, team_a):
    secret = create_token_via_ui(client, team_a.captain, team_a)
    token = ApiToken.objects.get(team=team_a)
    assert token.token_hash == hash_token(secret)
    assert secret not in token.token_hash and token.prefix == secret[:12]
    page = client.get(f"/teams/{team_a.slug}/tokens/").content.decode()
    assert secret not in page and token.prefix in page


def test_token_authenticates_as_its_team_only(client, team_a, team_b):
    secret = create_token_via_ui(client, team_a.captain, team_a)
    Job.objects.create(team=team_a, kind="test.countdown", title="ours")
    foreign = Job.objects.create(team=team_b, kind="test.countdown", title="theirs")
    client.logout()
    auth = {"HTTP_AUTHORIZATION": f"Bearer {secret}"}
    teams = client.get("/api/v1/teams/", **auth).json()
    assert [t["slug"] for t in teams["results"]] == [team_a.slug]
    jobs = client.get("/api/v1/jobs/", **auth).json()
    assert [j["title"] for j in jobs["results"]] == ["ours"]
    assert client.get(f"/api/v1/jobs/{foreign.pk}/", **auth).status_code == 404
    assert client.post(f"/api/v1/jobs/{foreign.pk}/cancel/", **auth).status_code == 404
    assert Job.objects.get(pk=foreign.pk).cancel_requested is False


@pytest.mark.parametrize("header, message", [
    ("Bearer plt_wrong", "Invalid or revoked API token."),
    ("Bearer nonsense", "Malformed API token"),
])
def test_wrong_tokens_get_a_clear_401(client, header, message):
    response = client.get("/api/v1/jobs/", HTTP_AUTHORIZATION=header)
    assert response.status_code == 401
    assert message in response.json()["detail"]


def test_revoked_token_stops_working(client, team_a):
    secret = create_token_via_ui(client, team_a.captain, team_a)
    token = ApiToken.objects.get(team=team_a)
    client.post(f"/teams/{team_a.slug}/tokens/{token.pk}/revoke/")
    client.logout()
    assert client.get("/api/v1/teams/", HTTP_AUTHORIZATION=f"Bearer {secret}").status_code == 401


def test_other_team_cannot_revoke_or_list_tokens(client, team_a, team_b):
    create_token_via_ui(client, team_a.captain, team_a)
    token = ApiToken.objects.get(team=team_a)
    client.force_login(team_b.captain)
    assert client.get(f"/teams/{team_a.slug}/tokens/").status_code == 404
    assert client.post(f"/teams/{team_a.slug}/tokens/{token.pk}/revoke/").status_code == 404
    token.refresh_from_db()
    assert token.is_active


def test_api_cancel_of_own_job(client, team_a):
    secret = create_token_via_ui(client, team_a.captain, team_a)
    job = Job.objects.create(team=team_a, kind="test.countdown")
    response = client.post(f"/api/v1/jobs/{job.pk}/cancel/", HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    again = client.post(f"/api/v1/jobs/{job.pk}/cancel/", HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert again.status_code == 409


def test_a_token_can_expire_after_days_or_on_a_date(client, team_a):
    create_token_via_ui(client, team_a.captain, team_a, name="month", expires_in="30")
    create_token_via_ui(client, team_a.captain, team_a, name="forever")
    on = timezone.localdate() + timedelta(days=10)
    create_token_via_ui(client, team_a.captain, team_a, name="dated", expires_in="date", expires_on=on.isoformat())
    month, forever, dated = (ApiToken.objects.get(name=name) for name in ("month", "forever", "dated"))
    assert abs(month.expires - (timezone.now() + timedelta(days=30))) < timedelta(minutes=1)
    assert forever.expires is None
    assert dated.expires == datetime.combine(on + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
    page = client.get(f"/teams/{team_a.slug}/tokens/").content.decode()
    assert "Expires" in page and month.expires.strftime("%Y-%m-%d %H:%M") in page


@pytest.mark.parametrize("form, field", [
    ({"expires_in": "date", "expires_on": "2001-01-01"}, "expires_on"),  # in the past
    ({"expires_in": "date"}, "expires_on"),  # no date
    ({"expires_in": "7"}, "expires_in"),  # not a choice
])
def test_a_bad_expiry_is_refused_with_a_reason_and_creates_nothing(client, team_a, form, field):
    client.force_login(team_a.captain)
    response = client.post(f"/teams/{team_a.slug}/tokens/", {"name": "bad", **form})
    assert response.status_code == 200 and response.context["new_secret"] is None
    assert response.context["form"].errors[field]
    assert not ApiToken.objects.exists()


def test_an_expired_token_gets_a_clear_401(client, team_a):
    secret = create_token_via_ui(client, team_a.captain, team_a, expires_in="30")
    client.logout()
    auth = {"HTTP_AUTHORIZATION": f"Bearer {secret}"}
    assert client.get("/api/v1/teams/", **auth).status_code == 200
    ApiToken.objects.update(expires=timezone.now() - timedelta(seconds=1))  # thirty days later
    response = client.get("/api/v1/teams/", **auth)
    assert response.status_code == 401
    assert "expired on" in response.json()["detail"] and "API tokens page" in response.json()["detail"]
    client.force_login(team_a.captain)
    assert ">expired<" in client.get(f"/teams/{team_a.slug}/tokens/").content.decode()


def test_the_drive_agent_hears_through_daphne_that_its_token_expired(daphne_server, team_a, tmp_path):
    token, secret = ApiToken.issue(team=team_a, user=team_a.captain, name="car",
                                   expires=timezone.now() + timedelta(days=1))
    with pytest.raises(FetchError, match="404"):  # accepted: the model id is simply unknown
        fetch_model(999999, daphne_server, secret, cache_root=tmp_path)
    ApiToken.objects.filter(pk=token.pk).update(expires=timezone.now() - timedelta(seconds=1))
    with pytest.raises(FetchError, match=r"401: This API token expired on .*check --token"):
        fetch_model(999999, daphne_server, secret, cache_root=tmp_path)


def test_last_used_is_written_at_most_once_a_minute(client, team_a):
    secret = create_token_via_ui(client, team_a.captain, team_a)
    client.logout()
    auth = {"HTTP_AUTHORIZATION": f"Bearer {secret}"}

    def updates_of_one_request() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get("/api/v1/teams/", **auth).status_code == 200
        return sum(1 for query in queries if query["sql"].startswith("UPDATE") and "api_apitoken" in query["sql"])

    assert updates_of_one_request() == 1
    first = ApiToken.objects.get().last_used
    assert first is not None
    assert updates_of_one_request() == 0  # within the minute: no write
    assert ApiToken.objects.get().last_used == first
    ApiToken.objects.update(last_used=first - timedelta(seconds=61))
    assert updates_of_one_request() == 1
    assert ApiToken.objects.get().last_used > first
