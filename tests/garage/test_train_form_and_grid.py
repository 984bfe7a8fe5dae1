"""The training form: defaults, validation messages, JSON config, grid expansion into N jobs that
share a group, the group page's ranking, and "clone configuration"."""

import pytest

from tests.garage.helpers import ready_dataset, train_form_data
from webapp.garage.models import TrainedModel
from webapp.jobs.models import Job

pytestmark = pytest.mark.django_db


@pytest.fixture
def dataset(client, team_a, real_sample, tmp_path):
    return ready_dataset(client, team_a, real_sample, tmp_path)


def test_form_page_offers_every_config_field(client, team_a, dataset):
    page = client.get(f"/teams/{team_a.slug}/models/train/?dataset={dataset.pk}").content.decode()
    from training.bc.config import FIELD_NAMES

    for name in FIELD_NAMES:
        if name != "inception_weights":
            assert f'name="{name}"' in page, name
    assert 'value="pilotnet" selected' in page
    assert "Configuration as JSON" in page and "Real sample" in page


def test_single_run_starts_one_job_and_model(client, team_a, dataset):
    response = client.post(f"/teams/{team_a.slug}/models/train/", train_form_data(dataset))
    model = TrainedModel.objects.get()
    assert response.status_code == 302 and response.url == model.get_absolute_url()
    assert model.job.kind == "garage.train_bc" and model.job.queue == "training"
    assert model.job.params == {"model_id": model.pk}
    assert model.config["epochs"] == 2 and model.config["architecture"] == "pilotnet"
    assert model.group_key == "" and list(model.datasets.all()) == [dataset]
    page = client.get(model.get_absolute_url()).content.decode()
    assert "Cancel training" in page and f'data-live-job="{model.job.pk}"' in page


def test_grid_expands_into_one_job_per_combination(client, team_a, dataset):
    data = train_form_data(dataset, learning_rate="0.001, 0.0003", batch_size="8, 16")
    response = client.post(f"/teams/{team_a.slug}/models/train/", data)
    models = list(TrainedModel.objects.order_by("pk"))
    assert len(models) == 4 and Job.objects.filter(kind="garage.train_bc").count() == 4
    group = models[0].group_key
    assert group and all(m.group_key == group and m.job.group_key == group for m in models)
    assert response.url == f"/teams/{team_a.slug}/models/groups/{group}/"
    assert [(m.config["learning_rate"], m.config["batch_size"]) for m in models] == [
        (0.001, 8), (0.001, 16), (0.0003, 8), (0.0003, 16)]
    assert models[0].name == "Tiny PilotNet [learning_rate=0.001, batch_size=8]"

    # Finished runs are ranked by validation loss, best first; unfinished ones come last.
    for model, loss in zip(models, [0.09, 0.03, None, 0.05], strict=True):
        if loss is not None:
            model.metrics = {"val_loss": loss}
            model.status = TrainedModel.Status.READY
            model.save()
    page = client.get(response.url).content.decode()
    order = [page.index(f'data-model-id="{m.pk}"') for m in (models[1], models[3], models[0], models[2])]
    assert order == sorted(order)
    assert "4 runs" in page


def test_json_config_overrides_and_can_make_a_grid(client, team_a, dataset):
    data = train_form_data(dataset, advanced_json='{"color_space": ["yuv", "rgb"], "epochs": 1}')
    client.post(f"/teams/{team_a.slug}/models/train/", data)
    assert sorted(m.config["color_space"] for m in TrainedModel.objects.all()) == ["rgb", "yuv"]
    assert {m.config["epochs"] for m in TrainedModel.objects.all()} == {1}


@pytest.mark.parametrize("overrides, message", [
    ({"crop_top": "100", "crop_bottom": "80"}, "crop_top + crop_bottom"),
    ({"learning_rate": "fast"}, "comma-separated list"),
    ({"advanced_json": "{not json"}, "Not valid JSON"),
    ({"advanced_json": '{"epoch": 3}'}, "did you mean"),
    ({"learning_rate": "0.1, 0.01, 0.001", "batch_size": "4, 8, 16, 32"}, "at most"),
    ({"architecture": "inception_transfer", "resize": "66x200"}, "at least 75"),
])
def test_invalid_configurations_say_which_field(client, team_a, dataset, settings, overrides, message):
    settings.PITLANE_MAX_GRID_JOBS = 8
    response = client.post(f"/teams/{team_a.slug}/models/train/", train_form_data(dataset, **overrides))
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not TrainedModel.objects.exists() and not Job.objects.filter(kind="garage.train_bc").exists()


def test_another_teams_dataset_cannot_be_chosen(client, team_a, team_b, real_sample, tmp_path, dataset):
    theirs = ready_dataset(client, team_b, real_sample, tmp_path, name="Bravo log")
    client.force_login(team_a.captain)
    response = client.post(f"/teams/{team_a.slug}/models/train/", train_form_data(theirs))
    assert response.status_code == 200 and "Select a valid choice" in response.content.decode()
    assert not TrainedModel.objects.exists()


def test_clone_configuration_prefills_the_form(client, team_a, dataset):
    client.post(f"/teams/{team_a.slug}/models/train/",
                train_form_data(dataset, learning_rate="0.00042", color_space="rgb", recovery_mode="exclude"))
    original = TrainedModel.objects.get()
    page = client.get(f"/teams/{team_a.slug}/models/train/?clone={original.pk}").content.decode()
    assert 'value="0.00042"' in page and 'value="rgb" selected' in page and 'value="exclude" selected' in page
    assert "(clone)" in page
    client.post(f"/teams/{team_a.slug}/models/train/?clone={original.pk}",
                train_form_data(dataset, name="Clone", learning_rate="0.00042"))
    clone = TrainedModel.objects.get(name="Clone")
    assert clone.cloned_from == original and clone.config["learning_rate"] == 0.00042
