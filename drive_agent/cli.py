"""`drive_agent`: fetch (or open) a model and drive the Udacity simulator, our simulator or a car.

An AWS DeepRacer over its web console (the laptop drives, the car streams its camera):
  drive_agent --model-id 12 --target deepracer --car-ip 192.168.1.20 --car-password PASSWORD

A donkeycar-style car (Raspberry Pi + PCA9685): find its PWM values once, then drive:
  drive_agent calibrate --out donkeycar.toml
  drive_agent --model-id 12 --target donkeycar --donkey-config donkeycar.toml --camera pi

A camera or MJPEG stream to JSON-line commands (UDP) for a car of your own:
  drive_agent --model-id 12 --target car --camera http://car.local:8080/stream.mjpg --udp car.local:9999

Errors a racer can fix (token, model id, network, checksum, card, files) end with one line on
stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from drive_agent.fetch import DEFAULT_SERVER, FetchError, fetch_model
from drive_agent.loop import DriveLoop
from drive_agent.model_card import ModelCard, ModelCardError, load_model_card
from drive_agent.recorder import Recorder
from drive_agent.runtime import ModelRuntimeError, TFLiteModel
from drive_agent.speed import (
    DEEPRACER_SET_SPEED_MS,
    UDACITY_SET_SPEED_MPH,
    OpenLoopThrottle,
    PISpeedControl,
    SpeedPolicy,
    default_set_speeds,
)

if TYPE_CHECKING:
    from drive_agent.camera import OpenCVSource, PiCameraSource

EXIT_USAGE = 2


class CliError(Exception):
    """A user-facing problem: printed as one line, exit code 2."""


def _positive_int(text: str) -> int:
    """argparse type: a whole number of at least 1 (0 trials or laps drove nothing, or crashed)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid int value: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return value


