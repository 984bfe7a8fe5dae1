"""Command line: `python -m training.rl train --reward reward.py --track reinvent_base --out DIR`.

Options override the configuration file's fields (`--config`, an RLConfig JSON); one progress
line per iteration goes to stderr, a JSON summary to stdout. Exit codes: 0 done, 2 bad input or a
failing reward function, 3 stopped (run the same command again to resume).
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from simulator.stopping import Stopped
from training.rl.config import ConfigError, RLConfig


def _format_eta(seconds: float | None) -> str:
    if seconds is None:
        return "--:--"
    seconds = int(round(seconds))
    return f"{seconds // 60:02d}:{seconds % 60:02d}"


def progress_line(p: dict[str, Any]) -> str:
    """One human line per iteration: iteration, episodes, reward, evaluation, speed, ETA."""
    if p["phase"] == "done":
        return (f"done: {p['iteration'] + 1} iterations, {p['episodes']} episodes, {p['steps']} steps, "
                f"stop {p.get('stop_reason')}, best iteration {p.get('best_iteration')}")
    fmt = lambda v, spec=".1f": "-" if v is None else format(v, spec)  # noqa: E731
    laps = [t for t in p.get("eval_lap_times") or [] if t is not None]
    return (f"iteration {p['iteration']} episodes {p['episodes']} steps {p['steps']} "
            f"reward {fmt(p.get('reward_mean'))} progress {fmt(p.get('progress_mean'))}% "
            f"eval {fmt(p.get('eval_completion_pct'))}% laps {len(laps)} "
            f"{fmt(p.get('steps_per_s'), '.0f')} steps/s eta {_format_eta(p.get('eta_s'))} "
            f"({p['percent']:.0f}%)")


def _stderr_progress(p: dict[str, Any]) -> None:
    sys.stderr.write(progress_line(p) + "\n")
    sys.stderr.flush()


def _config(args: argparse.Namespace) -> RLConfig:
    data: dict[str, Any] = json.loads(Path(args.config).read_text()) if args.config else {}
    if not isinstance(data, dict):
        raise ConfigError("the configuration file must hold a JSON object")
    if args.track:
        data["tracks"] = [{"name": name, "reverse": args.reverse} for name in args.track]
    if args.model_metadata:
        meta = json.loads(Path(args.model_metadata).read_text())
        data["action_space"] = meta.get("action_space")
        data["action_space_type"] = meta.get("action_space_type", "continuous" if isinstance(
            meta.get("action_space"), dict) else "discrete")
    for name in ("max_minutes", "max_seconds", "seed", "num_envs", "network", "downscale",
                 "eval_trials", "target_completion_pct", "num_epochs"):
        value = getattr(args, name)
        if value is not None:
            data[name] = value
    return RLConfig.from_dict(data)


def _train(args: argparse.Namespace) -> int:
    config = _config(args)
    source = Path(args.reward).read_text()
    from training.rl.train import train  # TensorFlow loads only for training

    stop = {"asked": False}

    def on_signal(_signum: int, _frame: Any) -> None:
        stop["asked"] = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        result = train(config, source, args.out, on_progress=_stderr_progress,
                       should_stop=lambda: stop["asked"], init_from=args.init_from)
    except Stopped as exc:
        print(f"stopped: {exc}; run the same command again to resume", file=sys.stderr)
        return 3
    except Exception as exc:
        from training.rl.sandbox import RewardFunctionError, SandboxUnavailable

        if isinstance(exc, (RewardFunctionError, SandboxUnavailable)):
            print(f"error: {exc}", file=sys.stderr)
            params = getattr(exc, "params", None)
            if params:
                shown = {k: v for k, v in params.items() if k != "waypoints"}
                print(f"params: {json.dumps(shown, default=str)}", file=sys.stderr)
            return 2
        raise
    summary = {"status": "completed", "out_dir": str(result.out_dir), "iterations": result.iterations,
               "episodes": result.episodes, "steps": result.steps, "elapsed_s": round(result.elapsed_s, 1),
               "stop_reason": result.stop_reason, "best_iteration": result.best_iteration,
               "best_eval_completion_pct": result.best_eval_completion_pct,
               "best_lap_time_s": result.best_lap_time_s,
               "export_dir": str(result.export_dir) if result.export_dir else None}
    print(json.dumps(summary))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m training.rl", description="DeepRacer-style PPO training.")
    sub = parser.add_subparsers(dest="command", required=True)
    tr = sub.add_parser("train", help="train a model with a reward function")
    tr.add_argument("--reward", type=Path, required=True, help="reward_function.py (DeepRacer's signature)")
    tr.add_argument("--out", type=Path, required=True, help="output directory (resumes if reused)")
    tr.add_argument("--track", action="append", help="a DeepRacer track name; repeat for round robin")
    tr.add_argument("--reverse", action="store_true", help="drive the --track(s) clockwise")
    tr.add_argument("--config", type=Path, help="RLConfig JSON (defaults when omitted)")
    tr.add_argument("--model-metadata", type=Path, help="model_metadata.json: its action space")
    tr.add_argument("--init-from", type=Path, help="clone: a previous run's out_dir or checkpoint")
    tr.add_argument("--max-minutes", type=int)
    tr.add_argument("--max-seconds", type=float, help="a seconds budget instead of minutes")
    tr.add_argument("--target-completion-pct", type=float)
    tr.add_argument("--seed", type=int)
    tr.add_argument("--num-envs", type=int)
    tr.add_argument("--num-epochs", type=int)
    tr.add_argument("--network", choices=("small", "deepracer_shallow"))
    tr.add_argument("--downscale", type=int, choices=(1, 2))
    tr.add_argument("--eval-trials", type=int)
    tr.set_defaults(handler=_train)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except (ConfigError, FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
