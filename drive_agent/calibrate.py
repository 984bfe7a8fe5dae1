"""`drive_agent calibrate`: find a donkeycar-style car's PWM values and write its calibration file.

Put the car on a stand with its wheels off the ground. The tool drives the PCA9685 directly and
reads one line at a time (so it works over SSH and from a script); a line holds one or more keys:

  +  -        nudge the current channel's pulse by --step counts (default 10)
  >  <        nudge it by 1 count
  NUMBER      set the pulse (PCA9685 counts at 60 Hz; about 370 is a 1.5 ms neutral pulse)
  steering    nudge the steering servo (the start)     throttle   nudge the ESC (starts at stopped)
  l  r        steering: this pulse is full left / full right
  c           steering: go to the centre between left and right
  n  f  b     throttle: this pulse is stopped (neutral) / full forward / full reverse (back)
  w           write the calibration file and quit      q          quit without writing
  ?           this help

The ESC is put back to the stopped pulse whenever you leave the throttle and on every way out
(q, end of input, Ctrl-C, an error). Many ESCs need reverse, neutral, reverse before they back up.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any, TextIO

from drive_agent.targets.donkeycar import (
    CalibrationError,
    DonkeyCalibration,
    PCA9685Actuator,
    load_calibration,
    write_calibration,
)

TOKEN = re.compile(r"\d+|[+\-<>?]|[A-Za-z]+")
RECORD = {"steering": {"l": "STEERING_LEFT_PWM", "r": "STEERING_RIGHT_PWM"},
          "throttle": {"n": "THROTTLE_STOPPED_PWM", "f": "THROTTLE_FORWARD_PWM", "b": "THROTTLE_REVERSE_PWM"}}
MAX_COUNTS = 4095


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="drive_agent calibrate", description=__doc__.splitlines()[0],
                                epilog="\n".join(__doc__.splitlines()[2:]),
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=Path("donkeycar.toml"),
                   help="calibration file to write (.toml or .json; default %(default)s)")
    p.add_argument("--from", dest="start_from", type=Path,
                   help="start from this calibration or donkeycar myconfig.py (default: --out if it exists)")
    p.add_argument("--bus", type=int, help="I2C bus number (default 1)")
    p.add_argument("--address", type=lambda s: int(s, 0), help="PCA9685 I2C address (default 0x40)")
    p.add_argument("--steering-channel", type=int, help="PCA9685 channel of the servo (default 1)")
    p.add_argument("--throttle-channel", type=int, help="PCA9685 channel of the ESC (default 0)")
    p.add_argument("--frequency", type=int, help="PWM frequency in Hz (default 60, donkeycar's)")
    p.add_argument("--step", type=int, default=10, help="counts per + or - (default 10)")
    return p


class Calibrator:
    """The key handling, separate from the terminal: `handle(line)` returns False to quit."""

    def __init__(self, actuator: PCA9685Actuator, start: DonkeyCalibration, out_path: Path, step: int,
                 out: TextIO) -> None:
        self.actuator, self.out_path, self.step, self.out = actuator, out_path, step, out
        self.values: dict[str, Any] = start.as_dict()
        self.recorded: set[str] = set()
        self.channel = "steering"
        self.pulses = {"steering": start.steering_pulse(0.0), "throttle": start.THROTTLE_STOPPED_PWM}
        self.written = False
        self._apply()

    def _apply(self) -> None:
        self.actuator.set_pulses(self.pulses["steering"], self.pulses["throttle"])

    def _set(self, pulse: int) -> None:
        self.pulses[self.channel] = max(1, min(MAX_COUNTS, pulse))
        self._apply()

    def status(self) -> str:
        def show(name: str) -> str:
            mark = "" if name in self.recorded else "?"
            return f"{name.split('_')[1].lower()} {self.values[name]}{mark}"

        steering = ", ".join(show(n) for n in RECORD["steering"].values())
        throttle = ", ".join(show(n) for n in RECORD["throttle"].values())
        return (f"[{self.channel}] steering pulse {self.pulses['steering']}, throttle pulse {self.pulses['throttle']}"
                f"   (steering: {steering}; throttle: {throttle})")

    def handle(self, line: str) -> bool:
        for token in TOKEN.findall(line):
            if not self._key(token):
                return False
        print(self.status(), file=self.out, flush=True)
        return True

    def _key(self, key: str) -> bool:
        pulse = self.pulses[self.channel]
        if key.isdigit():
            self._set(int(key))
        elif key in "+-":
            self._set(pulse + (self.step if key == "+" else -self.step))
        elif key in "<>":
            self._set(pulse + (1 if key == ">" else -1))
        elif key in ("steering", "throttle"):
            self.channel = key
            if key == "steering":  # leaving the ESC: stop it
                self.pulses["throttle"] = self.values["THROTTLE_STOPPED_PWM"]
            self._apply()
        elif key in RECORD[self.channel]:
            name = RECORD[self.channel][key]
            self.values[name] = pulse
            self.recorded.add(name)
            if name == "THROTTLE_STOPPED_PWM":  # the ESC is left here on every way out
                self.actuator.stopped_pulse = pulse
        elif key == "c" and self.channel == "steering":
            self._set(round((self.values["STEERING_LEFT_PWM"] + self.values["STEERING_RIGHT_PWM"]) / 2))
        elif key == "w":
            return not self._write()
        elif key in ("q", "quit"):
            print("quit: nothing written", file=self.out)
            return False
        elif key in ("?", "h", "help"):
            print(__doc__.split("\n\n", 2)[1], file=self.out)
        else:
            print(f"unknown key {key!r} ({'l r c' if self.channel == 'steering' else 'n f b'} record here; "
                  "? for help)", file=self.out)
        return True

    def _write(self) -> bool:
        try:
            calibration = DonkeyCalibration(**self.values)
        except CalibrationError as exc:
            print(f"not written: {exc}", file=self.out)
            return False
        write_calibration(calibration, self.out_path)
        self.written = True
        print(f"wrote {self.out_path}; for donkeycar's myconfig.py:", file=self.out)
        for name in (*RECORD["steering"].values(), *RECORD["throttle"].values()):
            print(f"  {name} = {self.values[name]}", file=self.out)
        return True


def calibrate(actuator: PCA9685Actuator, start: DonkeyCalibration, out_path: Path, lines: Iterable[str],
              out: TextIO, step: int = 10) -> bool:
    """Runs the key loop over `lines` (stdin); True when the file was written. The ESC ends on its
    stopped pulse whatever happens."""
    calibrator = Calibrator(actuator, start, out_path, step, out)
    print(calibrator.status(), file=out, flush=True)
    try:
        for line in lines:
            if not calibrator.handle(line):
                break
    finally:
        actuator.stop()
    return calibrator.written


def starting_calibration(args: argparse.Namespace) -> DonkeyCalibration:
    start_from = args.start_from or (args.out if args.out.is_file() else None)
    start = load_calibration(start_from) if start_from is not None else DonkeyCalibration()
    overrides = {name: value for name, value in (
        ("PCA9685_I2C_BUSNUM", args.bus), ("PCA9685_I2C_ADDR", args.address),
        ("STEERING_CHANNEL", args.steering_channel), ("THROTTLE_CHANNEL", args.throttle_channel),
        ("PWM_FREQUENCY", args.frequency)) if value is not None}
    return replace(start, **overrides)


def main(argv: list[str] | None = None, stdin: TextIO | None = None, stdout: TextIO | None = None) -> int:
    args = build_parser().parse_args(argv)
    out = stdout or sys.stdout
    try:
        start = starting_calibration(args)
        actuator = PCA9685Actuator(start)
    except (CalibrationError, RuntimeError, OSError) as exc:
        print(f"drive_agent calibrate: error: {exc}", file=sys.stderr)
        return 2
    print(f"PCA9685 at 0x{start.PCA9685_I2C_ADDR:02x} on I2C bus {start.PCA9685_I2C_BUSNUM}: steering channel "
          f"{start.STEERING_CHANNEL}, ESC channel {start.THROTTLE_CHANNEL}. Wheels off the ground! ? for help.",
          file=out, flush=True)
    try:
        written = calibrate(actuator, start, args.out, stdin or sys.stdin, out, step=args.step)
    except KeyboardInterrupt:
        print("\ninterrupted: nothing written", file=out)
        return 130
    finally:
        actuator.close()
    return 0 if written else 1
