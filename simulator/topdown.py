"""Top-down pictures of a run: an interactive Plotly HTML and a plain PNG drawn with Pillow.

The PNG needs no browser (Plotly's static export needs Kaleido/Chrome, often missing on servers).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw


def _loop(points: np.ndarray) -> np.ndarray:
    return np.vstack([points, points[:1]])


def topdown_html(track: Any, path_xy: np.ndarray, out: Path, markers: Sequence[tuple[float, float, str]] = (),
                 title: str = "", include_plotlyjs: bool | str = True) -> Path:
    """Write an HTML page with the track borders, centre line, the driven path and labelled markers.
    `include_plotlyjs` is Plotly's: True (the default) embeds plotly.js, about 4 MB, so the page works
    offline; "cdn" would load it from the network."""
    out = Path(out)
    topdown_figure(track, path_xy, markers, title).write_html(out, include_plotlyjs=include_plotlyjs)
    return out


def topdown_figure(track: Any, path_xy: np.ndarray, markers: Sequence[tuple[float, float, str]] = (),
                   title: str = "") -> Any:
    """The Plotly figure topdown_html writes (a caller may add to it before writing it)."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for name, points, style in (("inner", track.inner, dict(color="#444")), ("outer", track.outer, dict(color="#444")),
                                ("centre", track.center, dict(color="#d9a400", dash="dash"))):
        loop = _loop(points)
        fig.add_trace(go.Scatter(x=loop[:, 0], y=loop[:, 1], mode="lines", name=name, line=style))
    fig.add_trace(go.Scatter(x=path_xy[:, 0], y=path_xy[:, 1], mode="lines", name="car path",
                             line=dict(color="#d62728", width=2)))
    if markers:
        fig.add_trace(go.Scatter(x=[m[0] for m in markers], y=[m[1] for m in markers], mode="markers+text",
                                 text=[m[2] for m in markers], textposition="top center", name="frames",
                                 marker=dict(size=8, color="#1f77b4")))
    fig.update_layout(title=title or track.name, yaxis=dict(scaleanchor="x", scaleratio=1), template="plotly_white")
    return fig


def topdown_png(track: Any, path_xy: np.ndarray, out: Path, markers: Sequence[tuple[float, float, str]] = (),
                size: int = 900) -> Path:
    """Write a PNG of the track (grey road, white borders), the path (red) and markers (blue)."""
    everything = np.vstack([track.inner, track.outer, path_xy])
    lo, hi = everything.min(axis=0), everything.max(axis=0)
    margin = 0.05 * float((hi - lo).max())
    lo, hi = lo - margin, hi + margin
    scale = size / float((hi - lo).max())
    width, height = int((hi - lo)[0] * scale) + 1, int((hi - lo)[1] * scale) + 1

    def px(points: np.ndarray) -> list[tuple[float, float]]:
        p = (np.asarray(points) - lo) * scale
        return [(float(x), float(height - y)) for x, y in p]  # image rows grow downward

    image = Image.new("RGB", (width, height), (70, 120, 60))
    draw = ImageDraw.Draw(image)
    n = len(track.center)
    for i in range(n):
        j = (i + 1) % n
        draw.polygon(px(np.array([track.inner[i], track.inner[j], track.outer[j], track.outer[i]])),
                     fill=(60, 60, 64))
    for border in (track.inner, track.outer):
        draw.line(px(_loop(border)), fill=(240, 240, 240), width=2)
    draw.line(px(_loop(track.center)), fill=(220, 170, 30), width=1)
    if len(path_xy) > 1:
        draw.line(px(path_xy), fill=(220, 40, 40), width=2)
    for x, y, label in markers:
        cx, cy = px(np.array([[x, y]]))[0]
        draw.ellipse((cx - 4, cy - 4, cx + 4, cy + 4), fill=(40, 110, 220))
        draw.text((cx + 6, cy - 6), label, fill=(255, 255, 255))
    out = Path(out)
    image.save(out)
    return out
