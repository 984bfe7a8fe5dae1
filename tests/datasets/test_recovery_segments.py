"""Recovery segments: marked on the dataset page, drawn on the steering plot, and used by
training as a filter (drop / only) or a weight (repeated rows)."""

import pytest

from tests.garage.helpers import ready_dataset
from webapp.datasets.services import training_directories

pytestmark = pytest.mark.django_db


@pytest.fixture
def dataset(client, team_a, real_sample, tmp_path):
    return ready_dataset(client, team_a, real_sample, tmp_path)


def test_mark_recovery_shown_on_plot_and_validated(client, team_a, dataset):
    url = f"/teams/{team_a.slug}/datasets/{dataset.pk}/recoveries/"
    client.post(url, {"start": 10, "end": 29, "note": "left edge"})
    assert list(dataset.recoveries.values_list("start", "end")) == [(10, 29)]
    for bad, message in [({"start": 20, "end": 40}, "overlaps"),
                         ({"start": 100, "end": 500}, "Frames run from 0 to 119")]:
        page = client.post(url, bad, follow=True).content.decode()
        assert message in page
    assert dataset.recoveries.count() == 1
    figure = client.get(f"/teams/{team_a.slug}/datasets/{dataset.pk}/figures/steering_smoothing.json").json()
    (shape,) = figure["layout"]["shapes"]
    assert (shape["x0"], shape["x1"]) == (9.5, 29.5)
    page = client.get(dataset.get_absolute_url()).content.decode()
    assert "left edge" in page
    segment = dataset.recoveries.get()
    client.post(f"/teams/{team_a.slug}/datasets/{dataset.pk}/recoveries/{segment.pk}/delete/")
    assert not dataset.recoveries.exists()


def _rows(folder):
    return (folder / "driving_log.csv").read_text().splitlines()[1:]


def test_training_set_filters_and_weights_recoveries(client, team_a, dataset, tmp_path):
    client.post(f"/teams/{team_a.slug}/datasets/{dataset.pk}/recoveries/", {"start": 10, "end": 29})
    all_rows = _rows(dataset.path)
    assert training_directories([dataset], tmp_path / "w") == [dataset.path]
    (dropped,) = training_directories([dataset], tmp_path / "w", "exclude")
    assert _rows(dropped) == all_rows[:10] + all_rows[30:]
    (only,) = training_directories([dataset], tmp_path / "w", "only")
    assert _rows(only) == all_rows[10:30]
    (weighted,) = training_directories([dataset], tmp_path / "w", "include", 3)
    assert len(_rows(weighted)) == 120 + 2 * 20
    assert (weighted / "IMG").resolve() == (dataset.path / "IMG").resolve()
    # The derived folder reads like any recording.
    from training.bc.dataset_index import index_dataset

    assert len(index_dataset(only)) == 20


def test_two_datasets_make_one_training_set(client, team_a, dataset, real_sample, tmp_path):
    other = ready_dataset(client, team_a, real_sample, tmp_path, name="Second")
    assert training_directories([dataset, other], tmp_path / "w") == [dataset.path, other.path]
