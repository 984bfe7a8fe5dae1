"""`--target sim`: drive our simulator in-process and show what happened.

Prints every lap as it completes, and optionally writes the camera frames (PNG), an animated
GIF, a Plotly top-down lap plot (HTML) and the DeepRacer-format sim-trace + metrics.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from drive_agent.evaluation import EvaluationResult, TrialVariation, run_sim_evaluation
from drive_agent.loop import Command, DriveLoop
from drive_agent.recorder import SimClock

GIF_FPS = 15
GIF_MAX_FRAMES = 900


@dataclass(frozen=True)
class SimOutputs:
    frames_dir: Path | None = None
    gif: Path | None = None
    plot: Path | None = None
    out_dir: Path | None = None


class _FrameSink:
    """Collects what the drive should leave behind, step by step."""

    def __init__(self, outputs: SimOutputs, clock: SimClock | None = None, dt: float = 0.0) -> None:
        self.outputs = outputs
        self.clock, self.dt = clock, dt
        self.gif_frames: list[Image.Image] = []
        self.gif_every = 1
        if outputs.frames_dir:
            outputs.frames_dir.mkdir(parents=True, exist_ok=True)

    def __call__(self, step: Any, frame: np.ndarray, command: Command) -> None:
        if self.clock is not None:
            # The next frame is seen at this step's time; the next trial starts one dt after the
            # end of this one (the simulator's shared clock, simulator.episode.run_trials).
            self.clock.set(step.sim_time + (self.dt if step.done else 0.0))
        if step.lap_time is not None:
            print(f"trial {step.episode + 1} lap {step.lap}: {step.lap_time:.2f} s", flush=True)
        elif step.done:
            print(f"trial {step.episode + 1} ended: {step.status.value} at {step.progress:.1f} %", flush=True)
        if self.outputs.frames_dir:
            Image.fromarray(frame).save(self.outputs.frames_dir / f"{step.episode:02d}_{step.step:05d}.png")
        if self.outputs.gif and step.step % self.gif_every == 0:
            img = Image.fromarray(frame)  # half size keeps a lap's GIF a few MB
            self.gif_frames.append(img.resize((img.width // 2, img.height // 2), Image.Resampling.BILINEAR))
            if len(self.gif_frames) >= GIF_MAX_FRAMES:  # keep memory bounded: halve the frame rate
                self.gif_frames = self.gif_frames[::2]
                self.gif_every *= 2

    def write_gif(self) -> None:
        if self.outputs.gif and self.gif_frames:
            self.outputs.gif.parent.mkdir(parents=True, exist_ok=True)
            first, *rest = self.gif_frames
            first.save(self.outputs.gif, save_all=True, append_images=rest,
                       duration=int(1000 * self.gif_every / GIF_FPS), loop=0)


#: Statuses of the step after which the simulator puts the car back on the track: the path jumps.
_RESET_STATUSES = frozenset({"off_track", "reversed", "immobilized", "crashed"})


def plot_path(trace: Sequence[Any]) -> np.ndarray:
    """(n, 2) x, y of the driven path, with a NaN row (a gap in the plotted line) where a new trial
    starts and where the car was reset after going off track: otherwise each reset is drawn as a
    spike from the verge back to the centre line, and each trial's end is joined to the next start."""
    points: list[tuple[float, float]] = []
    previous = None
    for step in trace:
        if previous is not None and (step.episode != previous.episode
                                     or getattr(previous.status, "value", previous.status) in _RESET_STATUSES):
            points.append((np.nan, np.nan))
        points.append((step.state.x, step.state.y))
        previous = step
    return np.array(points, dtype=float).reshape(-1, 2)


#: Lap labels: the first one this far (px) above its lap end, each further one near it a line higher.
LABEL_RISE_PX = 28
LABEL_LINE_PX = 18
#: Lap ends closer than this fraction of the track's size share a stack of labels (laps end at the line).
LABEL_NEAR_FRACTION = 0.15


def lap_label_annotations(markers: Sequence[tuple[float, float, str]], near: float) -> list[dict[str, Any]]:
    """One Plotly annotation per lap end, its arrow on the point where the lap ended. Every lap ends at
    the start line, so with several laps the labels were drawn on top of each other there: a label
    takes the lowest line of its stack that no lap end within `near` (metres) already uses."""
    placed: list[tuple[float, float, int]] = []
    annotations = []
    for x, y, text in markers:
        used = {line for px, py, line in placed if np.hypot(x - px, y - py) <= near}
        line = next(n for n in range(len(placed) + 1) if n not in used)
        placed.append((x, y, line))
        annotations.append(dict(x=x, y=y, text=text, showarrow=True, arrowhead=0, arrowcolor="#1f77b4",
                                ax=30, ay=-(LABEL_RISE_PX + LABEL_LINE_PX * line), xanchor="left", yanchor="middle",
                                font=dict(size=12), bgcolor="rgba(255,255,255,0.85)"))
    return annotations


