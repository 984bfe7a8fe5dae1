"""`--target sim`: drive our simulator in-process and show what happened.

Prints every lap as it completes, and optionally writes the camera frames (PNG), an animated
GIF, a Plotly top-down lap plot (HTML) and the DeepRacer-format sim-trace + metrics.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from drive_agent.evaluation import EvaluationResult, run_sim_evaluation
from drive_agent.loop import Command, DriveLoop

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

    def __init__(self, outputs: SimOutputs) -> None:
        self.outputs = outputs
        self.gif_frames: list[Image.Image] = []
        self.gif_every = 1
        if outputs.frames_dir:
            outputs.frames_dir.mkdir(parents=True, exist_ok=True)

    def __call__(self, step: Any, frame: np.ndarray, command: Command) -> None:
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


def write_lap_plot(result: EvaluationResult, track: Any, out: Path) -> Path:
    """Top-down plot of the driven path on the track, trial starts and lap ends marked."""
    from simulator.topdown import topdown_html

    cols = result.trace_arrays()
    markers = [(s.state.x, s.state.y, f"lap {s.lap}: {s.lap_time:.2f} s") for s in result.trace
               if s.lap_time is not None]
    out.parent.mkdir(parents=True, exist_ok=True)
    best = result.best_lap_time
    title = f"{track.name}: best {best:.2f} s" if best is not None else f"{track.name}: no complete lap"
    return topdown_html(track, np.column_stack([cols["x"], cols["y"]]), out, markers, title=title)


def drive_sim(loop: DriveLoop, track_name: str, trials: int = 1, laps: int = 1,
              outputs: SimOutputs = SimOutputs(), max_time_s: float | None = None) -> EvaluationResult:
    from simulator.rules import EVALUATION_RULES
    from simulator.track import load_track

    track = load_track(track_name)
    sink = _FrameSink(outputs)
    result = run_sim_evaluation(loop, track, n_trials=trials, rules=replace(EVALUATION_RULES, laps=laps),
                                out_dir=outputs.out_dir, on_step=sink, max_time_s=max_time_s)
    sink.write_gif()
    if outputs.plot:
        write_lap_plot(result, track, outputs.plot)
    best = result.best_lap_time
    print(f"{track.name}: completion {result.completion_pct:.1f} %, best "
          + (f"{best:.2f} s" if best is not None else "n/a")
          + f", off-track {result.off_track_count}, resets {result.reset_count}", flush=True)
    return result