def _positive_float(text: str) -> float:
    """argparse type: a finite number above 0 (a negative set speed or time drove nothing, silently)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid number: {text!r}") from None
    if not (0 < value < float("inf")):
        raise argparse.ArgumentTypeError(f"must be a number above 0, not {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="drive_agent", description=__doc__.splitlines()[0],
                                epilog="\n\n".join(__doc__.split("\n\n")[1:-1]),
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--model-id", type=int, help="model id on the Pitlane server")
    src.add_argument("--model-file", type=Path, help="a local .tflite model")
    p.add_argument("--card", type=Path, help="model card for --model-file (default: model_card.json beside it)")
    p.add_argument("--server", default=os.environ.get("PITLANE_SERVER", DEFAULT_SERVER),
                   help="Pitlane server (env PITLANE_SERVER; default %(default)s)")
    p.add_argument("--token", default=os.environ.get("PITLANE_TOKEN"), help="team API token (env PITLANE_TOKEN)")
    p.add_argument("--cache-dir", type=Path, help="model cache (default ~/.cache/pitlane/models)")
    p.add_argument("--target", choices=("udacity", "sim", "car", "deepracer", "donkeycar"), default="udacity")
    p.add_argument("--threads", type=int, default=1, help="TFLite interpreter threads (default 1)")
    p.add_argument("--throttle-scale", type=float, default=1.0, help="race-time multiplier on throttle")
    speeds = default_set_speeds()
    p.add_argument("--set-speed", type=_positive_float,
                   help=f"target speed: Udacity camera models in mph (default {speeds['udacity']}), "
                   f"DeepRacer camera models in m/s (default {speeds['deepracer']}), as on the site")
    p.add_argument("--min-speed", type=float, help="slow down linearly to this speed at full steering lock")
    p.add_argument("--kp", type=float, default=0.1, help="speed PI controller gain (default 0.1)")
    p.add_argument("--ki", type=float, default=0.002, help="speed PI controller integral gain (default 0.002)")
    p.add_argument("--record", type=Path, help="record frames + driving_log.csv into this folder")
    p.add_argument("-v", "--verbose", action="store_true")

    u = p.add_argument_group("udacity target")
    u.add_argument("--host", default="127.0.0.1", help="listen address (0.0.0.0 for a simulator on another machine)")
    u.add_argument("--port", type=int, default=4567)

    s = p.add_argument_group("sim target")
    s.add_argument("--track", help="track name or DeepRacer .npy path")
    s.add_argument("--trials", type=_positive_int, default=1)
    s.add_argument("--laps", type=_positive_int, default=1, help="laps per trial")
    s.add_argument("--max-time", type=_positive_float, help="sim seconds per trial (default: 20x a lap at top speed)")
    s.add_argument("--frames-dir", type=Path, help="write every camera frame as PNG here")
    s.add_argument("--gif", type=Path, help="write an animated GIF of the drive")
    s.add_argument("--plot", type=Path, help="write a Plotly lap plot (HTML)")
    s.add_argument("--out", type=Path, help="write sim-trace CSV + metrics JSON into this folder "
                   "(deepracer-for-cloud's layout: model/ and evaluation-<stamp>/, which deepracer-utils reads)")
    s.add_argument("--vary", action="store_true",
                   help="vary each trial's start, steering noise and lighting (seeded; trials differ)")
    s.add_argument("--seed", type=int, help="seed of --vary (implies it; default: a random one, printed)")

    c = p.add_argument_group("car target (also --stall-timeout: end the drive after that long without a camera frame)")
    c.add_argument("--camera", help="OpenCV camera index, video file or stream URL (MJPEG http://...); "
                   "donkeycar: also pi (picamera2), the default there when installed")
    c.add_argument("--frames", type=Path, help="replay a folder of images instead of a camera")
    c.add_argument("--fps", type=float, default=15.0, help="replay rate for --frames")
    c.add_argument("--udp", default="127.0.0.1:9999", help="car controller HOST:PORT for JSON lines")
    c.add_argument("--serial", help="serial port for JSON lines instead of UDP")
    c.add_argument("--baud", type=int, default=115200)
    c.add_argument("--throttle", type=float,
                   help="open-loop throttle at the set speed (default 0.3; deepracer 0.8 at the top action speed)")
    c.add_argument("--frame-timeout", type=float, default=0.25,
                   help="watchdog: throttle 0 after this many s without a frame")
    c.add_argument("--max-frame-age", type=float, default=0.15, help="throttle 0 for frames older than this (s)")

    d = p.add_argument_group("deepracer target (AWS DeepRacer web console; also --frame-timeout, --max-frame-age)")
    d.add_argument("--car-ip", help="the DeepRacer's IP address (or HOST:PORT)")
    d.add_argument("--car-password", default=os.environ.get("DEEPRACER_PASSWORD"),
                   help="console password, printed under the car (env DEEPRACER_PASSWORD)")
    d.add_argument("--max-speed", type=float, default=0.5,
                   help="the console's max speed 0..1 (default 0.5); --throttle-scale multiplies it")
    d.add_argument("--stall-timeout", type=float, default=2.0,
                   help="stop the car and exit after this many s without a camera frame (default 2)")
    d.add_argument("--car-timeout", type=float, default=1.0, help="longest wait for the car to answer a command (s)")

    k = p.add_argument_group("donkeycar target (PCA9685 servo + ESC; also --camera, --frames, --throttle, "
                             "--frame-timeout, --max-frame-age, --stall-timeout)")
    k.add_argument("--donkey-config", type=Path,
                   help="calibration: a .toml/.json from `drive_agent calibrate`, or your donkeycar myconfig.py")
    return p


def load_model(args: argparse.Namespace) -> tuple[Path, ModelCard]:
    if args.model_file is not None:
        if not args.model_file.is_file():
            raise CliError(f"model file {args.model_file} not found")
        card_path = args.card or args.model_file.with_name("model_card.json")
        return args.model_file, load_model_card(card_path)
    fetched = fetch_model(args.model_id, args.server, args.token, cache_root=args.cache_dir)
    if fetched.from_cache:
        print(f"drive_agent: server unreachable, driving the cached copy of model {args.model_id}",
              file=sys.stderr)
    return fetched.model_path, fetched.card


def speed_policy(args: argparse.Namespace, card: ModelCard) -> SpeedPolicy:
    if args.target in ("car", "donkeycar"):
        return OpenLoopThrottle(throttle=0.3 if args.throttle is None else args.throttle,
                                set_speed=args.set_speed or 1.0, min_speed=args.min_speed)
    if args.target == "deepracer":  # the fastest action at --throttle; steering-only models at --set-speed
        top = card.action_space.max_speed if card.action_space is not None else 1.0
        return OpenLoopThrottle(throttle=0.8 if args.throttle is None else args.throttle,
                                set_speed=args.set_speed or top, min_speed=args.min_speed)
    udacity = card.input.camera.startswith("udacity")
    default_speed = UDACITY_SET_SPEED_MPH if udacity else DEEPRACER_SET_SPEED_MS
    return PISpeedControl(set_speed=args.set_speed or default_speed, kp=args.kp, ki=args.ki,
                          min_speed=args.min_speed)


def run(args: argparse.Namespace) -> int:
    model_path, card = load_model(args)
    model = TFLiteModel(model_path, card, num_threads=args.threads)
    recorder = Recorder(args.record) if args.record else None
    # On the DeepRacer the race-time scale multiplies the console's max speed (see targets.deepracer).
    scale = 1.0 if args.target == "deepracer" else args.throttle_scale
    loop = DriveLoop(model, speed_policy(args, card), throttle_scale=scale, recorder=recorder)
    try:
        if args.target == "udacity":
            from drive_agent.targets.udacity import run_udacity

            run_udacity(loop, args.host, args.port)
        elif args.target == "car":
            _run_car(loop, args)
        elif args.target == "deepracer":
            _run_deepracer(loop, args)
        elif args.target == "donkeycar":
            _run_donkeycar(loop, args)
        else:
            _run_sim(loop, args)
    finally:
        report = loop.close()
        if loop.stats.frames:
            print(report, flush=True)
    return 0


def _run_car(loop: DriveLoop, args: argparse.Namespace) -> None:
    from drive_agent.targets.car import (
        CommandSink,
        FolderSource,
        FrameSource,
        SerialSink,
        UdpSink,
        run_car,
    )

    source: FrameSource
    sink: CommandSink
    if args.frames is not None:
        source = FolderSource(args.frames, fps=args.fps)
    elif args.camera is not None:
        source = _camera(loop, args)
    else:
        raise CliError("--target car needs --camera or --frames")
    if args.serial:
        sink = SerialSink(args.serial, args.baud)
    else:
        host, _, port = args.udp.rpartition(":")
        if not host or not port.isdigit():
            raise CliError(f"--udp must be HOST:PORT, got {args.udp!r}")
        sink = UdpSink(host, int(port))
    stop = threading.Event()
    try:
        stats = run_car(loop, source, sink, args.frame_timeout, args.max_frame_age, stop)
    except KeyboardInterrupt:
        stop.set()
        print("drive_agent: interrupted; throttle 0 was sent to the car", file=sys.stderr)
        return
    finally:
        sink.close()
    print(f"drive_agent: {stats.frames} frames, commands {dict(stats.commands)}")


def _camera(loop: DriveLoop, args: argparse.Namespace) -> OpenCVSource | PiCameraSource:
    from drive_agent.camera import open_camera

    return open_camera(args.camera, loop.card.input.width, loop.card.input.height, read_timeout=args.stall_timeout)


def _run_donkeycar(loop: DriveLoop, args: argparse.Namespace) -> None:
    from drive_agent.targets.car import FolderSource, FrameSource
    from drive_agent.targets.donkeycar import CalibrationError, load_calibration, run_donkeycar

    if args.donkey_config is None:
        raise CliError("--target donkeycar needs --donkey-config (write one with `drive_agent calibrate`)")
    try:
        calibration = load_calibration(args.donkey_config)
    except CalibrationError as exc:
        raise CliError(str(exc)) from exc
    source: FrameSource = FolderSource(args.frames, fps=args.fps) if args.frames is not None else _camera(loop, args)
    try:
        stats = run_donkeycar(loop, source, calibration, args.frame_timeout, args.max_frame_age)
    except KeyboardInterrupt:
        print("drive_agent: interrupted; throttle at THROTTLE_STOPPED_PWM", file=sys.stderr)
        return
    print(f"drive_agent: {stats.frames} frames, commands {dict(stats.commands)}")


def _run_deepracer(loop: DriveLoop, args: argparse.Namespace) -> None:
    if not args.car_ip or not args.car_password:
        raise CliError("--target deepracer needs --car-ip and --car-password (or DEEPRACER_PASSWORD)")
    if not 0.0 < args.max_speed <= 1.0:
        raise CliError(f"--max-speed must be in (0, 1], got {args.max_speed}")
    from drive_agent.targets.deepracer import DeepRacerOptions, run_deepracer

    options = DeepRacerOptions(max_speed=args.max_speed, throttle_scale=args.throttle_scale,
                               frame_timeout=args.frame_timeout, stall_timeout=args.stall_timeout,
                               max_frame_age=args.max_frame_age)
    try:
        run_deepracer(loop, args.car_ip, args.car_password, options, timeout=args.car_timeout)
    except KeyboardInterrupt:
        print("drive_agent: interrupted; the car was told to stop", file=sys.stderr)


def _run_sim(loop: DriveLoop, args: argparse.Namespace) -> None:
    if not args.track:
        raise CliError("--target sim needs --track NAME")
    from drive_agent.targets.sim import SimOutputs, drive_sim

    variation = None
    if args.vary or args.seed is not None:
        from drive_agent.evaluation import TrialVariation, new_seed

        variation = TrialVariation(seed=new_seed() if args.seed is None else args.seed)
        print(f"trials varied (start, steering noise, lighting) with seed {variation.seed}: "
              f"--seed {variation.seed} drives them again", flush=True)
    drive_sim(loop, args.track, trials=args.trials, laps=args.laps, max_time_s=args.max_time,
              outputs=SimOutputs(frames_dir=args.frames_dir, gif=args.gif, plot=args.plot, out_dir=args.out),
              variation=variation)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["calibrate"]:
        from drive_agent.calibrate import main as calibrate

        return calibrate(argv[1:])
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return run(args)
    except (CliError, FetchError, ModelCardError, ModelRuntimeError, FileNotFoundError, RuntimeError) as exc:
        print(f"drive_agent: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        print(f"drive_agent: error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
