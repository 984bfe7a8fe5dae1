"""Every numeric training setting has an upper bound, owned by training.bc.config.TrainConfig and
enforced by the service (start_training) and the form alike, as an error on the field to blame."""

import pytest
from django.core.exceptions import ValidationError

from tests.garage.helpers import train_form_data
from training.bc import config as bc
from webapp.datasets.models import Dataset
from webapp.garage import services
from webapp.garage.models import TrainedModel
from webapp.jobs.models import Job

pytestmark = pytest.mark.django_db

#: The values an outside test got accepted (issue 11), and one per other numeric field.
HUGE = [
    ("epochs", 1_000_000), ("head_dense_units", 1_000_000), ("representative_samples", 10_000_000),
    ("head_conv_filters", 100_000), ("batch_size", 1_000_000), ("patience", 1_000_000),
    ("max_steps_per_epoch", 10**9), ("val_block_frames", 10**9), ("val_gap_frames", 10**9),
    ("seed", 2**64), ("saliency_samples", 100_000), ("saliency_gif_frames", 100_000),
]


@pytest.fixture
def ready(team_a):
    return Dataset.objects.create(team=team_a, name="Ready", status=Dataset.Status.READY)


def test_every_bounded_field_is_a_numeric_config_field():
    names = {n for n in bc.MAX_VALUES if not n.startswith("resize_")}
    assert names <= set(bc.FIELD_NAMES)
    numeric = {f for f in bc.FIELD_NAMES if isinstance(getattr(bc.TrainConfig(), f), int)
               and not isinstance(getattr(bc.TrainConfig(), f), bool)}
    assert numeric <= names | {"max_steps_per_epoch"}
    assert {name for name, _ in HUGE} | {"crop_top", "crop_bottom", "shift_px", "inception_cut"} >= names


@pytest.mark.parametrize("name, value", HUGE)
def test_config_refuses_a_huge_value_naming_the_field(name, value):
    with pytest.raises(bc.ConfigError, match=f"{name} must be at most") as err:
        bc.TrainConfig.from_dict({name: value})
    assert err.value.field == name
    bc.TrainConfig.from_dict({name: bc.MAX_VALUES[name]})  # the bound itself is allowed


@pytest.mark.parametrize("changes, field", [
    ({"resize": [66, 5000]}, "resize"),
    ({"resize": [1000, 200]}, "resize"),
    ({"architecture": "inception_transfer", "color_space": "rgb", "resize": [80, 200],
      "inception_cut": 100_000}, "inception_cut"),
])
def test_config_bounds_the_input_size_and_the_inception_cut(changes, field):
    with pytest.raises(bc.ConfigError, match="must be at most") as err:
        bc.TrainConfig.from_dict(changes)
    assert err.value.field == field


@pytest.mark.parametrize("name, value", [("epochs", 1_000_000), ("head_dense_units", 1_000_000),
                                         ("representative_samples", 10_000_000)])
def test_start_training_refuses_it_with_a_field_error_and_creates_nothing(team_a, ready, name, value):
    with pytest.raises(ValidationError) as err:
        services.start_training(team=team_a, user=team_a.captain, name="Huge", datasets=[ready],
                                configs=[{name: value}])
    assert list(err.value.message_dict) == [name]
    assert "must be at most" in err.value.message_dict[name][0]
    assert not TrainedModel.objects.exists() and not Job.objects.exists()


def test_start_training_accepts_mappings_within_the_bounds(team_a, ready):
    runs = services.start_training(team=team_a, user=team_a.captain, name="Fine", datasets=[ready],
                                   configs=[{"epochs": bc.MAX_VALUES["epochs"]}])
    assert [r.config["epochs"] for r in runs] == [bc.MAX_VALUES["epochs"]]


@pytest.mark.parametrize("name, value", [("epochs", "1000000"), ("head_dense_units", "1000000"),
                                         ("representative_samples", "10000000"),
                                         ("batch_size", "8, 16, 1000000")])
def test_the_form_shows_the_bound_on_the_field(client, team_a, ready, name, value):
    client.force_login(team_a.captain)
    # head_dense_units is read (and bounded) only for transfer learning: PilotNet runs ignore it.
    network = ({"architecture": "inception_transfer", "resize": "80x200", "color_space": "rgb"}
               if name == "head_dense_units" else {})
    response = client.post(f"/teams/{team_a.slug}/models/train/",
                           train_form_data(ready, **network, **{name: value}))
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert list(errors) == [name] and "must be at most" in errors[name][0]
    assert not TrainedModel.objects.exists() and not Job.objects.exists()


def test_the_form_shows_a_bound_broken_in_the_json_box_on_that_box(client, team_a, ready):
    client.force_login(team_a.captain)
    response = client.post(f"/teams/{team_a.slug}/models/train/",
                           train_form_data(ready, advanced_json='{"epochs": 1000000}'))
    errors = response.context["form"].errors
    assert list(errors) == ["advanced_json"] and "epochs must be at most" in errors["advanced_json"][0]
    assert not TrainedModel.objects.exists()
