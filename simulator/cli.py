"""`python -m simulator ...`: record training data, render what the car sees, lap-time limits,
the Udacity wire client, the benchmark and the track list."""

from __future__ import annotations

import argparse
import itertools
import runpy
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from simulator.appearance import Randomisation
from simulator.camera import DeepRacerCamera, UdacityCameras
from simulator.car import DEEPRACER, UDACITY, get_profile
from simulator.recorder import RecordingStats, SessionConfig, drive_session, record
from simulator.topdown import topdown_html, topdown_png
from simulator.track import list_tracks, load_track

BENCH_SCRIPT = Path(__file__).resolve().parents[1] / "bench" / "simulator.py"


def _randomisation(args: argparse.Namespace) -> Randomisation | None:
    return Randomisation(seed=args.seed) if getattr(args, "randomise", False) else None


def render_run(track_name: str, out_dir: Path, frames: int = 8, randomisation: Randomisation | None = None,
               seed: int = 0, steps: int | None = None) -> list[Path]:
    """Drive one lap with the autopilot, save camera PNGs at `frames` evenly spaced moments and
    a top-down HTML + PNG of the path; returns the files written."""
    track = load_track(track_name)
    profile = UDACITY if track.scale == "udacity" else DEEPRACER
    out_dir.mkdir(parents=True, exist_ok=True)
    if steps is None:
        steps = int(track.length / (0.6 * (9.0 if track.scale == "udacity" else 1.5)) * profile.action_hz)
    run = list(itertools.islice(drive_session(track, profile, SessionConfig(), seed), steps))
    path_xy = np.array([[f.state.x, f.state.y] for f in run])
    camera = UdacityCameras(track, randomisation) if track.scale == "udacity" else DeepRacerCamera(track, randomisation)
    written: list[Path] = []
    markers = []
    for k, index in enumerate(np.linspace(0, len(run) - 1, frames).astype(int)):
        state = run[index].state
        markers.append((state.x, state.y, str(k)))
        views = camera.render(state.x, state.y, state.yaw)
        named = views if isinstance(views, dict) else {"deepracer": views}
        for name, image in named.items():
            path = out_dir / f"frame_{k:03d}_{name}.png"
            Image.fromarray(image).save(path)
            written.append(path)
    written.append(topdown_html(track, path_xy, out_dir / "topdown.html", markers,
                                title=f"{track.name}: autopilot path and frame positions"))
    written.append(topdown_png(track, path_xy, out_dir / "topdown.png", markers))
    return written


def cmd_record(args: argparse.Namespace) -> int:
    track = load_track(args.track)

    def progress(stats: RecordingStats) -> None:
        print(f"\rrecorded {stats.frames}/{args.frames} frames, {stats.laps:.2f} laps, "
              f"{stats.recovery_frames} recovery frames, {stats.frames_per_s:.0f} frames/s",
              end="", file=sys.stderr, flush=True)

    config = SessionConfig(recoveries=args.recoveries, keyboard=args.keyboard, recovery_every_m=args.recovery_every)
    stats = record(track, args.out, args.frames, seed=args.seed, randomisation=_randomisation(args),
                   quality=args.quality, config=config, on_progress=progress)
    print(file=sys.stderr)
    print(f"wrote {stats.frames} rows to {stats.path} ({stats.recoveries} recoveries, "
          f"{stats.off_tracks} off-track resets, {stats.seconds:.1f} s)")
    return 0


def cmd_render(args: argparse.Namespace) -> int:
    written = render_run(args.track, Path(args.out), args.frames, _randomisation(args), args.seed)
    for path in written:
        print(path)
    return 0


def cmd_limit(args: argparse.Namespace) -> int:
    from simulator.limit import format_limit, minimum_lap_time

    profile = get_profile(args.car)
    result = minimum_lap_time(load_track(args.track), profile)
    print(format_limit(result, args.track, profile.name))
    return 0


