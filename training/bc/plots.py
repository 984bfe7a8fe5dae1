"""Plotly figures of a training run and of a dataset, as JSON-ready dicts for the web pages.

Each function returns `json.loads(fig.to_json())`: plain lists and dicts (no NumPy), ready for
`JsonResponse` or a `<script>` tag and `Plotly.newPlot(el, fig.data, fig.layout)`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go

from training.bc.smoothing import exponential_forward_backward, gaussian

FigureDict = dict[str, Any]


def _as_dict(fig: go.Figure) -> FigureDict:
    return json.loads(fig.to_json())


def _layout(fig: go.Figure, title: str, x: str, y: str) -> go.Figure:
    fig.update_layout(title=title, xaxis_title=x, yaxis_title=y, template="plotly_white",
                      margin={"l": 50, "r": 20, "t": 50, "b": 45})
    return fig


def kept_epoch(val_loss: Sequence[float | None]) -> int | None:
    """The 1-based epoch whose weights a restore-best run keeps: the first lowest val_loss
    (`callbacks.EpochCheckpointer` replaces the best only on a strictly lower one)."""
    best: int | None = None
    for i, value in enumerate(val_loss):
        if value is not None and (best is None or value < val_loss[best - 1]):  # type: ignore[operator]
            best = i + 1
    return best


def loss_curves(history: Mapping[str, Sequence[float]]) -> FigureDict:
    """Training loss and val_loss per epoch, with the epoch whose weights the model keeps."""
    fig = go.Figure()
    for key, name in (("loss", "training loss"), ("val_loss", "validation loss")):
        values = list(history.get(key, []))
        if values:
            fig.add_trace(go.Scatter(x=list(range(1, len(values) + 1)), y=values,
                                     mode="lines+markers", name=name))
    best = kept_epoch(list(history.get("val_loss", [])))
    if best is not None:
        fig.add_trace(go.Scatter(x=[best], y=[history["val_loss"][best - 1]], mode="markers",
                                 name=f"kept: epoch {best} (lowest val_loss)",
                                 marker={"symbol": "star", "size": 14, "color": "#e4572e"}))
    fig.update_xaxes(dtick=1 if len(history.get("loss", [])) <= 20 else None)
    _layout(fig, "Loss per epoch", "epoch", "loss")
    # Below the plot: in a narrow card a legend on the right covers the curves.
    fig.update_layout(legend={"orientation": "h", "x": 0, "y": -0.3, "yanchor": "top"},
                      margin={"l": 50, "r": 20, "t": 50, "b": 100})
    return _as_dict(fig)


def validation_blocks(frames: np.ndarray) -> list[tuple[int, int]]:
    """(start, end) positions of the runs of consecutive frame numbers in `frames` (end excluded):
    the validation split's blocks, each a stretch of one recording."""
    frames = np.asarray(frames)
    if frames.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(frames) != 1) + 1
    starts = np.concatenate([[0], breaks])
    ends = np.concatenate([breaks, [frames.size]])
    return [(int(a), int(b)) for a, b in zip(starts, ends, strict=True)]


#: Frames the steering-over-time plot shows at first (the range slider reaches the rest).
INITIAL_WINDOW_FRAMES = 600


def validation_runs(frames: np.ndarray, dataset_ids: np.ndarray | None = None) -> list[tuple[int, int]]:
    """(start, end) positions of the runs of consecutive frames that also stay in one dataset:
    the last frame of one dataset and the first of the next are consecutive frame indices of the
    joined training set, yet two recordings."""
    runs = validation_blocks(frames)
    if dataset_ids is None or not runs:
        return runs
    ids = np.asarray(dataset_ids)
    changes = set((np.flatnonzero(ids[1:] != ids[:-1]) + 1).tolist())
    split: list[tuple[int, int]] = []
    for a, b in runs:
        cuts = [a, *sorted(c for c in changes if a < c < b), b]
        split.extend(zip(cuts[:-1], cuts[1:], strict=True))
    return split


