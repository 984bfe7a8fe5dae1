"""Issue 13's outside test, BC training and model pages: a deleted dataset stays named on the model
page and cloning says it is gone; a single run's error does not speak of a grid combination; the
validation chart's axis and block count are true; the grid page's headers are the fields' labels;
the finished job card says which epoch each loss is from."""

from __future__ import annotations

import numpy as np
import pytest

from training.bc import config as bc
from training.bc import plots
from webapp.datasets.models import Dataset
from webapp.datasets.services import delete_dataset
from webapp.garage import services
from webapp.garage.forms import field_label
from webapp.garage.jobs import final_metrics

pytestmark = pytest.mark.django_db


# --- 1. a deleted dataset ----------------------------------------------------------------------

@pytest.fixture
def trained_on_two(team_a, monkeypatch):
    monkeypatch.setattr("webapp.jobs.dispatch.enqueue", lambda job: None)
    first = Dataset.objects.create(team=team_a, name="Monday laps", status=Dataset.Status.READY, frames=240)
    second = Dataset.objects.create(team=team_a, name="Tuesday laps", status=Dataset.Status.READY, frames=120)
    [model] = services.start_training(team=team_a, user=team_a.captain, name="Two days",
                                      datasets=[first, second], configs=[bc.TrainConfig()])
    return model, first, second


def test_the_model_page_keeps_naming_a_deleted_dataset(client, team_a, trained_on_two):
    model, first, second = trained_on_two
    delete_dataset(dataset=first)
    client.force_login(team_a.captain)
    page = client.get(model.get_absolute_url()).content.decode()
    assert "Monday laps (240 frames)" in page and "Tuesday laps</a> (120 frames)" in page
    deleted = page.split("data-deleted>", 1)[1].split("</li>", 1)[0]
    assert "Monday laps" in deleted and ">deleted</span>" in deleted
    assert page.count("data-deleted") == 1  # the remaining one is not marked


def test_cloning_says_a_dataset_is_gone_instead_of_dropping_it_silently(client, team_a, trained_on_two):
    model, first, second = trained_on_two
    client.force_login(team_a.captain)
    page = client.get(f"/teams/{team_a.slug}/models/train/?clone={model.pk}").content.decode()
    assert "data-cloned-deleted" not in page
    delete_dataset(dataset=first)
    page = client.get(f"/teams/{team_a.slug}/models/train/?clone={model.pk}").content.decode()
    notice = page.split("data-cloned-deleted>", 1)[1].split("</div>", 1)[0]
    assert "1 dataset that has since been deleted: Monday laps" in notice
    assert services.clone_initial(model)["datasets"] == [second.pk]


def test_a_model_trained_before_datasets_were_recorded_lists_what_exists(team_a, trained_on_two):
    model, first, second = trained_on_two
    model.options.pop("datasets")
    model.save()
    delete_dataset(dataset=first)
    assert [row["name"] for row in services.training_data(model)] == ["Tuesday laps"]
    assert services.deleted_datasets(model) == []


# --- 2. a single run is not a grid combination ---------------------------------------------------

def test_a_single_runs_error_does_not_speak_of_a_grid_combination():
    with pytest.raises(bc.ConfigError) as single:
        bc.expand_grid({"learning_rate": -1.0})
    assert not str(single.value).startswith("grid combination") and single.value.field == "learning_rate"
    with pytest.raises(bc.ConfigError, match=r"grid combination \{'learning_rate': -1.0\} is invalid"):
        bc.expand_grid({"learning_rate": [0.001, -1.0]})


def test_the_training_form_shows_a_single_runs_error_without_grid_words(client, team_a, monkeypatch):
    from tests.garage.helpers import train_form_data

    dataset = Dataset.objects.create(team=team_a, name="Ready", status=Dataset.Status.READY, frames=100)
    client.force_login(team_a.captain)
    page = client.post(f"/teams/{team_a.slug}/models/train/",
                       train_form_data(dataset, learning_rate="-1")).content.decode()
    assert "learning_rate" in page.lower() and "grid combination" not in page


# --- 3. the validation chart -------------------------------------------------------------------

