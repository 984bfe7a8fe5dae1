"""Plotly figures of an RL run's log analysis, as JSON-ready dicts for the web pages.

Each function takes a part of `training.rl.analysis.analyse_run`'s result (and the `Track` for
the maps) and returns a figure dict (`{"data": [...], "layout": {...}}`) for
`Plotly.newPlot(el, fig.data, fig.layout)`, like `training.bc.plots`. The dicts are written
directly rather than through `plotly.graph_objects`, whose validation took most of a second for
the analysis page's six figures; the tests validate every figure with `_Figure(fig)`.
Maps draw the track (borders and dashed centre line) with equal axes, so paths sit on the track.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from simulator.track import Track

FigureDict = dict[str, Any]


class _Figure:
    """The little of `plotly.graph_objects.Figure` these plots use, building a plain dict."""

    def __init__(self, data: Sequence[dict[str, Any]] = ()) -> None:
        self.data = list(data)
        self.layout: dict[str, Any] = {}

    def add_trace(self, trace: dict[str, Any]) -> None:
        self.data.append(trace)

    def update_layout(self, **kwargs: Any) -> None:
        self.layout.update(kwargs)


def _scatter(**kwargs: Any) -> dict[str, Any]:
    return {"type": "scatter", **kwargs}


def _heatmap(**kwargs: Any) -> dict[str, Any]:
    return {"type": "heatmap", **kwargs}


def _bar(**kwargs: Any) -> dict[str, Any]:
    return {"type": "bar", **kwargs}


def _as_dict(fig: _Figure) -> FigureDict:
    return {"data": fig.data, "layout": fig.layout}


def _layout(fig: _Figure, title: str, x: str, y: str) -> _Figure:
    fig.update_layout(title={"text": title}, xaxis={"title": {"text": x}}, yaxis={"title": {"text": y}},
                      template="plotly_white", margin={"l": 50, "r": 20, "t": 50, "b": 45})
    return fig

_BORDER = {"color": "#555", "width": 1.5}
_CENTRE = {"color": "#d9a400", "width": 1, "dash": "dash"}


def _loop(points: np.ndarray) -> tuple[list[float], list[float]]:
    closed = np.vstack([points, points[:1]])
    return closed[:, 0].round(4).tolist(), closed[:, 1].round(4).tolist()


def track_traces(track: Track) -> list[dict[str, Any]]:
    """The track outline: inner and outer borders and the centre line."""
    traces = []
    for name, points, line in (("inner border", track.inner, _BORDER), ("outer border", track.outer, _BORDER),
                               ("centre line", track.center, _CENTRE)):
        x, y = _loop(points)
        traces.append(_scatter(x=x, y=y, mode="lines", name=name, line=line, hoverinfo="skip",
                                 showlegend=False))
    return traces


def _map_layout(fig: _Figure, title: str) -> _Figure:
    fig.update_layout(title={"text": title}, template="plotly_white", margin={"l": 40, "r": 20, "t": 50, "b": 40},
                      xaxis={"title": {"text": "x (m)"}, "constrain": "domain"},
                      yaxis={"title": {"text": "y (m)"}, "scaleanchor": "x", "scaleratio": 1})
    return fig


def reward_heatmap_figure(heatmap: Mapping[str, Any], track: Track) -> FigureDict:
    """Mean reward per cell on the track (`analysis.reward_heatmap`)."""
    fig = _Figure()
    fig.add_trace(_heatmap(x=heatmap["x"], y=heatmap["y"], z=heatmap["mean_reward"], colorscale="Viridis",
                             colorbar={"title": {"text": "mean reward"}}, hoverongaps=False, name="reward",
                             hovertemplate="x %{x:.2f} m, y %{y:.2f} m<br>mean reward %{z:.3f}<extra></extra>"))
    for trace in track_traces(track):
        fig.add_trace(trace)
    return _as_dict(_map_layout(fig, f"Reward on {track.name}: mean per {heatmap['cell_m']:.2f} m cell"))


def actions_figure(actions: Mapping[str, Any], track: Track) -> FigureDict:
    """Mean commanded steering along the track (colour) and how often the car was there (size)."""
    counts = np.asarray(actions["count"], dtype=float)
    size = (6 + 18 * np.sqrt(counts / counts.max())) if counts.max() > 0 else np.full(len(counts), 6.0)
    text = [f"stretch {s}: {c} steps<br>steering {st if st is not None else '-'} deg, speed "
            f"{sp if sp is not None else '-'} m/s"
            for s, c, st, sp in zip(actions["segment"], actions["count"], actions["mean_steering_deg"],
                                    actions["mean_speed"], strict=True)]
    fig = _Figure(track_traces(track))
    fig.add_trace(_scatter(
        x=actions["x"], y=actions["y"], mode="markers", name="mean steering", text=text, hoverinfo="text",
        marker={"size": size.round(1).tolist(), "color": actions["mean_steering_deg"], "colorscale": "RdBu",
                "cmid": 0, "colorbar": {"title": {"text": "steering (deg, + left)"}},
                "line": {"width": 0.5, "color": "#333"}}))
    return _as_dict(_map_layout(fig, f"Actions along {track.name}: mean steering per stretch"))


def action_histogram_figure(actions: Mapping[str, Any],
                            action_labels: Sequence[str] | None = None) -> FigureDict:
    """Stacked bars: how often each discrete action was chosen on each stretch of the lap; for
    continuous actions, the mean steering and speed per stretch."""
    fig = _Figure()
    histogram = actions.get("action_histogram")
    if histogram:
        table = np.asarray(histogram)
        for k in range(table.shape[1]):
            label = action_labels[k] if action_labels and k < len(action_labels) else f"action {k}"
            fig.add_trace(_bar(x=actions["segment"], y=table[:, k].tolist(), name=label))
        fig.update_layout(barmode="stack")
        return _as_dict(_layout(fig, "Actions chosen along the lap", "stretch of the lap (from the start line)",
                                "steps"))
    fig.add_trace(_scatter(x=actions["segment"], y=actions["mean_steering_deg"], name="steering (deg)",
                             mode="lines+markers"))
    fig.add_trace(_scatter(x=actions["segment"], y=actions["mean_speed"], name="speed (m/s)",
                             mode="lines+markers", yaxis="y2"))
    fig.update_layout(yaxis2={"title": {"text": "speed (m/s)"}, "overlaying": "y", "side": "right"})
    return _as_dict(_layout(fig, "Mean action along the lap", "stretch of the lap (from the start line)",
                            "steering (deg)"))


def paths_figure(paths: Mapping[str, Sequence[Mapping[str, Any]]], track: Track, by: str = "reward") -> FigureDict:
    """The best (solid) and worst (dotted) episodes' paths on the track."""
    fig = _Figure(track_traces(track))
    palettes = {"best": ["#1a9850", "#66bd63", "#a6d96a"], "worst": ["#d73027", "#f46d43", "#fdae61"]}
    for kind, dash in (("best", "solid"), ("worst", "dot")):
        for i, path in enumerate(paths.get(kind, [])):
            colour = palettes[kind][i % len(palettes[kind])]
            name = (f"{kind} {i + 1}: it. {path['iteration']} ep. {path['episode']}, reward {path['reward']:.1f}, "
                    f"{path['progress']:.0f} %")
            fig.add_trace(_scatter(x=path["x"], y=path["y"], mode="lines", name=name,
                                     line={"color": colour, "width": 2, "dash": dash},
                                     customdata=path["speed"],
                                     hovertemplate="speed %{customdata:.2f} m/s<extra>" + name + "</extra>"))
    return _as_dict(_map_layout(fig, f"Best and worst episodes by {by} on {track.name}"))


