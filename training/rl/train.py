"""PPO training of a DeepRacer-style model: `train(config, reward_source, out_dir, ...)`.

Placeholder for the contract (signature and result); the implementation follows in this file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from simulator.stopping import OnProgress, ShouldStop
from training.rl.config import RLConfig


@dataclass
class RLTrainResult:
    """What a finished run produced (everything also lies in `out_dir`)."""

    out_dir: Path
    iterations: int
    episodes: int
    steps: int
    elapsed_s: float
    best_iteration: int | None
    best_eval_completion_pct: float
    best_lap_time_s: float | None
    stop_reason: str  # "time_limit", "target_completion", "max_episodes", "avg_score"
    export_dir: Path | None
    metrics: dict[str, Any] = field(default_factory=dict)


def train(config: RLConfig, reward_source: str, out_dir: str | Path, *,
          on_progress: OnProgress | None = None, should_stop: ShouldStop | None = None,
          init_from: str | Path | None = None) -> RLTrainResult:
    """Train with clipped PPO until the config's stop conditions; see the module docstring."""
    raise NotImplementedError("training.rl.train is being written")
