"""One definition of a ready model (TrainedModel.READY_TO_DRIVE: status READY and a TFLite file):
the queryset and the instance agree for every status with and without a file, and a model whose
status is READY but whose TFLite file is missing is ready nowhere: not on its page (downloads,
results), not for evaluation, not in the API (`?ready=1`, detail, bytes)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from webapp.api.models import ApiToken
from webapp.evaluations.models import Evaluation
from webapp.garage import selectors
from webapp.garage.models import TrainedModel

pytestmark = pytest.mark.django_db

COMBINATIONS = [(status, has_file) for status in TrainedModel.Status.values for has_file in (True, False)]


@pytest.mark.parametrize("status, has_file", COMBINATIONS)
def test_queryset_and_instance_agree(team_a, status, has_file):
    model = TrainedModel.objects.create(team=team_a, name="m", status=status,
                                        tflite="teams/x/model.tflite" if has_file else "")
    expected = status == TrainedModel.Status.READY and has_file
    assert model.is_ready is expected
    assert TrainedModel.objects.get(pk=model.pk).is_ready is expected
    assert TrainedModel.objects.ready().filter(pk=model.pk).exists() is expected
    assert selectors.ready_models_of_team(team_a).filter(pk=model.pk).exists() is expected
    assert selectors.models_of_teams([team_a.pk], ready_only=True).filter(pk=model.pk).exists() is expected


def test_exactly_the_ready_models_with_a_file_are_ready(team_a):
    models = [TrainedModel.objects.create(team=team_a, name=f"{status} {has_file}", status=status,
                                          tflite="teams/x/model.tflite" if has_file else "")
              for status, has_file in COMBINATIONS]
    in_memory = {m.pk for m in TrainedModel.objects.all() if m.is_ready}
    in_database = set(TrainedModel.objects.ready().values_list("pk", flat=True))
    assert in_memory == in_database == {m.pk for m in models if m.status == "ready" and m.tflite}
    assert len(in_database) == 1


def start(team, model) -> str:
    return reverse("evaluation_start", args=[team.slug, model.pk])


def download(team, model, artifact: str) -> str:
    return reverse("model_download", args=[team.slug, model.pk, artifact])


@pytest.fixture
def without_file(team_a, make_ready_model):
    """A model whose training published it (status READY, card, artifacts) but whose TFLite file is
    not recorded, beside a complete one as the control."""
    complete = make_ready_model(team_a, name="Complete model")
    broken = make_ready_model(team_a, name="Fileless model")
    TrainedModel.objects.filter(pk=broken.pk).update(
        tflite="", artifacts_dir=f"teams/{team_a.pk}/models/{broken.pk}",
        artifacts={"plots": {"loss": "plots/loss.json"}, "model_card": "model_card.json",
                   "model_keras": "model.keras"})
    broken.refresh_from_db()
    assert broken.status == TrainedModel.Status.READY and not broken.tflite
    return complete, broken


def test_not_offered_for_evaluation(client, team_a, without_file):
    complete, broken = without_file
    client.force_login(team_a.captain)

    assert start(team_a, complete) in client.get(complete.get_absolute_url()).content.decode()
    page = client.get(broken.get_absolute_url()).content.decode()
    assert start(team_a, broken) not in page and "can be evaluated once it is ready" in page

    listing = client.get(reverse("evaluation_list", args=[team_a.slug])).content.decode()
    assert "Complete model" in listing and "Fileless model" not in listing

    form = {"track": "pitlane_loop", "direction": "counterclockwise", "trials": 1,
            "off_track_penalty_s": 2, "time_limit_s": 60}
    response = client.post(start(team_a, broken), form, follow=True)
    assert "is not ready to drive" in response.content.decode()
    assert not Evaluation.objects.exists()


def test_not_listed_as_ready_by_the_api_and_not_downloadable(client, team_a, without_file):
    complete, broken = without_file
    auth = {"HTTP_AUTHORIZATION": "Bearer " + ApiToken.issue(team=team_a, user=team_a.captain, name="car")[1]}

    listed = {m["id"]: m for m in client.get("/api/v1/models/", **auth).json()["results"]}
    assert listed[complete.pk]["ready"] is True and listed[complete.pk]["tflite_url"]
    assert listed[broken.pk]["ready"] is False and listed[broken.pk]["tflite_url"] is None
    ready_only = client.get("/api/v1/models/?ready=1", **auth).json()["results"]
    assert [m["id"] for m in ready_only] == [complete.pk]

    for url in (f"/api/v1/models/{broken.pk}/", f"/api/v1/models/{broken.pk}/tflite"):
        response = client.get(url, **auth)
        assert response.status_code == 409, url
        assert "is not ready to drive" in response.json()["detail"] and "no TFLite file" in response.json()["detail"]
    assert client.get(f"/api/v1/models/{complete.pk}/tflite", **auth).status_code == 200


def test_its_page_does_not_show_it_ready_and_its_files_are_404(client, team_a, without_file):
    complete, broken = without_file
    client.force_login(team_a.captain)

    assert download(team_a, complete, "tflite") in client.get(complete.get_absolute_url()).content.decode()
    response = client.get(broken.get_absolute_url())
    assert response.status_code == 200 and response.context["ready"] is False
    page = response.content.decode()
    assert not any(download(team_a, broken, artifact) in page for artifact in ("tflite", "keras", "card"))
    assert "data-figure-url" not in page

    for artifact in ("tflite", "keras", "card"):
        assert client.get(download(team_a, broken, artifact)).status_code == 404, artifact
    assert client.get(download(team_a, complete, "tflite")).status_code == 200

    # The list shows the recorded status; it never offers a download or an evaluation itself.
    listing = client.get(reverse("model_list", args=[team_a.slug])).content.decode()
    assert "Fileless model" in listing and download(team_a, broken, "tflite") not in listing
