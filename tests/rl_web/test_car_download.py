"""The DeepRacer car archive of an RL model: published from a real (tiny) run's checkpoint beside
the other downloads, linked on the model page, served to its team only; another team gets 404
through either slug, and a model that is not ready, or has no car archive, gets 404 too."""

import io
import json
import tarfile

import pytest
from django.urls import reverse

from tests.rl_web.helpers import CENTRE, form_data, validated_version
from training.rl.config import RLConfig
from webapp.garage.models import TrainedModel
from webapp.rl import services

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("pitlane_dirs")]


def _body(response) -> bytes:
    return b"".join(response.streaming_content)


@pytest.fixture
def bravo_model(client, team_b, tmp_path):
    """Bravo's RL model, published by services.publish from a real training run."""
    from training.rl.train import train

    version = validated_version(team_b, name="Bravo secret reward")
    client.force_login(team_b.captain)
    assert client.post(reverse("rl_train", args=[team_b.slug]), form_data(version, name="Bravo RL")).status_code == 302
    model = TrainedModel.objects.get(team=team_b)
    config = RLConfig.from_dict({"num_envs": 2, "chunk_steps": 16, "num_episodes_between_training": 5,
                                 "term_cond_max_episodes": 5, "eval_trials": 0, "batch_size": 32,
                                 "num_epochs": 3, "seed": 3})
    result = train(config, CENTRE, tmp_path / "run")
    services.publish(model, result)
    model.refresh_from_db()
    client.logout()
    return model


def test_car_archive_is_published_and_served_to_its_team_only(client, team_a, team_b, bravo_model):
    assert bravo_model.artifacts["car_archive"] == f"car/model_{bravo_model.pk}.tar.gz"
    url = reverse("rl_car_download", args=[team_b.slug, bravo_model.pk])
    client.force_login(team_b.captain)
    page = client.get(reverse("rl_model", args=[team_b.slug, bravo_model.pk])).content.decode()
    assert 'data-car-archive' in page and url in page
    response = client.get(url)
    assert response.status_code == 200 and response["Content-Type"] == "application/gzip"
    assert f'filename="model_{bravo_model.pk}.tar.gz"' in response["Content-Disposition"]
    with tarfile.open(fileobj=io.BytesIO(_body(response)), mode="r:gz") as tar:
        assert sorted(tar.getnames()) == ["agent/model.pb", "model_metadata.json"]
        metadata = json.load(tar.extractfile("model_metadata.json"))
    assert metadata["sensor"] == ["FRONT_FACING_CAMERA"] and metadata["training_algorithm"] == "clipped_ppo"

    client.force_login(team_a.captain)
    assert client.get(url).status_code == 404
    assert client.get(reverse("rl_car_download", args=[team_a.slug, bravo_model.pk])).status_code == 404

    client.force_login(team_b.captain)
    bravo_model.status = TrainedModel.Status.CANCELLED
    bravo_model.save(update_fields=["status"])
    assert client.get(url).status_code == 404
    bravo_model.status = TrainedModel.Status.READY
    bravo_model.artifacts = {k: v for k, v in bravo_model.artifacts.items() if k != "car_archive"}
    bravo_model.save(update_fields=["status", "artifacts"])
    assert client.get(url).status_code == 404
    page = client.get(reverse("rl_model", args=[team_b.slug, bravo_model.pk])).content.decode()
    assert "data-car-archive" not in page and "Console / DRfC archive" in page


def test_a_model_the_car_cannot_run_is_published_without_it(team_b, tmp_path, caplog):
    """A frame stack cannot run on the car: publishing goes on, with the reason logged."""
    (tmp_path / "training_config.json").write_text(json.dumps(RLConfig.from_dict({"stack_size": 2}).to_dict()))
    model = TrainedModel.objects.create(team=team_b, name="stacked", kind=TrainedModel.Kind.REINFORCEMENT)
    assert services.publish_car_archive(model, tmp_path) is None
    assert "stacks 2 frames" in caplog.text