def cmd_udacity(args: argparse.Namespace) -> int:
    from simulator.udacity_client import ClientStats, UdacityClient

    client = UdacityClient(load_track(args.track), args.host, args.port, randomisation=_randomisation(args),
                           realtime=args.realtime)
    print(f"driving {args.track} against {client.url}", file=sys.stderr)

    def progress(stats: ClientStats) -> None:
        if stats.frames % 50 == 0:
            print(f"\r{stats.frames} frames, {stats.laps:.2f} laps, {stats.off_tracks} off-track",
                  end="", file=sys.stderr, flush=True)

    stats = client.run(max_frames=args.frames, max_laps=args.laps, timeout_s=args.timeout,
                       connect_timeout_s=args.connect_timeout, on_frame=progress)
    print(file=sys.stderr)
    print(f"frames {stats.frames}, laps {stats.laps:.2f}, off-track {stats.off_tracks}, "
          f"{stats.frames_per_s:.1f} frames/s, ended by {stats.ended_by}")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    sys.argv = [str(BENCH_SCRIPT), *(["--quick"] if args.quick else [])]
    runpy.run_path(str(BENCH_SCRIPT), run_name="__main__")
    return 0


def cmd_tracks(args: argparse.Namespace) -> int:
    for name in list_tracks():
        track = load_track(name)
        print(f"{name:24s} {track.scale:9s} {track.length:8.1f} m  width {float(np.median(track.widths)):.2f} m")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m simulator", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("record", help="drive a road track and write driving_log.csv + IMG/ (Udacity format)")
    p.add_argument("--track", required=True, help="a road-scale track, e.g. pitlane_loop_road")
    p.add_argument("--frames", type=int, required=True, help="rows to record")
    p.add_argument("--out", required=True, help="output folder (driving_log.csv and IMG/ go there)")
    p.add_argument("--recoveries", action="store_true",
                   help="add recoveries: only the return from the edge is recorded")
    p.add_argument("--recovery-every", type=float, default=SessionConfig.recovery_every_m, metavar="M",
                   help="mean metres driven between recoveries (default %(default)s)")
    p.add_argument("--keyboard", action="store_true", help="steer like arrow keys (spiky, many exact zeros)")
    p.add_argument("--randomise", action="store_true", help="domain randomisation (lighting, colours, shadows, noise)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quality", type=int, default=90, help="JPEG quality")
    p.set_defaults(func=cmd_record)

    p = sub.add_parser("render", help="PNG frames from the cameras + a top-down plot (HTML and PNG) of a lap")
    p.add_argument("--track", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--frames", type=int, default=8, help="moments of the lap to render")
    p.add_argument("--randomise", action="store_true")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_render)

    p = sub.add_parser("limit", help="the physical minimum lap time of a car on a track")
    p.add_argument("--track", required=True)
    p.add_argument("--car", default="deepracer", choices=["deepracer", "udacity"])
    p.set_defaults(func=cmd_limit)

    p = sub.add_parser("udacity", help="act as the Udacity simulator against a drive server (ws://HOST:PORT)")
    p.add_argument("--track", required=True)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=4567)
    p.add_argument("--frames", type=int, default=None, help="stop after this many telemetry frames")
    p.add_argument("--laps", type=float, default=None, help="stop after this many laps")
    p.add_argument("--timeout", type=float, default=None, help="stop after this many seconds")
    p.add_argument("--connect-timeout", type=float, default=30.0, help="keep trying to connect this long")
    p.add_argument("--realtime", action="store_true", help="advance the car by wall time, as Unity does")
    p.add_argument("--randomise", action="store_true")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_udacity)

    p = sub.add_parser("bench", help="simulator throughput and memory (bench/simulator.py)")
    p.add_argument("--quick", action="store_true", help="shorter runs")
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser("tracks", help="list the built-in tracks")
    p.set_defaults(func=cmd_tracks)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
