"""Team API tokens: shown once, stored hashed, revocable, scoped to one team."""

import pytest

from webapp.api.models import ApiToken, hash_token
from webapp.jobs.models import Job

pytestmark = pytest.mark.django_db


def create_token_via_ui(client, user, team, name="laptop") -> str:
    client.force_login(user)
    response = client.post(f"/teams/{team.slug}/tokens/", {"name": name})
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
