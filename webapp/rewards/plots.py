"""The validation preview's Plotly figures: the reward as a heat map on the track (the preview
drive's points coloured by reward over the track's borders and centre line) and the reward (and
progress) over the preview's steps.

Built server-side with plotly's Python API and drawn by the locally served plotly.min.js, like
the evaluation page's figure (`webapp/evaluations/plots.py`)."""

from __future__ import annotations

import json


def _closed(points) -> tuple[list[float], list[float]]:
    xs, ys = points[:, 0].tolist(), points[:, 1].tolist()
    return xs + xs[:1], ys + ys[:1]


def _columns(preview: list[dict]) -> dict[str, list]:
    """The preview's steps (reward_check's PreviewStep dicts) as columns, with each step's index (from
    0, as reward_check's messages count them)."""
    keys = ("x", "y", "reward", "progress", "speed", "steering", "status")
    columns: dict[str, list] = {key: [step.get(key) for step in preview] for key in keys}
    columns["step"] = list(range(len(preview)))
    return columns


def heatmap_figure(track_name: str, preview: list[dict]) -> dict:
    """The track with the preview's steps coloured by the reward they earned (steps the function
    did not reward, after a failure, in grey)."""
    import plotly.graph_objects as go

    from simulator.track import load_track

    track = load_track(track_name)
    fig = go.Figure()
    for name, border in (("Inner border", track.inner), ("Outer border", track.outer)):
        xs, ys = _closed(border)
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", name=name, hoverinfo="skip",
                                 line={"color": "#6b7280", "width": 2}))
    xs, ys = _closed(track.center)
    fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", name="Centre line", hoverinfo="skip",
                             line={"color": "#d1d5db", "width": 1, "dash": "dash"}))
    c = _columns(preview)
    rewarded = [i for i, r in enumerate(c["reward"]) if r is not None]
    missing = [i for i, r in enumerate(c["reward"]) if r is None]

    def pick(key: str, rows: list[int]) -> list:
        return [c[key][i] for i in rows]

    fig.add_trace(go.Scatter(
        x=pick("x", rewarded), y=pick("y", rewarded), mode="markers", name="Reward",
        marker={"size": 7, "color": pick("reward", rewarded), "colorscale": "Viridis", "showscale": True,
                "colorbar": {"title": {"text": "reward"}}},
        customdata=list(zip(*(pick(k, rewarded) for k in ("step", "progress", "speed", "steering", "status")),
                            strict=True)),
        hovertemplate="step %{customdata[0]}<br>reward %{marker.color:.4g}<br>progress %{customdata[1]:.1f} %"
                      "<br>speed %{customdata[2]:.2f} m/s<br>steering %{customdata[3]:.1f}°"
                      "<br>%{customdata[4]}<extra></extra>",
    ))
    if missing:
        fig.add_trace(go.Scatter(
            x=pick("x", missing), y=pick("y", missing), mode="markers", name="Not rewarded",
            marker={"size": 6, "color": "#c0392b", "symbol": "x"}, customdata=pick("step", missing),
            hovertemplate="step %{customdata}: no reward (the function failed)<extra></extra>"))
    fig.update_layout(
        margin={"l": 10, "r": 10, "t": 10, "b": 10}, height=480, showlegend=False,
        plot_bgcolor="#ffffff", xaxis={"visible": False},
        yaxis={"visible": False, "scaleanchor": "x", "scaleratio": 1},
    )
    return json.loads(fig.to_json())


def trace_figure(preview: list[dict]) -> dict:
    """Reward per step, with the lap progress on a second axis."""
    import plotly.graph_objects as go

    c = _columns(preview)
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=c["step"], y=c["reward"], mode="lines", name="Reward",
                             line={"color": "#e4572e", "width": 2}))
    fig.add_trace(go.Scatter(x=c["step"], y=c["progress"], mode="lines", name="Progress (%)", yaxis="y2",
                             line={"color": "#2563a8", "width": 1, "dash": "dot"}))
    fig.update_layout(
        margin={"l": 50, "r": 50, "t": 10, "b": 40}, height=300, hovermode="x unified",
        legend={"orientation": "h", "y": 1.12}, plot_bgcolor="#ffffff",
        xaxis={"title": {"text": "step"}, "gridcolor": "#eef1f5"},
        yaxis={"title": {"text": "reward"}, "gridcolor": "#eef1f5"},
        yaxis2={"title": {"text": "progress (%)"}, "overlaying": "y", "side": "right", "range": [0, 100],
                "tickmode": "linear", "tick0": 0, "dtick": 25, "showgrid": False},
    )
    return json.loads(fig.to_json())
