"""Training through a REAL Celery worker: a PilotNet run becomes a ready model with its artifacts
and figures; another run is cancelled mid-training within seconds."""

import pytest

from tests.garage.helpers import ready_dataset, train_form_data
from tests.support.waiting import wait_for
from webapp.garage.models import TrainedModel
from webapp.jobs.models import Job

pytestmark = [pytest.mark.worker, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _start(client, team, dataset, **overrides) -> TrainedModel:
    response = client.post(f"/teams/{team.slug}/models/train/", train_form_data(dataset, **overrides))
    assert response.status_code == 302, response.content.decode()[-2000:]
    return TrainedModel.objects.order_by("-pk").first()


def _job(model):
    return Job.objects.get(pk=model.job_id)


def test_worker_trains_a_ready_model_then_cancel_stops_another(
        client, team_a, real_sample, tmp_path, celery_worker_process):
    dataset = ready_dataset(client, team_a, real_sample, tmp_path)
    model = _start(client, team_a, dataset, side_cameras="on")
    seen = []

    def finished():
        job = _job(model)
        if job.metrics:
            seen.append(dict(job.metrics))
        return job.is_finished

    wait_for(finished, timeout_s=150, interval_s=0.2, message="training job to finish")
    job = _job(model)
    assert job.status == Job.Status.SUCCEEDED, (job.error, job.log_tail)
    model.refresh_from_db()
    assert model.status == TrainedModel.Status.READY and model.is_ready
    assert {"epoch", "batch", "loss", "val_loss", "eta"} <= set(job.metrics)
    assert any(m["epoch"].startswith("1 /") for m in seen) or job.metrics["epoch"] == "2 / 2"

    # Card, metrics, history and the TFLite file (its hash matches the card).
    import hashlib

    blob = model.tflite.read()
    assert hashlib.sha256(blob).hexdigest() == model.tflite_sha256 == model.card["tflite"]["sha256"]
    assert model.card["schema"] == "pitlane.model_card/1" and model.card["preprocessing"]["color_space"] == "yuv"
    assert len(model.history["loss"]) == 2 and model.metrics["val_loss"] > 0
    assert model.tflite.name == f"teams/{team_a.pk}/models/{model.pk}/model.tflite"

    base = f"/teams/{team_a.slug}/models/{model.pk}"
    for name in ("loss", "predictions_over_time", "predicted_vs_true", "error_histogram"):
        figure = client.get(f"{base}/figures/{name}.json")
        assert figure.status_code == 200 and figure.json()["data"], name
    assert len(client.get(f"{base}/figures/loss.json").json()["data"][0]["y"]) == 2
    png = client.get(f"{base}/heatmaps/0.png")
    assert png.status_code == 200 and b"".join(png.streaming_content)[:4] == b"\x89PNG"
    gif = client.get(f"{base}/heatmaps/sequence.gif")
    assert gif.status_code == 200 and b"".join(gif.streaming_content)[:3] == b"GIF"
    download = client.get(f"{base}/download/tflite/")
    assert b"".join(download.streaming_content) == blob
    page = client.get(model.get_absolute_url()).content.decode()
    assert 'data-figure-url="' in page and "heatmaps/sequence.gif" in page and "Clone configuration" in page

    # A long run, cancelled from the web while it trains.
    doomed = _start(client, team_a, dataset, name="Long run", epochs="200", max_steps_per_epoch="2")
    wait_for(lambda: _job(doomed).metrics.get("epoch", "0").split(" ")[0] not in ("0", "1"), timeout_s=90,
             message="the long run to get into its second epoch")
    response = client.post(f"/teams/{team_a.slug}/jobs/{doomed.job_id}/cancel/")
    assert response.status_code == 302
    import time

    asked = time.monotonic()
    wait_for(lambda: _job(doomed).status == Job.Status.CANCELLED, timeout_s=20, message="cancellation")
    assert time.monotonic() - asked < 10
    doomed.refresh_from_db()
    assert doomed.status == TrainedModel.Status.CANCELLED and not doomed.tflite