def write_lap_plot(result: EvaluationResult, track: Any, out: Path) -> Path:
    """Top-down plot of the driven path on the track, trial starts and lap ends marked; each lap's
    label is offset from its lap end (see lap_label_annotations) and the time shows on hover too."""
    from simulator.topdown import topdown_figure

    several_trials = len({s.episode for s in result.trace}) > 1
    markers = [(s.state.x, s.state.y,
                f"{f'trial {s.episode + 1} ' if several_trials else ''}lap {s.lap}: {s.lap_time:.2f} s")
               for s in result.trace if s.lap_time is not None]
    out.parent.mkdir(parents=True, exist_ok=True)
    best = best_lap(result)
    title = (f"{track.name}: best lap {best[0]:.2f} s" if best is not None else f"{track.name}: no complete lap")
    figure = topdown_figure(track, plot_path(result.trace), markers, title=title)
    if markers:
        size = float(np.ptp(np.vstack([track.inner, track.outer]), axis=0).max())
        figure.update_traces(selector=dict(name="frames"), mode="markers", hovertemplate="%{text}<extra></extra>")
        figure.update_layout(annotations=lap_label_annotations(markers, LABEL_NEAR_FRACTION * size))
    # Plotly's JavaScript goes inside the file: the plot must open at a venue without network.
    figure.write_html(out, include_plotlyjs=True)
    return out


def best_lap(result: EvaluationResult) -> tuple[float, int, int] | None:
    """(time, trial, lap), both 1-based, of the fastest single lap of any trial; None without one."""
    laps = [(time, t.trial, i + 1) for t in result.trials for i, time in enumerate(t.lap_times)]
    return min(laps) if laps else None


def lap_summary(result: EvaluationResult, track_name: str) -> list[str]:
    """The lines the CLI ends with: each trial's lap times (and its total when it drove several
    laps), then the track's totals with the best single lap."""
    lines = []
    for t in result.trials:
        laps = ", ".join(f"{time:.2f} s" for time in t.lap_times) or "no lap"
        line = f"trial {t.trial}: {t.status.value}, laps {laps}"
        if t.lap_time is not None and len(t.lap_times) > 1:
            line += f" (trial {t.lap_time:.2f} s)"
        elif t.lap_time is None:
            line += f", {t.completion_pct:.1f} % done"
        lines.append(line)
    best = best_lap(result)
    best_text = f"{best[0]:.2f} s (trial {best[1]} lap {best[2]})" if best is not None else "n/a"
    lines.append(f"{track_name}: completion {result.completion_pct:.1f} %, best lap {best_text}, "
                 f"off-track {result.off_track_count}, resets {result.reset_count}")
    return lines


def _car_profile(loop: DriveLoop) -> Any:
    """The simulator car the loop's model drives (as drive_agent.evaluation.SimDriver picks it)."""
    from simulator.car import DEEPRACER, UDACITY

    return UDACITY if loop.card.input.camera.startswith("udacity") else DEEPRACER


def drive_sim(loop: DriveLoop, track_name: str, trials: int = 1, laps: int = 1,
              outputs: SimOutputs = SimOutputs(), max_time_s: float | None = None,
              variation: TrialVariation | None = None) -> EvaluationResult:
    from simulator.rules import EVALUATION_RULES
    from simulator.track import load_track

    track = load_track(track_name)
    clock = None
    if loop.recorder is not None:
        # --record names the images by simulated time: the simulator runs many times faster than
        # real time, and wall-clock names made a 20 s drive look like 1.3 s at 230 Hz.
        clock = SimClock()
        loop.recorder.use_clock(clock)
    sink = _FrameSink(outputs, clock, _car_profile(loop).dt)
    result = run_sim_evaluation(loop, track, n_trials=trials, rules=replace(EVALUATION_RULES, laps=laps),
                                out_dir=outputs.out_dir, on_step=sink, max_time_s=max_time_s, variation=variation)
    sink.write_gif()
    if outputs.plot:
        print(f"lap plot: {write_lap_plot(result, track, outputs.plot).resolve()}", flush=True)
    print("\n".join(lap_summary(result, track.name)), flush=True)
    return result
