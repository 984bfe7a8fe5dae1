"""Inception v3 transfer learning from the web form: frozen prefix, cached bottleneck features,
a ready model with Grad-CAM heat maps; and the weights choices (team upload, server path)."""

from pathlib import Path

import pytest

from tests.datasets.helpers import run_in_process
from tests.garage.helpers import ready_dataset, train_form_data
from webapp.garage import services
from webapp.garage.models import InceptionWeights, TrainedModel
from webapp.jobs.models import Job

pytestmark = [pytest.mark.slow, pytest.mark.django_db]


def test_transfer_learning_run_with_bottleneck_cache(client, team_a, real_sample, tmp_path, pitlane_dirs):
    dataset = ready_dataset(client, team_a, real_sample, tmp_path)
    data = train_form_data(dataset, name="Inception", architecture="inception_transfer", resize="80x200",
                           color_space="rgb", inception_cut="mixed0", loss="mae", l2="0.001", weights="none")
    response = client.post(f"/teams/{team_a.slug}/models/train/", data)
    assert response.status_code == 302, response.content.decode()[-1500:]
    model = TrainedModel.objects.get()
    run_in_process(model.job_id)
    job = Job.objects.get(pk=model.job_id)
    assert job.status == Job.Status.SUCCEEDED, (job.error, job.log_tail)
    model.refresh_from_db()
    assert model.is_ready and model.card["tflite"]["input_shape"] == [1, 80, 200, 3]
    assert model.config["architecture"] == "inception_transfer" and model.config["use_bottleneck_cache"]
    cache = pitlane_dirs["WORK_ROOT"] / "bottleneck_cache" / f"team_{team_a.pk}"
    assert any(cache.rglob("*")), "bottleneck features were cached for the team"
    page = client.get(model.get_absolute_url()).content.decode()
    assert "Grad-CAM" in page and "heatmaps/0.png" in page


def test_weights_sources_resolve_to_local_files(client, team_a, team_b, settings, tmp_path):
    client.force_login(team_a.captain)
    weights_file = tmp_path / "inception_notop.h5"
    weights_file.write_bytes(b"\x89HDF\r\n\x1a\n" + b"0" * 100)
    with open(weights_file, "rb") as fh:
        assert client.post(f"/teams/{team_a.slug}/models/weights/", {"file": fh, "name": "ImageNet"}).status_code == 302
    weights = InceptionWeights.objects.get()
    assert weights.team == team_a and weights.size == weights_file.stat().st_size
    model = TrainedModel(team=team_a, config={"architecture": "inception_transfer"},
                         options={"weights": f"team:{weights.pk}"})
    assert Path(services.resolve_weights(model)).read_bytes() == weights_file.read_bytes()
    settings.PITLANE_INCEPTION_WEIGHTS = "/srv/weights/inception.h5"
    model.options = {"weights": "settings"}
    assert services.resolve_weights(model) == "/srv/weights/inception.h5"
    page = client.get(f"/teams/{team_a.slug}/models/train/").content.decode()
    assert "installed on the server" in page and "ImageNet (uploaded)" in page
    # Another team neither sees nor uses them.
    client.force_login(team_b.captain)
    assert "ImageNet (uploaded)" not in client.get(f"/teams/{team_b.slug}/models/train/").content.decode()
    assert client.post(f"/teams/{team_b.slug}/models/weights/{weights.pk}/delete/").status_code == 404