def test_adjacent_validation_blocks_count_as_the_split_made_them():
    frames = np.arange(100, 140)  # blocks 5 and 6 of 20 frames, drawn side by side
    figure = plots.predictions_over_time(np.zeros(40), np.zeros(40), frames, dataset_ids=np.ones(40, int),
                                         block_frames=20, dataset_frames={1: 400})
    assert "(2 blocks)" in figure["layout"]["title"]["text"]
    one = plots.predictions_over_time(np.zeros(20), np.zeros(20), np.arange(20), dataset_ids=np.ones(20, int),
                                      block_frames=20, dataset_frames={1: 400})
    assert "(1 block)" in one["layout"]["title"]["text"]
    # A recording shorter than two blocks is split into smaller ones (split.block_size).
    small = plots.predictions_over_time(np.zeros(10), np.zeros(10), np.arange(10), dataset_ids=np.ones(10, int),
                                        block_frames=20, dataset_frames={1: 10})
    assert "(2 blocks)" in small["layout"]["title"]["text"]


def test_blocks_of_two_datasets_stay_apart_and_the_axis_says_what_it_spans():
    frames = np.arange(90, 110)  # dataset 1 ends at frame 99, dataset 2 starts at 100
    ids = np.array([1] * 10 + [2] * 10)
    figure = plots.predictions_over_time(np.zeros(20), np.zeros(20), frames, dataset_ids=ids,
                                         block_frames=10, dataset_frames={1: 100, 2: 100})
    xs = figure["data"][0]["x"]
    assert xs.count(None) == 1 and xs[10] is None  # a gap between the two recordings
    assert "(2 blocks of 2 datasets)" in figure["layout"]["title"]["text"]
    axis = figure["layout"]["xaxis"]["title"]["text"]
    assert axis == plots.VALIDATION_X_TITLE and "recording" not in axis


# --- 4. grid headers ---------------------------------------------------------------------------

def test_grid_headers_are_the_fields_labels():
    assert field_label("learning_rate") == "Learning rate"
    assert field_label("max_steps_per_epoch") == "Max steps per epoch"


# --- 5. the finished job card ------------------------------------------------------------------

def test_the_finished_job_card_says_which_epoch_each_loss_is_from():
    history = {"loss": [0.5, 0.3, 0.2], "val_loss": [0.4, 0.25, 0.31]}
    metrics = final_metrics(history, 2, 3, 0.25)
    assert metrics["loss"] == "0.30000 (epoch 2, kept)"  # the kept epoch's, not the last's 0.2
    assert metrics["val_loss"] == "0.25000 (epoch 2, kept)"
    assert metrics["last epoch loss"] == "0.20000 (epoch 3, the last)"
    assert metrics["last epoch val_loss"] == "0.31000 (epoch 3, the last)"
    assert metrics["kept_epoch"] == "2 of 3"
    same = final_metrics({"loss": [0.5, 0.3], "val_loss": [0.4, 0.25]}, 2, 2, 0.25)
    assert "last epoch loss" not in same and same["loss"] == "0.30000 (epoch 2, kept)"


def test_train_model_reports_the_labelled_metrics(team_a, monkeypatch):
    """The job handler ends with final_metrics (a fake train() and publish: no TensorFlow)."""
    from types import SimpleNamespace

    from webapp.garage import jobs
    from webapp.garage.models import TrainedModel

    monkeypatch.setattr("webapp.jobs.dispatch.enqueue", lambda job: None)
    dataset = Dataset.objects.create(team=team_a, name="Ready", status=Dataset.Status.READY, frames=100)
    [model] = services.start_training(team=team_a, user=team_a.captain, name="Fake", datasets=[dataset],
                                      configs=[bc.TrainConfig()])
    result = SimpleNamespace(epochs_completed=3, resumed_from_epoch=0, best_epoch=2, metrics={"val_loss": 0.25})

    def fake_publish(m, r):
        m.history = {"loss": [0.5, 0.3, 0.2], "val_loss": [0.4, 0.25, 0.31]}
        m.metrics = {"val_loss": 0.25}
        m.status = TrainedModel.Status.READY

    monkeypatch.setattr("webapp.garage.jobs.training_directories", lambda *a, **k: [])
    monkeypatch.setattr("training.bc.train.train", lambda *a, **k: result)
    monkeypatch.setattr(services, "publish", fake_publish)
    calls = []
    reporter = SimpleNamespace(log=lambda line: None, cancel_requested=lambda: False,
                               progress=lambda pct, msg=None, **kw: calls.append(kw))
    jobs.train_model(model.job, reporter)
    assert calls[-1]["loss"] == "0.30000 (epoch 2, kept)" and calls[-1]["val_loss"] == "0.25000 (epoch 2, kept)"
