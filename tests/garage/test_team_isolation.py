"""Every dataset and model URL answers 404 to another team (pages, figures, frames, heat maps,
downloads, actions), with real objects of the other team behind each id; and nothing changes."""

import pytest
from django.urls import reverse

from tests.garage.helpers import ready_dataset
from webapp.datasets.models import Dataset, RecoverySegment
from webapp.garage.models import InceptionWeights, TrainedModel

pytestmark = pytest.mark.django_db


@pytest.fixture
def bravo(client, team_b, real_sample, tmp_path):
    dataset = ready_dataset(client, team_b, real_sample, tmp_path, name="Bravo secret log")
    segment = RecoverySegment.objects.create(dataset=dataset, start=3, end=9)
    model = TrainedModel.objects.create(
        team=team_b, name="Bravo secret model", status=TrainedModel.Status.READY, group_key="bravogrid",
        artifacts_dir=f"teams/{team_b.pk}/models/1",
        artifacts={"plots": {"loss": "plots/loss.json"}, "heatmaps": {"png": ["heatmaps/frame_000.png"],
                                                                       "gif": "heatmaps/sequence.gif"},
                   "model_card": "model_card.json", "model_keras": "model.keras"},
        tflite="teams/x/model.tflite")
    weights = InceptionWeights.objects.create(team=team_b, name="w", file="teams/x/w.h5", sha256="0" * 64)
    return dataset, segment, model, weights


def urls(team, dataset, segment, model, weights) -> tuple[list[str], list[str]]:
    s = team.slug
    gets = [
        reverse("dataset_list", args=[s]), reverse("dataset_detail", args=[s, dataset.pk]),
        reverse("dataset_figure", args=[s, dataset.pk, "steering_smoothing"]),
        reverse("dataset_figure", args=[s, dataset.pk, "steering_histogram"]),
        reverse("dataset_sample", args=[s, dataset.pk, 0]),
        reverse("model_list", args=[s]), reverse("model_train", args=[s]),
        reverse("model_train", args=[s]) + f"?clone={model.pk}",
        reverse("model_detail", args=[s, model.pk]), reverse("model_figure", args=[s, model.pk, "loss"]),
        reverse("model_heatmap", args=[s, model.pk, 0]), reverse("model_heatmap_gif", args=[s, model.pk]),
        reverse("model_download", args=[s, model.pk, "tflite"]),
        reverse("model_download", args=[s, model.pk, "card"]),
        reverse("model_group", args=[s, model.group_key]), reverse("weights_list", args=[s]),
    ]
    posts = [
        reverse("dataset_upload", args=[s]), reverse("dataset_recovery_add", args=[s, dataset.pk]),
        reverse("dataset_recovery_delete", args=[s, dataset.pk, segment.pk]),
        reverse("dataset_delete", args=[s, dataset.pk]), reverse("model_train", args=[s]),
        reverse("weights_list", args=[s]), reverse("weights_delete", args=[s, weights.pk]),
    ]
    return gets, posts


def test_every_dataset_and_model_url_is_404_for_another_team(client, team_a, team_b, bravo):
    dataset, segment, model, weights = bravo
    gets, posts = urls(team_b, dataset, segment, model, weights)
    client.force_login(team_a.captain)
    for url in gets:
        response = client.get(url)
        assert response.status_code == 404, url
        assert b"Bravo secret" not in response.content, url
    for url in posts:
        assert client.post(url, {"start": 0, "end": 5}).status_code == 404, url
    # Team A's own pages, pointed at team B's ids, are 404 too (ids are scoped, not global).
    own = [reverse("dataset_detail", args=[team_a.slug, dataset.pk]),
           reverse("dataset_sample", args=[team_a.slug, dataset.pk, 0]),
           reverse("model_detail", args=[team_a.slug, model.pk]),
           reverse("model_download", args=[team_a.slug, model.pk, "tflite"]),
           reverse("model_group", args=[team_a.slug, model.group_key]),
           reverse("model_train", args=[team_a.slug]) + f"?clone={model.pk}"]
    for url in own:
        assert client.get(url).status_code == 404, url
    assert b"Bravo secret" not in client.get(reverse("dataset_list", args=[team_a.slug])).content
    assert b"Bravo secret" not in client.get(reverse("model_list", args=[team_a.slug])).content
    assert b"Bravo secret" not in client.get(reverse("model_train", args=[team_a.slug])).content
    # Nothing of team B changed.
    assert Dataset.objects.filter(pk=dataset.pk, status=Dataset.Status.READY).exists()
    assert RecoverySegment.objects.filter(pk=segment.pk).exists()
    assert InceptionWeights.objects.filter(team=team_b).exists()
    assert dataset.path.is_dir()


def test_members_reach_the_same_urls(client, team_b, bravo):
    dataset, segment, model, weights = bravo
    gets, _ = urls(team_b, dataset, segment, model, weights)
    client.force_login(team_b.captain)
    reachable = [u for u in gets if "/figures/loss" not in u and "/heatmaps/" not in u and "/download/" not in u]
    for url in reachable:
        assert client.get(url).status_code == 200, url


def test_anonymous_visitors_are_sent_to_log_in(client, team_b, bravo):
    gets, posts = urls(team_b, *bravo)
    client.logout()
    for url in gets + posts:
        response = client.get(url)
        assert response.status_code == 302 and response.url.startswith(reverse("login")), url
