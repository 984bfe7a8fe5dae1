"""Command line: `python -m training.bc train ...` and `python -m training.bc grid ...`.

`grid` imports no TensorFlow, so it answers at once.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from simulator.stopping import Stopped
from training.bc.config import ConfigError, TrainConfig, load_grid


def _format_eta(seconds: float | None) -> str:
    if seconds is None:
        return "--:--"
    seconds = int(round(seconds))
    return f"{seconds // 60:02d}:{seconds % 60:02d}"


def progress_line(p: dict[str, Any]) -> str:
    """One human line: epoch, batch, loss, val_loss and ETA."""
    fmt = lambda v: "-" if v is None else f"{v:.4f}"  # noqa: E731
    return (f"epoch {p['epoch']}/{p['epochs']} batch {p['batch']}/{p['batches']} "
            f"loss {fmt(p['loss'])} val_loss {fmt(p['val_loss'])} "
            f"eta {_format_eta(p['eta_s'])} ({p['percent']:.0f}%)")


def _stderr_progress(p: dict[str, Any]) -> None:
    end = "\n" if p["phase"] in ("epoch_end", "done") else "\r"
    sys.stderr.write(progress_line(p) + end)
    sys.stderr.flush()


def _train(args: argparse.Namespace) -> int:
    cfg = TrainConfig.load(args.config) if args.config else TrainConfig()
    from training.bc.train import train  # TensorFlow loads only for training

    try:
        result = train(args.dataset, cfg, args.out, on_progress=_stderr_progress,
                       cache_dir=args.cache_dir)
    except Stopped as exc:
        print(f"stopped: {exc}; run the same command again to resume from the last finished epoch",
              file=sys.stderr)
        return 3
    summary = {"status": "completed", "out_dir": str(result.out_dir),
               "epochs_completed": result.epochs_completed, "best_epoch": result.best_epoch,
               "metrics": result.metrics}
    print(json.dumps(summary))
    return 0


def _grid(args: argparse.Namespace) -> int:
    configs = load_grid(args.config)
    for cfg in configs:
        print(cfg.to_json(indent=None))
    print(f"{len(configs)} configurations", file=sys.stderr)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m training.bc",
                                     description="Behavioural-cloning training.")
    sub = parser.add_subparsers(dest="command", required=True)
    tr = sub.add_parser("train", help="train a steering model")
    tr.add_argument("--dataset", action="append", required=True, type=Path,
                    help="a recording directory (driving_log.csv + IMG/); repeat for more")
    tr.add_argument("--config", type=Path, help="TrainConfig JSON (defaults when omitted)")
    tr.add_argument("--out", type=Path, required=True, help="output directory (resumes if reused)")
    tr.add_argument("--cache-dir", type=Path, default=None, help="bottleneck feature cache")
    tr.set_defaults(handler=_train)
    gr = sub.add_parser("grid", help="print the configurations a grid JSON expands to")
    gr.add_argument("--config", type=Path, required=True)
    gr.set_defaults(handler=_grid)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except (ConfigError, FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
