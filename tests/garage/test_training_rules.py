"""The training rules live in start_training, so every caller (not only the form) is held to them."""

import pytest
from django.core.exceptions import ValidationError

from training.bc import config as bc
from webapp.datasets.models import Dataset
from webapp.garage import services
from webapp.garage.forms import RECOVERY_CHOICES
from webapp.garage.models import TrainedModel
from webapp.jobs.models import Job

pytestmark = pytest.mark.django_db  # jobs are sent on commit, which a test transaction never reaches


@pytest.fixture
def ready(team_a):
    return Dataset.objects.create(team=team_a, name="Ready", status=Dataset.Status.READY)


def _start(team, dataset, grid, **extra):
    return services.start_training(team=team, user=team.captain, name="Grid", datasets=[dataset],
                                   configs=bc.expand_grid(grid), grid=grid, **extra)


def test_an_oversized_grid_is_refused_by_the_service_and_creates_nothing(team_a, ready, settings):
    settings.PITLANE_MAX_GRID_JOBS = 3
    with pytest.raises(ValidationError, match="makes 4 runs; at most 3"):
        _start(team_a, ready, {"learning_rate": [0.1, 0.01], "batch_size": [8, 16]})
    assert not TrainedModel.objects.exists() and not Job.objects.exists()


def test_a_grid_at_the_cap_is_started(team_a, ready, settings):
    settings.PITLANE_MAX_GRID_JOBS = 4
    runs = _start(team_a, ready, {"learning_rate": [0.1, 0.01], "batch_size": [8, 16]})
    assert len(runs) == 4 and Job.objects.filter(kind=services.TRAIN_KIND).count() == 4


@pytest.mark.parametrize("options, message", [
    ({"recovery_mode": "sometimes"}, "Recovery segments"),
    ({"recovery_weight": 0}, "between 1 and"),
    ({"recovery_weight": services.MAX_RECOVERY_WEIGHT + 1}, "between 1 and"),
])
def test_recovery_options_are_checked_by_the_service(team_a, ready, options, message):
    with pytest.raises(ValidationError, match=message):
        _start(team_a, ready, {}, **options)
    assert not TrainedModel.objects.exists() and not Job.objects.exists()


def test_the_form_offers_the_services_recovery_modes_and_bound(team_a):
    from webapp.datasets.services import RECOVERY_MODES
    from webapp.garage.forms import TrainForm

    assert [mode for mode, _ in RECOVERY_CHOICES] == list(RECOVERY_MODES)
    form = TrainForm(team=team_a, datasets_qs=Dataset.objects.none(), weights_qs=[])
    assert form.fields["recovery_weight"].max_value == services.MAX_RECOVERY_WEIGHT