def reward_figure(summary: Sequence[Mapping[str, Any]]) -> FigureDict:
    """Reward per iteration: the mean episode reward with the min-max band."""
    its = [row["iteration"] for row in summary]
    fig = _Figure([
        _scatter(x=its, y=[row["reward_max"] for row in summary], mode="lines", line={"width": 0},
                 showlegend=False, hoverinfo="skip"),
        _scatter(x=its, y=[row["reward_min"] for row in summary], mode="lines", line={"width": 0},
                 fill="tonexty", fillcolor="rgba(31,119,180,0.15)", name="lowest-highest"),
        _scatter(x=its, y=[row["reward_mean"] for row in summary], mode="lines+markers", name="mean reward",
                 line={"color": "#1f77b4"}),
    ])
    return _as_dict(_layout(fig, "Reward per iteration", "iteration", "episode reward"))


def completion_figure(summary: Sequence[Mapping[str, Any]]) -> FigureDict:
    """% of training episodes that completed the lap per iteration, and the evaluation trials'
    mean completion."""
    its = [row["iteration"] for row in summary]
    fig = _Figure([
        _bar(x=its, y=[row["completed_pct"] for row in summary], name="training episodes completed",
             marker={"color": "rgba(44,160,44,0.55)"}),
        _scatter(x=its, y=[row["eval_completion_pct"] for row in summary], mode="lines+markers",
                 name="evaluation completion", connectgaps=True,
                 marker={"color": "#1f77b4", "symbol": "diamond"}),
    ])
    _layout(fig, "Episodes completed per iteration", "iteration", "%").layout["yaxis"]["range"] = [0, 105]
    return _as_dict(fig)


def lap_times_figure(summary: Sequence[Mapping[str, Any]]) -> FigureDict:
    """Lap times of the evaluation trials after each iteration (completed laps only)."""
    xs, ys = [], []
    for row in summary:
        for lap in row["eval_lap_times"]:
            xs.append(row["iteration"])
            ys.append(lap)
    best = [min(row["eval_lap_times"]) if row["eval_lap_times"] else None for row in summary]
    fig = _Figure([
        _scatter(x=xs, y=ys, mode="markers", name="evaluation laps", marker={"color": "#9467bd"}),
        _scatter(x=[row["iteration"] for row in summary], y=best, mode="lines", name="best lap",
                   connectgaps=True, line={"color": "#9467bd", "dash": "dot"}),
    ])
    return _as_dict(_layout(fig, "Evaluation lap times per iteration", "iteration", "lap time (s)"))


def analysis_figures(analysis: Any, track: Track | None = None,
                     action_labels: Sequence[str] | None = None) -> dict[str, FigureDict]:
    """Every figure of the analysis page, by name, from `analysis.load_run`'s `RunAnalysis` or
    from `analyse_run`'s dict with its `track`."""
    if track is None:
        analysis, track = analysis.result, analysis.track
    assert track is not None
    return {
        "reward_heatmap": reward_heatmap_figure(analysis["heatmap"], track),
        "actions": actions_figure(analysis["actions"], track),
        "action_histogram": action_histogram_figure(analysis["actions"],
                                                    action_labels or analysis.get("action_labels")),
        "paths": paths_figure(analysis["paths"], track),
        "completion": completion_figure(analysis["summary_in_range"]),
        "reward": reward_figure(analysis["summary_in_range"]),
        "lap_times": lap_times_figure(analysis["summary_in_range"]),
    }
