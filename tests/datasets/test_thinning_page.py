"""Thinning straight driving on the site: the dataset page draws the steering histogram before and
after keeping a share of the straight frames, and the training form takes that share into the run's
configuration."""

from __future__ import annotations

import numpy as np
import pytest

from tests.datasets.helpers import ingest_in_process, zip_folder
from tests.garage.helpers import train_form_data
from training.bc.thinning import thin_straight
from webapp.garage.models import TrainedModel

pytestmark = pytest.mark.django_db


@pytest.fixture
def ready(client, team_a, real_sample, tmp_path):
    client.force_login(team_a.captain)
    return ingest_in_process(client, team_a, zip_folder(real_sample, tmp_path / "real.zip"), name="Real")


def _url(dataset, query: str = "") -> str:
    return f"/teams/{dataset.team.slug}/datasets/{dataset.pk}/thinning.json{query}"


def test_the_histogram_shows_the_log_before_and_after_thinning(client, ready, real_sample):
    steering = np.array([float(line.split(", ")[3])
                         for line in (real_sample / "driving_log.csv").read_text().splitlines()])
    body = client.get(_url(ready, "?keep=0.25&seed=3")).json()
    before, after = body["data"]
    assert before["type"] == after["type"] == "histogram"
    assert np.allclose(before["x"], steering)
    # The same frames a training run with seed 3 keeps out of these frames.
    assert np.allclose(after["x"], steering[thin_straight(np.arange(steering.size), steering, 0.25, 3)])
    summary = body["summary"]
    straight = int((steering == 0).sum())
    assert summary["frames_before"] == 120 and summary["straight_before"] == straight
    assert summary["straight_after"] == round(0.25 * straight)
    assert summary["frames_after"] == 120 - straight + summary["straight_after"]


def test_the_fraction_is_clamped_and_defaults_sensibly(client, ready):
    assert client.get(_url(ready, "?keep=7")).json()["summary"]["keep_fraction"] == 1.0
    assert client.get(_url(ready, "?keep=-1")).json()["summary"]["keep_fraction"] == 0.0
    assert client.get(_url(ready, "?keep=nonsense")).json()["summary"]["keep_fraction"] == 0.3
    assert client.get(_url(ready, "?keep=nan")).json()["summary"]["keep_fraction"] == 0.3


def test_the_page_offers_the_control_and_another_team_gets_404(client, ready, team_b):
    page = client.get(ready.get_absolute_url()).content.decode()
    assert "data-thinning-plot" in page and "js/dataset_thinning.js" in page
    client.force_login(team_b.captain)
    assert client.get(_url(ready)).status_code == 404
    assert client.get(f"/teams/{team_b.slug}/datasets/{ready.pk}/thinning.json").status_code == 404


def test_the_training_form_carries_the_fraction_into_the_run(client, team_a, ready):
    form = client.get(f"/teams/{team_a.slug}/models/train/").content.decode()
    assert 'name="straight_keep_fraction"' in form
    response = client.post(f"/teams/{team_a.slug}/models/train/",
                           train_form_data(ready, straight_keep_fraction="0.3"))
    assert response.status_code == 302, response.context["form"].errors if response.context else response
    assert TrainedModel.objects.get().config["straight_keep_fraction"] == 0.3
    bad = client.post(f"/teams/{team_a.slug}/models/train/", train_form_data(ready, straight_keep_fraction="1.5"))
    assert list(bad.context["form"].errors) == ["straight_keep_fraction"]
