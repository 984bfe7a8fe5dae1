"""The model page's configuration lists the fields the model's network reads: a PilotNet model
showed an 'inception_weights —' row (the form calls that field 'weights', the config
'inception_weights', and only the form's name was left out). Found by the outside test of issue 13."""

from __future__ import annotations

import re

import pytest

from webapp.garage.models import TrainedModel

pytestmark = pytest.mark.django_db

CONFIG = {"learning_rate": 0.001, "inception_weights": None, "inception_cut": "mixed0", "head_dense_units": 32}


def _config_rows(client, model) -> set[str]:
    page = client.get(model.get_absolute_url()).content.decode()
    return set(re.findall(r"<tr><th>([a-z_0-9]+)</th><td><code>", page))


def test_a_pilotnet_model_lists_no_inception_field(client, team_a):
    model = TrainedModel.objects.create(team=team_a, name="p", config={"architecture": "pilotnet", **CONFIG})
    client.force_login(team_a.captain)
    rows = _config_rows(client, model)
    assert "learning_rate" in rows and "architecture" in rows
    assert not rows & {"inception_weights", "inception_cut", "head_dense_units"}, rows


def test_an_inception_model_lists_its_weights(client, team_a):
    model = TrainedModel.objects.create(team=team_a, name="i",
                                        config={"architecture": "inception_transfer", **CONFIG})
    client.force_login(team_a.captain)
    assert {"inception_weights", "inception_cut", "head_dense_units"} <= _config_rows(client, model)
