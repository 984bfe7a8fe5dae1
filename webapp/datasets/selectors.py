"""Read-side queries about datasets; every lookup is scoped to a team."""

from __future__ import annotations

import csv
import json

from django.core.files.storage import default_storage
from django.http import Http404
from django.shortcuts import get_object_or_404

from .archive import LOG_NAME
from .models import Dataset, RecoverySegment

RECOVERY_FILL = "rgba(228, 87, 46, 0.18)"


def datasets_of_team(team):
    return Dataset.objects.filter(team=team).select_related("created_by", "job")


def ready_datasets_of_team(team):
    return datasets_of_team(team).filter(status=Dataset.Status.READY)


def dataset_of_team_or_404(team, dataset_id: int) -> Dataset:
    return get_object_or_404(Dataset.objects.select_related("team", "job"), team=team, pk=dataset_id)


def recovery_of_dataset_or_404(dataset: Dataset, segment_id: int) -> RecoverySegment:
    return get_object_or_404(RecoverySegment, dataset=dataset, pk=segment_id)


def figure(dataset: Dataset, name: str) -> dict:
    """A stored Plotly figure of the dataset; the steering plot gets the recovery segments drawn
    on it as shaded bands (marked after ingestion, so added here, not stored)."""
    storage_name = dataset.figures.get(name)
    if not storage_name:
        raise Http404
    with default_storage.open(storage_name) as fh:
        fig = json.load(fh)
    if name == "steering_smoothing":
        segments = list(dataset.recoveries.all())
        fig.setdefault("layout", {})["shapes"] = [
            {"type": "rect", "xref": "x", "yref": "paper", "x0": s.start - 0.5, "x1": s.end + 0.5,
             "y0": 0, "y1": 1, "fillcolor": RECOVERY_FILL, "line": {"width": 0}, "layer": "below"}
            for s in segments
        ]
        if segments:
            fig["layout"]["annotations"] = [
                {"x": (s.start + s.end) / 2, "y": 1, "xref": "x", "yref": "paper", "text": "recovery",
                 "showarrow": False, "font": {"size": 10}, "yanchor": "bottom"} for s in segments
            ]
    return fig


def sample_storage_name(dataset: Dataset, index: int) -> str:
    if not 0 <= index < len(dataset.samples):
        raise Http404
    return dataset.samples[index]["file"]


def recorded_steering(dataset: Dataset) -> list[float]:
    """The steering of every frame of a ready dataset, from its clean log on this machine (the
    log ingestion wrote: a header, then one row per frame); 404 when it is not here."""
    if not dataset.is_ready or dataset.path is None or not (dataset.path / LOG_NAME).is_file():
        raise Http404
    with open(dataset.path / LOG_NAME, newline="", encoding="utf-8") as fh:
        rows = csv.reader(fh)
        header = next(rows, [])
        column = header.index("steering") if "steering" in header else 3
        return [float(row[column]) for row in rows if row]


def parse_keep_fraction(text: str | None, default: float = 0.3) -> float:
    """The fraction of straight frames to keep asked for in a query string, within 0..1."""
    try:
        value = float(text) if text not in (None, "") else default
    except ValueError:
        value = default
    return min(1.0, max(0.0, value)) if value == value else default  # NaN -> default


def parse_seed(text: str | None) -> int:
    try:
        return min(2**32 - 1, max(0, int(text or 0)))
    except ValueError:
        return 0


def thinning_figure(dataset: Dataset, keep_fraction: float, seed: int) -> dict:
    """Plotly histograms of the dataset's steering before and after thinning straight frames
    (`training.bc.thinning`, the function training applies), with a `summary` of the counts."""
    import numpy as np

    from training.bc.plots import thinning_histogram
    from training.bc.thinning import thinning_summary

    steering = np.asarray(recorded_steering(dataset), dtype=np.float64)
    figure = thinning_histogram(steering, keep_fraction, seed)
    figure["summary"] = thinning_summary(steering, keep_fraction, seed)
    return figure
