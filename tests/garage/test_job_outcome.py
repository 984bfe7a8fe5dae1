"""A model and a dataset follow their job to its end, even when the handler never ran."""

from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.utils import timezone

from simulator.stopping import Stopped
from tests.datasets.helpers import run_in_process
from tests.garage.helpers import ready_dataset, train_form_data
from tests.support.uploads import send
from webapp.datasets.models import Dataset
from webapp.garage.models import TrainedModel
from webapp.jobs.models import Job
from webapp.jobs.runner import reap_stale_jobs
from webapp.jobs.transitions import finish_job

pytestmark = pytest.mark.django_db


@pytest.fixture
def dataset(client, team_a, real_sample, tmp_path):
    return ready_dataset(client, team_a, real_sample, tmp_path)


def test_model_cancelled_while_queued_shows_cancelled(client, team_a, dataset):
    client.post(f"/teams/{team_a.slug}/models/train/", train_form_data(dataset))
    model = TrainedModel.objects.get()
    assert model.job.status == Job.Status.QUEUED and model.status == TrainedModel.Status.TRAINING
    client.post(f"/teams/{team_a.slug}/jobs/{model.job.pk}/cancel/")
    model.refresh_from_db()
    assert model.job.status == Job.Status.CANCELLED and model.status == TrainedModel.Status.CANCELLED
    assert "Cancelled" in client.get(model.get_absolute_url()).content.decode()


def test_model_whose_workers_kept_dying_shows_failed(client, team_a, dataset, settings):
    client.post(f"/teams/{team_a.slug}/models/train/", train_form_data(dataset))
    model = TrainedModel.objects.get()
    stale = timezone.now() - timedelta(seconds=settings.JOB_STALE_AFTER_S + 5)
    Job.objects.filter(pk=model.job.pk).update(status=Job.Status.RUNNING, heartbeat=stale,
                                               attempts=settings.JOB_MAX_ATTEMPTS)
    reap_stale_jobs()
    model.refresh_from_db()
    assert model.job.status == Job.Status.FAILED and model.status == TrainedModel.Status.FAILED


def test_ready_models_are_left_alone(client, team_a, dataset):
    client.post(f"/teams/{team_a.slug}/models/train/", train_form_data(dataset))
    model = TrainedModel.objects.get()
    TrainedModel.objects.filter(pk=model.pk).update(status=TrainedModel.Status.READY)
    Job.objects.filter(pk=model.job.pk).update(status=Job.Status.RUNNING, heartbeat=timezone.now())
    client.post(f"/teams/{team_a.slug}/jobs/{model.job.pk}/cancel/")  # running: only flagged
    finish_job(Job.objects.get(pk=model.job.pk), Job.Status.CANCELLED)
    model.refresh_from_db()
    assert model.status == TrainedModel.Status.READY


def _finished_run(out_dir):
    """What train() returns for a finished run, without training one."""
    return SimpleNamespace(out_dir=out_dir, epochs_completed=2, resumed_from_epoch=0, best_epoch=2,
                           stopped_early=False, history={}, metrics={"val_loss": 0.1}, artifacts={}, model_card={})


def test_model_whose_publish_fails_part_way_shows_failed(client, team_a, dataset, monkeypatch):
    """The handler does not mark its model: the job fails, and job_finished fails the model."""
    client.post(f"/teams/{team_a.slug}/models/train/", train_form_data(dataset))
    model = TrainedModel.objects.get()
    monkeypatch.setattr("training.bc.train.train", lambda dirs, cfg, out_dir, **kw: _finished_run(out_dir))

    def publish_fails_part_way(model, result):
        model.status = TrainedModel.Status.READY  # set, but never saved
        raise OSError("No space left on device")

    monkeypatch.setattr("webapp.garage.services.publish", publish_fails_part_way)
    run_in_process(model.job_id)
    model.refresh_from_db()
    assert model.job.status == Job.Status.FAILED and "No space left" in model.job.error
    assert model.status == TrainedModel.Status.FAILED


def test_model_whose_training_stops_shows_cancelled(client, team_a, dataset, monkeypatch):
    client.post(f"/teams/{team_a.slug}/models/train/", train_form_data(dataset))
    model = TrainedModel.objects.get()

    def train_until_cancelled(dirs, cfg, out_dir, should_stop, **kw):
        Job.objects.filter(pk=model.job_id).update(cancel_requested=True)  # the cancel button
        assert should_stop()
        raise Stopped("training stopped in epoch 1 of 2")

    monkeypatch.setattr("training.bc.train.train", train_until_cancelled)
    run_in_process(model.job_id)
    model.refresh_from_db()
    assert model.job.status == Job.Status.CANCELLED and model.status == TrainedModel.Status.CANCELLED


def test_dataset_cancelled_before_ingest_says_so(client, team_a, archive, pitlane_dirs):
    client.force_login(team_a.captain)
    body = send(client, team_a, "a" * 32, archive, 0, len(archive)).json()
    dataset = Dataset.objects.get(pk=body["dataset_id"])
    assert dataset.job.status == Job.Status.QUEUED
    client.post(f"/teams/{team_a.slug}/jobs/{dataset.job.pk}/cancel/")
    dataset.refresh_from_db()
    assert dataset.status == Dataset.Status.FAILED
    assert dataset.error == "Ingestion was cancelled before it finished."


@pytest.mark.parametrize("next_url, stays", [("/teams/", True), ("https://evil.example/", False),
                                             ("//evil.example/x", False)])
def test_cancel_returns_only_to_pages_of_this_site(client, team_a, dataset, next_url, stays):
    client.post(f"/teams/{team_a.slug}/models/train/", train_form_data(dataset))
    job = TrainedModel.objects.get().job
    response = client.post(f"/teams/{team_a.slug}/jobs/{job.pk}/cancel/", {"next": next_url})
    assert response.status_code == 302
    assert response.url == (next_url if stays else job.get_absolute_url())
