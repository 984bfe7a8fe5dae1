"""`--target donkeycar`: a donkeycar-style RC car on a Raspberry Pi (or Jetson).

Frames come from the Pi camera (picamera2) or an OpenCV camera (`drive_agent.camera`); the
steering servo and the ESC are driven through a PCA9685 board over I2C with Adafruit's
CircuitPython driver (optional extra `agent-donkeycar`), using donkeycar's calibration values.
The control loop, latency report and safety are the car target's (`targets.car.run_car`): the
watchdog sends THROTTLE_STOPPED_PWM when frames stop for `--frame-timeout`, a late frame gets it
too, and every way out (the camera ending or stalling, Ctrl-C, SIGTERM, an error) ends with it.

Pulses are donkeycar's: 12-bit PCA9685 counts at 60 Hz (a 1.5 ms neutral pulse is about 370).
Donkeycar's mapping: angle -1..1 goes linearly from STEERING_LEFT_PWM to STEERING_RIGHT_PWM;
throttle 0..1 from THROTTLE_STOPPED_PWM to THROTTLE_FORWARD_PWM and -1..0 from
THROTTLE_REVERSE_PWM to THROTTLE_STOPPED_PWM.

The calibration file (`drive_agent calibrate` writes one) is TOML or JSON with donkeycar's
myconfig.py names, or a donkeycar myconfig.py itself (read as literals, never executed):
STEERING_LEFT_PWM, STEERING_RIGHT_PWM, THROTTLE_FORWARD_PWM, THROTTLE_STOPPED_PWM,
THROTTLE_REVERSE_PWM, STEERING_CHANNEL (1), THROTTLE_CHANNEL (0), PCA9685_I2C_ADDR (0x40),
PCA9685_I2C_BUSNUM (1), PWM_FREQUENCY (60), STEERING_INVERTED/THROTTLE_INVERTED; donkeycar 5's
PWM_STEERING_THROTTLE dict (pins "PCA9685.<bus>:<hex address>.<channel>") is read too.
"""

from __future__ import annotations

import ast
import contextlib
import json
import logging
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from drive_agent.loop import DriveLoop
from drive_agent.model_card import ModelCard
from drive_agent.targets.car import CarRunStats, FrameSource, interrupt_on_signals, run_car, signals_held
from drive_agent.targets.deepracer import steering_sign

log = logging.getLogger(__name__)

DEFAULT_FREQUENCY_HZ = 60  # donkeycar's pulses are counts at 60 Hz
PULSE_NAMES = ("STEERING_LEFT_PWM", "STEERING_RIGHT_PWM", "THROTTLE_FORWARD_PWM", "THROTTLE_STOPPED_PWM",
               "THROTTLE_REVERSE_PWM")
ESC_ARM_S = 0.1  # neutral before the first command: ESCs arm on it (donkeycar waits 0.1 s too)


class CalibrationError(ValueError):
    """A calibration file that cannot be read or holds impossible values; the message says which."""


