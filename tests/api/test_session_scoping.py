"""The API's team scoping through the selectors, for a browser session: a user in two teams sees
the jobs and models of both (filters included) and of no other team; another team's job or
model answers 404, a model that is not ready 409; nothing of another team changes."""

from __future__ import annotations

import pytest

from webapp.garage.models import TrainedModel
from webapp.jobs.models import Job

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice_in_two_teams(make_team, team_a, team_b):
    team_c = make_team("Team Charlie", captain=team_a.captain)
    return team_a.captain, team_a, team_c, team_b


def test_jobs_of_all_the_users_teams_and_no_other(client, alice_in_two_teams):
    alice, team_a, team_c, team_b = alice_in_two_teams
    ours = Job.objects.create(team=team_a, kind="test.countdown", title="a queued")
    Job.objects.create(team=team_a, kind="test.other", title="a failed", status=Job.Status.FAILED)
    Job.objects.create(team=team_c, kind="test.countdown", title="c queued")
    foreign = Job.objects.create(team=team_b, kind="test.countdown", title="b queued")
    client.force_login(alice)

    def titles(query: str = "") -> set[str]:
        response = client.get(f"/api/v1/jobs/{query}")
        assert response.status_code == 200
        return {j["title"] for j in response.json()["results"]}

    assert titles() == {"a queued", "a failed", "c queued"}
    assert titles("?status=failed") == {"a failed"}
    assert titles("?kind=test.countdown") == {"a queued", "c queued"}
    assert titles("?status=queued&kind=test.other") == set()
    assert {t["slug"] for t in client.get("/api/v1/teams/").json()["results"]} == {team_a.slug, team_c.slug}

    assert client.get(f"/api/v1/jobs/{ours.pk}/").json()["title"] == "a queued"
    assert client.get(f"/api/v1/jobs/{foreign.pk}/").status_code == 404
    assert client.post(f"/api/v1/jobs/{foreign.pk}/cancel/").status_code == 404
    assert Job.objects.get(pk=foreign.pk).cancel_requested is False


def test_models_of_all_the_users_teams_and_no_other(client, alice_in_two_teams):
    alice, team_a, team_c, team_b = alice_in_two_teams
    a = TrainedModel.objects.create(team=team_a, name="a", status=TrainedModel.Status.TRAINING)
    c = TrainedModel.objects.create(team=team_c, name="c", status=TrainedModel.Status.FAILED)
    foreign = TrainedModel.objects.create(team=team_b, name="b", status=TrainedModel.Status.READY,
                                          tflite="teams/x/model.tflite")
    client.force_login(alice)
    listed = client.get("/api/v1/models/").json()["results"]
    assert {m["name"]: m["team"] for m in listed} == {"a": team_a.slug, "c": team_c.slug}
    assert client.get("/api/v1/models/?ready=1").json()["results"] == []
    for model in (a, c):
        assert client.get(f"/api/v1/models/{model.pk}/").status_code == 409
        assert client.get(f"/api/v1/models/{model.pk}/tflite").status_code == 409
    assert client.get(f"/api/v1/models/{foreign.pk}/").status_code == 404
    assert client.get(f"/api/v1/models/{foreign.pk}/tflite").status_code == 404


def test_anonymous_sees_nothing(client, team_a):
    job = Job.objects.create(team=team_a, kind="test.countdown")
    assert client.get("/api/v1/jobs/").status_code in (401, 403)
    assert client.get(f"/api/v1/jobs/{job.pk}/").status_code in (401, 403)
    assert client.get("/api/v1/teams/").status_code in (401, 403)
