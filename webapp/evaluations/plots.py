"""The evaluation page's Plotly figure: track borders and the driven path coloured by speed.

Built server-side with plotly's Python API and drawn in the browser by the locally served
plotly.min.js (no CDN), so the figure is plain JSON in the page.
"""

from __future__ import annotations

import json

from .models import Evaluation


def load_trace(evaluation: Evaluation) -> dict | None:
    if not evaluation.trace_file:
        return None
    with evaluation.trace_file.open("rb") as fh:
        return json.load(fh)


def _closed(points) -> tuple[list[float], list[float]]:
    xs, ys = points[:, 0].tolist(), points[:, 1].tolist()
    return xs + xs[:1], ys + ys[:1]


def track_figure(evaluation: Evaluation, trace: dict) -> dict:
    """A figure dict (data + layout) for Plotly.newPlot."""
    import plotly.graph_objects as go

    from simulator.track import load_track

    track = load_track(evaluation.track, reverse=evaluation.is_clockwise)
    fig = go.Figure()
    for name, border in (("Inner border", track.inner), ("Outer border", track.outer)):
        xs, ys = _closed(border)
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", name=name, hoverinfo="skip",
                                 line={"color": "#6b7280", "width": 2}))
    xs, ys = _closed(track.center)
    fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", name="Centre line", hoverinfo="skip",
                             line={"color": "#d1d5db", "width": 1, "dash": "dash"}))
    fig.add_trace(go.Scatter(
        x=trace["x"], y=trace["y"], mode="markers", name="Path",
        marker={"size": 5, "color": trace["speed"], "colorscale": "Turbo", "showscale": True,
                "colorbar": {"title": {"text": "m/s"}}},
        customdata=list(zip(trace["trial"], trace["t"], trace["steering_deg"], strict=True)),
        hovertemplate="trial %{customdata[0]}<br>t %{customdata[1]:.2f} s<br>speed %{marker.color:.2f} m/s"
                      "<br>steering %{customdata[2]:.1f}°<extra></extra>",
    ))
    fig.update_layout(
        margin={"l": 10, "r": 10, "t": 10, "b": 10}, height=520, showlegend=False,
        plot_bgcolor="#ffffff", xaxis={"visible": False},
        yaxis={"visible": False, "scaleanchor": "x", "scaleratio": 1},
    )
    return json.loads(fig.to_json())