@dataclass(frozen=True)
class DonkeyCalibration:
    STEERING_LEFT_PWM: int = 460
    STEERING_RIGHT_PWM: int = 290
    THROTTLE_FORWARD_PWM: int = 500
    THROTTLE_STOPPED_PWM: int = 370
    THROTTLE_REVERSE_PWM: int = 220
    STEERING_CHANNEL: int = 1
    THROTTLE_CHANNEL: int = 0
    PCA9685_I2C_ADDR: int = 0x40
    PCA9685_I2C_BUSNUM: int = 1
    PWM_FREQUENCY: int = DEFAULT_FREQUENCY_HZ
    STEERING_INVERTED: bool = False
    THROTTLE_INVERTED: bool = False

    def __post_init__(self) -> None:
        for name in PULSE_NAMES:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 4096:
                raise CalibrationError(f"{name} must be a whole number of PCA9685 counts 1..4095, got {value!r}")
        for name in ("STEERING_CHANNEL", "THROTTLE_CHANNEL"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 15:
                raise CalibrationError(f"{name} must be a PCA9685 channel 0..15, got {value!r}")
        if self.STEERING_CHANNEL == self.THROTTLE_CHANNEL:
            raise CalibrationError(f"STEERING_CHANNEL and THROTTLE_CHANNEL are both {self.STEERING_CHANNEL}")
        if not 0x03 <= self.PCA9685_I2C_ADDR <= 0x77:
            raise CalibrationError(f"PCA9685_I2C_ADDR must be a 7-bit I2C address, got {self.PCA9685_I2C_ADDR!r}")
        if not isinstance(self.PCA9685_I2C_BUSNUM, int) or self.PCA9685_I2C_BUSNUM < 0:
            raise CalibrationError(f"PCA9685_I2C_BUSNUM must be a bus number, got {self.PCA9685_I2C_BUSNUM!r}")
        if not 24 <= self.PWM_FREQUENCY <= 1526:
            raise CalibrationError(f"PWM_FREQUENCY must be 24..1526 Hz (the PCA9685's range), got {self.PWM_FREQUENCY}")
        lo, hi = sorted((self.THROTTLE_REVERSE_PWM, self.THROTTLE_FORWARD_PWM))
        if not lo <= self.THROTTLE_STOPPED_PWM <= hi:
            raise CalibrationError(
                f"THROTTLE_STOPPED_PWM {self.THROTTLE_STOPPED_PWM} must lie between THROTTLE_REVERSE_PWM "
                f"{self.THROTTLE_REVERSE_PWM} and THROTTLE_FORWARD_PWM {self.THROTTLE_FORWARD_PWM}")

    def steering_pulse(self, angle: float) -> int:
        """donkeycar's PWMSteering: -1 (full left) .. +1 (full right)."""
        angle = max(-1.0, min(1.0, -angle if self.STEERING_INVERTED else angle))
        return _map_range(angle, -1.0, 1.0, self.STEERING_LEFT_PWM, self.STEERING_RIGHT_PWM)

    def throttle_pulse(self, throttle: float) -> int:
        """donkeycar's PWMThrottle: forward above 0, reverse below, STOPPED at 0."""
        throttle = max(-1.0, min(1.0, -throttle if self.THROTTLE_INVERTED else throttle))
        if throttle > 0:
            return _map_range(throttle, 0.0, 1.0, self.THROTTLE_STOPPED_PWM, self.THROTTLE_FORWARD_PWM)
        return _map_range(throttle, -1.0, 0.0, self.THROTTLE_REVERSE_PWM, self.THROTTLE_STOPPED_PWM)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _map_range(x: float, x_min: float, x_max: float, y_min: int, y_max: int) -> int:
    return round(y_min + (x - x_min) * (y_max - y_min) / (x_max - x_min))


def _parse_pin(name: str, pin: Any) -> tuple[int, int, int]:
    """donkeycar 5 pin spec "PCA9685.<bus>:<hex address>.<channel>" -> (bus, address, channel)."""
    text = str(pin)
    try:
        provider, rest = text.split(".", 1)
        bus, rest = rest.split(":", 1)
        address, channel = rest.split(".", 1)
        if provider.upper() != "PCA9685":
            raise ValueError
        return int(bus), int(address, 16), int(channel)
    except ValueError:
        raise CalibrationError(f"{name} {text!r} is not a PCA9685 pin like \"PCA9685.1:40.1\"") from None


def _from_mapping(values: dict[str, Any], source: str) -> DonkeyCalibration:
    values = dict(values)
    nested = values.pop("PWM_STEERING_THROTTLE", None)
    if isinstance(nested, dict):  # donkeycar 5: these win over the deprecated top-level names
        for name in PULSE_NAMES:
            if name in nested:
                values[name] = nested[name]
        for key, target in (("PWM_STEERING_INVERTED", "STEERING_INVERTED"),
                            ("PWM_THROTTLE_INVERTED", "THROTTLE_INVERTED")):
            if key in nested:
                values[target] = nested[key]
        pins = {}
        for key, channel_name in (("PWM_STEERING_PIN", "STEERING_CHANNEL"), ("PWM_THROTTLE_PIN", "THROTTLE_CHANNEL")):
            if key in nested:
                bus, address, channel = _parse_pin(key, nested[key])
                pins[key] = (bus, address)
                values[channel_name] = channel
                values["PCA9685_I2C_BUSNUM"], values["PCA9685_I2C_ADDR"] = bus, address
        if len(set(pins.values())) > 1:
            raise CalibrationError(f"{source}: steering and throttle pins on different PCA9685 boards "
                                   f"({pins}) are not supported")
    known = set(DonkeyCalibration.__dataclass_fields__)
    picked = {k: v for k, v in values.items() if k in known}
    if picked.get("PCA9685_I2C_BUSNUM", 1) is None:  # donkeycar's "auto": bus 1 on a Pi
        picked["PCA9685_I2C_BUSNUM"] = 1
    missing = [n for n in PULSE_NAMES if n not in picked]
    if missing:
        raise CalibrationError(f"{source} lacks {', '.join(missing)} (run `drive_agent calibrate`)")
    try:
        return DonkeyCalibration(**picked)
    except TypeError as exc:
        raise CalibrationError(f"{source}: {exc}") from exc


def _literal_assignments(text: str, source: str) -> dict[str, Any]:
    """NAME = literal assignments of a myconfig.py (its comments and other code are ignored)."""
    try:
        tree = ast.parse(text, filename=source)
    except SyntaxError as exc:
        raise CalibrationError(f"{source} line {exc.lineno}: {exc.msg}") from exc
    values: dict[str, Any] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            with contextlib.suppress(ValueError):
                values[node.targets[0].id] = ast.literal_eval(node.value)
    return values


def load_calibration(path: str | Path) -> DonkeyCalibration:
    """Reads a .toml, .json or donkeycar myconfig.py (.py) calibration file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CalibrationError(f"calibration file {path} not found "
                               f"(run `drive_agent calibrate --out {path}`)") from None
    suffix = path.suffix.lower()
    if suffix == ".py":
        values = _literal_assignments(text, str(path))
    elif suffix == ".json":
        try:
            values = json.loads(text)
        except json.JSONDecodeError as exc:
            raise CalibrationError(f"{path} line {exc.lineno}: {exc.msg}") from exc
    elif suffix == ".toml":
        try:
            import tomllib
        except ImportError:  # Python 3.10
            raise CalibrationError(f"{path}: reading TOML needs Python 3.11; use a .json calibration "
                                   "(drive_agent calibrate --out donkeycar.json)") from None
        try:
            values = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise CalibrationError(f"{path}: {exc}") from exc
    else:
        raise CalibrationError(f"{path}: a calibration file is .toml, .json or a donkeycar myconfig.py")
    if not isinstance(values, dict):
        raise CalibrationError(f"{path} must hold NAME = value pairs")
    return _from_mapping(values, str(path))


def write_calibration(calibration: DonkeyCalibration, path: str | Path) -> None:
    """Writes TOML (or JSON for a .json path) with donkeycar's names."""
    path = Path(path)
    if path.suffix.lower() == ".json":
        path.write_text(json.dumps(calibration.as_dict(), indent=2) + "\n", encoding="utf-8")
        return
    lines = ["# Pitlane drive agent: donkeycar calibration (PCA9685 counts at PWM_FREQUENCY Hz).",
             "# drive_agent --target donkeycar --donkey-config THIS_FILE; names as in donkeycar's myconfig.py."]
    for name, value in calibration.as_dict().items():
        if isinstance(value, bool):
            lines.append(f"{name} = {'true' if value else 'false'}")
        elif name == "PCA9685_I2C_ADDR":
            lines.append(f"{name} = 0x{value:02x}")
        else:
            lines.append(f"{name} = {value}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def open_i2c_bus(busnum: int) -> Any:
    """The Linux I2C bus /dev/i2c-<busnum> as a CircuitPython busio.I2C."""
    try:
        from adafruit_extended_bus import ExtendedI2C
    except ImportError as exc:
        raise RuntimeError("--target donkeycar needs Adafruit's PCA9685 libraries: "
                           "pip install adafruit-circuitpython-pca9685 adafruit-extended-bus") from exc
    try:
        return ExtendedI2C(busnum)
    except (ValueError, OSError) as exc:
        raise RuntimeError(f"cannot open I2C bus {busnum}: {exc} (enable I2C with raspi-config; "
                           f"`i2cdetect -y {busnum}` should show the PCA9685 at 0x40)") from exc


class PCA9685Actuator:
    """Steering servo + ESC on one PCA9685 (Adafruit's CircuitPython driver). `set_pulses` writes
    raw counts; `send` is the car target's command sink (steering/throttle -1..1)."""

    def __init__(self, calibration: DonkeyCalibration, card: ModelCard | None = None, i2c: Any = None) -> None:
        try:
            from adafruit_pca9685 import PCA9685
        except ImportError as exc:
            raise RuntimeError("--target donkeycar needs Adafruit's PCA9685 library: "
                               "pip install adafruit-circuitpython-pca9685") from exc
        self.calibration = calibration
        # donkeycar's angle is + to the right, as a regression model's; an action model's + is left
        self._steering_sign = steering_sign(card) if card is not None else 1.0
        self._i2c = i2c if i2c is not None else open_i2c_bus(calibration.PCA9685_I2C_BUSNUM)
        self._lock = threading.Lock()
        try:
            self._pca = PCA9685(self._i2c, address=calibration.PCA9685_I2C_ADDR)
        except ValueError as exc:  # the driver's "No I2C device at address"
            raise RuntimeError(f"no PCA9685 on I2C bus {calibration.PCA9685_I2C_BUSNUM}: {exc}") from exc
        self._pca.frequency = calibration.PWM_FREQUENCY
        # donkeycar's counts are at 60 Hz; the same pulse width at another frequency is scaled.
        self._scale = calibration.PWM_FREQUENCY / DEFAULT_FREQUENCY_HZ
        self.last_pulses: tuple[int, int] | None = None
        # where stop() and close() leave the ESC (`drive_agent calibrate` moves it to the neutral it finds)
        self.stopped_pulse = calibration.THROTTLE_STOPPED_PWM
        self.set_pulses(calibration.steering_pulse(0.0), calibration.THROTTLE_STOPPED_PWM)

    def set_pulses(self, steering_pulse: int | None, throttle_pulse: int | None) -> None:
        with self._lock:
            if throttle_pulse is not None:
                self._write(self.calibration.THROTTLE_CHANNEL, throttle_pulse)
            if steering_pulse is not None:
                self._write(self.calibration.STEERING_CHANNEL, steering_pulse)
            previous = self.last_pulses or (0, 0)
            self.last_pulses = (steering_pulse if steering_pulse is not None else previous[0],
                                throttle_pulse if throttle_pulse is not None else previous[1])

    def _write(self, channel: int, pulse: int) -> None:
        counts = max(1, min(4095, round(pulse * self._scale)))
        # The driver's 16-bit duty cycle keeps the top 12 bits: counts << 4 is exactly `counts`.
        self._pca.channels[channel].duty_cycle = counts << 4

    def send(self, steering: float, throttle: float, source: str) -> None:
        cal = self.calibration
        self.set_pulses(cal.steering_pulse(steering * self._steering_sign), cal.throttle_pulse(throttle))

    def stop(self) -> None:
        """Throttle to the stopped pulse (THROTTLE_STOPPED_PWM; steering held)."""
        self.set_pulses(None, self.stopped_pulse)

    def close(self) -> None:
        """Leaves the ESC on its neutral pulse (no pulse at all makes some ESCs misbehave) and
        releases the bus."""
        try:
            self.stop()
        finally:
            deinit = getattr(self._i2c, "deinit", None)
            if deinit is not None:
                deinit()


def run_donkeycar(loop: DriveLoop, source: FrameSource, calibration: DonkeyCalibration,
                  frame_timeout: float = 0.25, max_frame_age: float = 0.15,
                  stop: threading.Event | None = None, i2c: Any = None) -> CarRunStats:
    """Drive until the camera ends (or stalls: CameraError), `stop` is set, Ctrl-C or SIGTERM;
    the ESC is on THROTTLE_STOPPED_PWM on every way out. The camera source is closed."""
    try:
        actuator = PCA9685Actuator(calibration, loop.card, i2c=i2c)
    except BaseException:
        source.close()
        raise
    try:
        with interrupt_on_signals():
            time.sleep(ESC_ARM_S)
            return run_car(loop, source, actuator, frame_timeout, max_frame_age, stop)
    finally:
        with signals_held():
            actuator.close()
