"""Every RL URL answers 404 to another team, with a real, ready RL model of the other team behind
each id (its files on disk): pages, history, clone, clone plan and every download; nothing changes."""

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.urls import reverse

from tests.rl_web.helpers import form_data, validated_version
from webapp.garage.models import TrainedModel
from webapp.rl import selectors, services

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("pitlane_dirs")]


@pytest.fixture
def bravo_model(client, team_b):
    version = validated_version(team_b, name="Bravo secret reward")
    client.force_login(team_b.captain)
    assert client.post(reverse("rl_train", args=[team_b.slug]), form_data(version, name="Bravo RL")).status_code == 302
    model = TrainedModel.objects.get(team=team_b)
    services.record_iteration(model, {"iteration": 0, "reward_mean": 1.0, "episode_rows": []})
    artifacts = {"model_card": "model_card.json", "model_metadata": "model_metadata.json",
                 "hyperparameters": "hyperparameters.json", "reward_function": "reward_function.py",
                 "console_archive": "console/model.zip", "tflite": "model.tflite"}
    for relative in artifacts.values():
        default_storage.save(model.artifact_name(relative), ContentFile(b"bravo secret"))
    model.tflite.name = model.artifact_name("model.tflite")
    model.artifacts = artifacts
    model.status = TrainedModel.Status.READY
    model.save()
    client.logout()
    return model


def test_other_team_gets_404_everywhere(client, team_a, team_b, bravo_model):
    client.force_login(team_b.captain)  # the owner sees them all
    s, pk = team_b.slug, bravo_model.pk
    gets = [reverse("rl_model", args=[s, pk]), reverse("rl_history", args=[s, pk]),
            reverse("rl_train", args=[s]) + f"?clone={pk}"]
    gets += [reverse("rl_download", args=[s, pk, what]) for what in selectors.DOWNLOADS]
    for url in gets:
        assert client.get(url).status_code == 200, url
    assert client.post(reverse("rl_clone_plan", args=[s]) + f"?clone={pk}", {}).status_code == 400  # form errors

    client.force_login(team_a.captain)
    for url in gets:
        assert client.get(url).status_code == 404, url
    # Through Alpha's own slug with Bravo's ids, too.
    a = team_a.slug
    for url in [reverse("rl_model", args=[a, pk]), reverse("rl_history", args=[a, pk]),
                reverse("rl_train", args=[a]) + f"?clone={pk}",
                *[reverse("rl_download", args=[a, pk, what]) for what in selectors.DOWNLOADS]]:
        assert client.get(url).status_code == 404, url
    assert client.post(reverse("rl_clone_plan", args=[a]) + f"?clone={pk}", {}).status_code == 404
    assert client.post(reverse("rl_clone_plan", args=[s]) + f"?clone={pk}", {}).status_code == 404
    version = validated_version(team_a)
    assert client.post(reverse("rl_train", args=[s]), form_data(version)).status_code == 404
    response = client.post(reverse("rl_train", args=[a]) + f"?clone={pk}", form_data(version))
    assert response.status_code == 404
    assert TrainedModel.objects.filter(team=team_a).count() == 0


def test_downloads_only_of_a_ready_model(client, team_b, bravo_model):
    client.force_login(team_b.captain)
    response = client.get(reverse("rl_download", args=[team_b.slug, bravo_model.pk, "console"]))
    assert response.status_code == 200 and b"".join(response.streaming_content) == b"bravo secret"
    assert response["Content-Disposition"].startswith("attachment") and "model.zip" in response["Content-Disposition"]
    bravo_model.status = TrainedModel.Status.CANCELLED
    bravo_model.save(update_fields=["status"])
    for what in selectors.DOWNLOADS:
        assert client.get(reverse("rl_download", args=[team_b.slug, bravo_model.pk, what])).status_code == 404
    assert client.get(reverse("rl_download", args=[team_b.slug, bravo_model.pk, "keras"])).status_code == 404
