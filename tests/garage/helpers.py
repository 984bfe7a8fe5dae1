"""Ready datasets and tiny training configurations for the model tests."""

from __future__ import annotations

from pathlib import Path

from tests.datasets.helpers import ingest_in_process, zip_folder

#: Trains in seconds on the 120-frame sample.
TINY = {
    "batch_size": "16", "epochs": "2", "patience": "0", "max_steps_per_epoch": "3",
    "val_block_frames": "20", "val_gap_frames": "2", "saliency_samples": "3", "saliency_gif_frames": "6",
    "representative_samples": "20",
}


def ready_dataset(client, team, real_sample: Path, tmp_path: Path, name: str = "Real sample"):
    client.force_login(team.captain)
    return ingest_in_process(client, team, zip_folder(real_sample, tmp_path / f"{name}.zip"), name=name)


def train_form_data(dataset, **overrides) -> dict:
    """POST data of the training form: the form's defaults, a tiny run, then overrides."""
    from training.bc.config import TrainConfig
    from webapp.garage.forms import _format

    data = {k: _format(v) for k, v in TrainConfig().to_dict().items() if k != "inception_weights"}
    for flag in ("side_cameras", "mirror", "use_bottleneck_cache"):
        data.pop(flag)
    data.update(mirror="on", use_bottleneck_cache="on", max_steps_per_epoch="")
    data.update(TINY)
    data.update(name="Tiny PilotNet", datasets=[dataset.pk], weights="none", recovery_mode="include",
                recovery_weight="1", advanced_json="")
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}
