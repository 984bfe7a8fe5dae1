"""Example reward functions of our own, for a team to start from (each a plain `.py` file here).

`EXAMPLES` lists them in the order the editor offers them; `Example.source` is the file's text,
which runs unchanged in the sandbox (and on the AWS console).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Example:
    slug: str
    title: str
    summary: str
    filename: str

    @property
    def source(self) -> str:
        return (HERE / self.filename).read_text(encoding="utf-8")


EXAMPLES: list[Example] = [
    Example("centre_line", "Follow the centre line",
            "Reward falls smoothly with the distance from the centre line.", "centre_line.py"),
    Example("all_wheels_on_track", "All wheels on the track",
            "A steady reward while every wheel is on the track, a little more when faster.",
            "all_wheels_on_track.py"),
    Example("racing_line", "Racing line with waypoints",
            "Aim at a waypoint a few points ahead, so the car cuts the corners.", "racing_line.py"),
    Example("speed_on_straights", "Speed on the straights",
            "Fast where the waypoints ahead run straight, a moderate speed in the corners.",
            "speed_on_straights.py"),
    Example("lap_pace", "Lap pace",
            "The speed along the track, squared: the fastest actions count most; for fast action spaces.",
            "lap_pace.py"),
]


def example(slug: str) -> Example:
    """The example named `slug`; KeyError names the known ones."""
    for item in EXAMPLES:
        if item.slug == slug:
            return item
    raise KeyError(f"no example reward function {slug!r} (known: {', '.join(e.slug for e in EXAMPLES)})")
