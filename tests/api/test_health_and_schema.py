import pytest

pytestmark = pytest.mark.django_db


def test_health_reports_database_and_redis(client):
    response = client.get("/api/v1/health/")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "redis": "ok"}


def test_health_degrades_when_redis_is_down(client, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    response = client.get("/api/v1/health/")
    assert response.status_code == 503
    assert response.json()["redis"].startswith("error")


def test_openapi_schema_lists_the_v1_endpoints(client, team_a):
    client.force_login(team_a.captain)
    response = client.get("/api/v1/schema/?format=json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["info"]["title"] == "Pitlane API"
    for path in ("/api/v1/health/", "/api/v1/teams/", "/api/v1/jobs/", "/api/v1/jobs/{id}/cancel/"):
        assert path in schema["paths"], path


def test_api_requires_credentials(client):
    assert client.get("/api/v1/jobs/").status_code in (401, 403)