def split_block_count(runs: list[tuple[int, int]], dataset_ids: np.ndarray | None = None,
                      block_frames: int | None = None,
                      dataset_frames: Mapping[int, int] | None = None) -> int:
    """How many validation blocks the split made, from the runs of consecutive frames: blocks the
    split drew side by side form one run, so a run counts its length in blocks (the last block
    of a recording may be shorter: rounded up). The block length is the split's own
    (`split.block_size`, from each recording's frame count when given). Without a block length,
    every run counts as one block."""
    from training.bc.split import block_size

    if not block_frames:
        return len(runs)
    count = 0
    for a, b in runs:
        block = block_frames
        if dataset_ids is not None and dataset_frames:
            n = dataset_frames.get(int(np.asarray(dataset_ids)[a]))
            if n:
                block = block_size(int(n), block_frames)
        count += -(-(b - a) // block)
    return count


#: The x-axis of the steering-over-time plot: validation frames of every dataset, joined.
VALIDATION_X_TITLE = "validation frame (blocks in order, datasets one after another)"


def predictions_over_time(true: np.ndarray, predicted: np.ndarray,
                          frames: np.ndarray | None = None, *, dataset_ids: np.ndarray | None = None,
                          block_frames: int | None = None,
                          dataset_frames: Mapping[int, int] | None = None) -> FigureDict:
    """Predicted and true steering along the validation frames, one line segment per run of
    consecutive frames of one dataset, with a gap between segments, and a range slider: blocks
    from different parts of a recording, or from different recordings, are never joined into one
    line. `frames` are indices of the joined training set (the datasets one after another);
    `dataset_ids` (each frame's dataset), `block_frames` (the split's block length) and
    `dataset_frames` ({dataset id: its frame count}) let the title count the split's blocks."""
    true = np.asarray(true, dtype=float)
    predicted = np.asarray(predicted, dtype=float)
    frames = np.arange(len(true)) if frames is None else np.asarray(frames)
    x: list[int | None] = []
    y_true: list[float | None] = []
    y_pred: list[float | None] = []
    blocks = validation_runs(frames, dataset_ids)
    n_blocks = split_block_count(blocks, dataset_ids, block_frames, dataset_frames)
    for a, b in blocks:
        if x:  # a null point breaks the line between two blocks
            x.append(None)
            y_true.append(None)
            y_pred.append(None)
        x.extend(int(f) for f in frames[a:b])
        y_true.extend(float(v) for v in true[a:b])
        y_pred.extend(float(v) for v in predicted[a:b])
    fig = go.Figure([
        go.Scatter(x=x, y=y_true, mode="lines", name="true", connectgaps=False),
        go.Scatter(x=x, y=y_pred, mode="lines", name="predicted", connectgaps=False),
    ])
    datasets = len(set(np.asarray(dataset_ids).tolist())) if dataset_ids is not None and len(frames) else 1
    across = f" of {datasets} datasets" if datasets > 1 else ""
    _layout(fig, f"Steering over the validation frames ({n_blocks} block{'' if n_blocks == 1 else 's'}{across})",
            VALIDATION_X_TITLE, "steering")
    xaxis: dict[str, Any] = {"rangeslider": {"visible": True, "thickness": 0.08}}
    if len(frames) and frames[-1] - frames[0] > INITIAL_WINDOW_FRAMES:
        xaxis["range"] = [int(frames[0]), int(frames[0]) + INITIAL_WINDOW_FRAMES]
    fig.update_layout(xaxis=xaxis, legend={"orientation": "h", "x": 1, "xanchor": "right", "y": 1.02,
                                           "yanchor": "bottom"})
    return _as_dict(fig)


def predicted_vs_true(true: np.ndarray, predicted: np.ndarray) -> FigureDict:
    """Scatter of predicted against true steering with the y = x line."""
    lo = float(min(np.min(true), np.min(predicted), -1.0))
    hi = float(max(np.max(true), np.max(predicted), 1.0))
    fig = go.Figure([
        go.Scatter(x=np.asarray(true).tolist(), y=np.asarray(predicted).tolist(),
                   mode="markers", name="frames", marker={"size": 4, "opacity": 0.6}),
        go.Scatter(x=[lo, hi], y=[lo, hi], mode="lines", name="perfect",
                   line={"dash": "dash", "color": "grey"}),
    ])
    return _as_dict(_layout(fig, "Predicted vs true steering", "true", "predicted"))


def error_histogram(true: np.ndarray, predicted: np.ndarray, bins: int = 41) -> FigureDict:
    """Histogram of prediction error (predicted - true)."""
    error = (np.asarray(predicted) - np.asarray(true)).tolist()
    fig = go.Figure([go.Histogram(x=error, nbinsx=bins, name="error")])
    return _as_dict(_layout(fig, "Prediction error", "predicted - true", "frames"))


def steering_histogram(steering: np.ndarray, bins: int = 41) -> FigureDict:
    """Distribution of steering labels (how much of the log is straight driving)."""
    fig = go.Figure([go.Histogram(x=np.asarray(steering).tolist(), nbinsx=bins,
                                  name="steering")])
    return _as_dict(_layout(fig, "Steering distribution", "steering", "frames"))


def thinning_histogram(steering: np.ndarray, keep_fraction: float, seed: int = 0) -> FigureDict:
    """The steering distribution before and after keeping `keep_fraction` of the frames whose
    steering is exactly 0 (`training.bc.thinning.thin_straight`, as training does), overlaid on
    the same bins of 0.05 (one of them centred on 0)."""
    from training.bc.thinning import thin_straight

    steering = np.asarray(steering, dtype=np.float64)
    kept = steering[thin_straight(np.arange(steering.size), steering, keep_fraction, seed)]
    xbins = {"start": -1.025, "end": 1.025, "size": 0.05}
    fig = go.Figure([
        go.Histogram(x=steering.tolist(), xbins=xbins, name=f"all frames ({steering.size:,})",
                     opacity=0.55),
        go.Histogram(x=kept.tolist(), xbins=xbins, name=f"keeping {keep_fraction:g} of straight ({kept.size:,})",
                     opacity=0.75),
    ])
    fig.update_layout(barmode="overlay")
    return _as_dict(_layout(fig, "Steering distribution, before and after thinning straight frames",
                            "steering", "frames"))


def steering_smoothing(raw: np.ndarray, alpha: float = 0.3, sigma: float = 3.0) -> FigureDict:
    """Seed 000's plot: raw keyboard steering against exponential and Gaussian smoothing."""
    raw = np.asarray(raw, dtype=np.float64)
    x = list(range(raw.size))
    fig = go.Figure([
        go.Scatter(x=x, y=raw.tolist(), mode="lines", name="raw"),
        go.Scatter(x=x, y=exponential_forward_backward(raw, alpha).tolist(), mode="lines",
                   name=f"exponential (alpha {alpha})"),
        go.Scatter(x=x, y=gaussian(raw, sigma).tolist(), mode="lines",
                   name=f"gaussian (sigma {sigma})"),
    ])
    return _as_dict(_layout(fig, "Steering over time: raw and smoothed", "frame", "steering"))


def training_figures(history: Mapping[str, Sequence[float]], true: np.ndarray,
                     predicted: np.ndarray, frames: np.ndarray, *, dataset_ids: np.ndarray | None = None,
                     block_frames: int | None = None,
                     dataset_frames: Mapping[int, int] | None = None) -> dict[str, FigureDict]:
    """Every figure of a finished run, keyed by the file stem it is saved under (the keywords:
    the split's facts, for predictions_over_time)."""
    return {
        "loss": loss_curves(history),
        "predictions_over_time": predictions_over_time(true, predicted, frames, dataset_ids=dataset_ids,
                                                       block_frames=block_frames,
                                                       dataset_frames=dataset_frames),
        "predicted_vs_true": predicted_vs_true(true, predicted),
        "error_histogram": error_histogram(true, predicted),
    }


def dataset_figures(raw_steering: np.ndarray, alpha: float = 0.3,
                    sigma: float = 3.0) -> dict[str, FigureDict]:
    """Figures for a dataset page."""
    return {
        "steering_histogram": steering_histogram(raw_steering),
        "steering_smoothing": steering_smoothing(raw_steering, alpha, sigma),
    }
