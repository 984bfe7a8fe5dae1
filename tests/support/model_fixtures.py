"""Fixtures for tests that need a team's trained model in the database with a real TFLite file
(the tiny driving model of tests.support.tiny_models). Registered for the whole suite by
tests/conftest.py (`pytest_plugins`): request them by name, never import them."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def tiny_steering_model(tiny_models: Path) -> tuple[Path, Path]:
    """(model.tflite, model_card.json) of the tiny model that drives."""
    from tests.support.tiny_models import steering_model_files

    return steering_model_files(tiny_models)


@pytest.fixture
def make_ready_model(tiny_steering_model):
    """make(team, name=..., status="ready") -> a TrainedModel; non-ready models get no file."""
    from django.core.files.base import ContentFile

    from webapp.garage.models import TrainedModel

    model_path, card_path = tiny_steering_model

    def make(team, name: str = "Tiny steering", status: str = TrainedModel.Status.READY):
        card = json.loads(card_path.read_text())
        model = TrainedModel.objects.create(team=team, name=name, status=status, card=card,
                                            config={"builder": "tiny"})
        if status == TrainedModel.Status.READY:
            data = model_path.read_bytes()
            model.tflite.save("model.tflite", ContentFile(data), save=False)
            model.tflite_sha256 = hashlib.sha256(data).hexdigest()
            model.save(update_fields=["tflite", "tflite_sha256"])
        return model

    return make


@pytest.fixture(scope="session")
def tiny_rl_model(tiny_models: Path) -> tuple[Path, Path]:
    """(model.tflite, model_card.json) of the tiny RL model (discrete actions, DeepRacer camera)."""
    from tests.support.tiny_models import rl_model_files

    return rl_model_files(tiny_models)


@pytest.fixture
def make_ready_rl_model(tiny_rl_model):
    """make(team, name=..., artifacts_dir="") -> a ready TrainedModel of kind REINFORCEMENT with
    the tiny RL model's TFLite file and `discrete_actions` card."""
    from django.core.files.base import ContentFile

    from webapp.garage.models import TrainedModel

    model_path, card_path = tiny_rl_model

    def make(team, name: str = "Tiny RL", artifacts_dir: str = ""):
        card = json.loads(card_path.read_text())
        model = TrainedModel.objects.create(team=team, name=name, kind=TrainedModel.Kind.REINFORCEMENT,
                                            status=TrainedModel.Status.READY, card=card,
                                            config={"builder": "tiny"}, artifacts_dir=artifacts_dir)
        data = model_path.read_bytes()
        model.tflite.save("model.tflite", ContentFile(data), save=False)
        model.tflite_sha256 = hashlib.sha256(data).hexdigest()
        model.save(update_fields=["tflite", "tflite_sha256"])
        return model

    return make
