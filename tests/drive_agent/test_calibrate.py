"""`drive_agent calibrate`: scripted key presses nudge the servo and the ESC on a fake I2C bus under
Adafruit's real PCA9685 driver, record the PWM values and write a calibration file the donkeycar
target reads; the ESC ends on its stopped pulse on every way out."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from itertools import groupby
from pathlib import Path

import pytest

from drive_agent.calibrate import calibrate
from drive_agent.targets.donkeycar import DonkeyCalibration, PCA9685Actuator, load_calibration
from tests.drive_agent.fake_i2c import FakeI2C, read_log
from tests.support.paths import ROOT

pytest.importorskip("adafruit_pca9685", reason="calibrate needs the agent-donkeycar extra")

SESSION = """+ + +
l
300
< <
r
c
throttle
n
+ + + + + > >
f
steering
throttle
- - - - - - - - - - -
b
w
"""


def changes(values: list[int]) -> list[int]:
    return [v for v, _ in groupby(values)]


def run_calibrate(log: Path, *args: str, stdin: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tests.drive_agent.fake_i2c", str(log), "--", "calibrate", *args],
                          cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, input=stdin, capture_output=True,
                          text=True, timeout=60)


def test_a_scripted_session_writes_the_values_it_drove(tmp_path: Path) -> None:
    log, out = tmp_path / "pwm.jsonl", tmp_path / "car.toml"
    proc = run_calibrate(log, "--out", str(out), "--steering-channel", "2", "--throttle-channel", "5",
                         stdin=SESSION)
    assert proc.returncode == 0, proc.stderr
    writes = read_log(log)
    assert {w.channel for w in writes} == {2, 5}
    steering = changes([w.off for w in writes if w.channel == 2])
    throttle = changes([w.off for w in writes if w.channel == 5])
    assert steering == [375, 385, 395, 405, 300, 299, 298, 352]  # centre of 405 and 298
    assert throttle == [370, 380, 390, 400, 410, 420, 421, 422, 370, *range(360, 250, -10), 370]
    cal = load_calibration(out)
    assert (cal.STEERING_LEFT_PWM, cal.STEERING_RIGHT_PWM) == (405, 298)
    assert (cal.THROTTLE_FORWARD_PWM, cal.THROTTLE_STOPPED_PWM, cal.THROTTLE_REVERSE_PWM) == (422, 370, 260)
    assert (cal.STEERING_CHANNEL, cal.THROTTLE_CHANNEL, cal.PCA9685_I2C_ADDR) == (2, 5, 0x40)
    assert f"wrote {out}" in proc.stdout and "  STEERING_LEFT_PWM = 405" in proc.stdout


@pytest.mark.parametrize("last", ["w", "q"])
def test_the_esc_ends_on_the_stopped_pulse_found_in_the_session(tmp_path: Path, last: str) -> None:
    """A new neutral (here 385, the start's is 370) is where the ESC is left when the tool exits,
    written or not: 370 would now be slightly reverse."""
    log, out = tmp_path / "pwm.jsonl", tmp_path / "car.toml"
    proc = run_calibrate(log, "--out", str(out), stdin=f"throttle\n385 n\n480 f\n260 b\n{last}\n")
    assert proc.returncode == (0 if last == "w" else 1), proc.stderr
    throttle = changes([w.off for w in read_log(log) if w.channel == 0])
    assert throttle == [370, 385, 480, 260, 385]


def test_end_of_input_mid_throttle_stops_the_esc_and_writes_nothing(tmp_path: Path) -> None:
    log, out = tmp_path / "pwm.jsonl", tmp_path / "car.toml"
    proc = run_calibrate(log, "--out", str(out), stdin="throttle\n+ + + + +\n")
    assert proc.returncode == 1
    throttle = changes([w.off for w in read_log(log) if w.channel == 0])
    assert throttle == [370, 380, 390, 400, 410, 420, 370]
    assert not out.exists()


def test_an_impossible_calibration_is_refused_and_the_session_goes_on(tmp_path: Path) -> None:
    bus, out_path, out = FakeI2C(), tmp_path / "car.json", io.StringIO()
    start = DonkeyCalibration()
    actuator = PCA9685Actuator(start, i2c=bus)
    written = calibrate(actuator, start, out_path, ["throttle\n", "600 n\n", "w\n", "380 n\n", "w\n"], out)
    assert written and load_calibration(out_path).THROTTLE_STOPPED_PWM == 380
    assert "not written: THROTTLE_STOPPED_PWM 600 must lie between" in out.getvalue()
    assert bus.pulses(0)[-1] == 380


def test_starts_from_a_donkeycar_myconfig_and_keeps_unrecorded_values(tmp_path: Path) -> None:
    myconfig = tmp_path / "myconfig.py"
    myconfig.write_text("STEERING_CHANNEL = 0\nTHROTTLE_CHANNEL = 4\nSTEERING_LEFT_PWM = 470\n"
                        "STEERING_RIGHT_PWM = 280\nTHROTTLE_FORWARD_PWM = 510\nTHROTTLE_STOPPED_PWM = 375\n"
                        "THROTTLE_REVERSE_PWM = 230\n")
    log, out = tmp_path / "pwm.jsonl", tmp_path / "car.toml"
    proc = run_calibrate(log, "--from", str(myconfig), "--out", str(out), "--step", "5",
                         stdin="+ l\nunknown\nw\n")
    assert proc.returncode == 0, proc.stderr
    assert "unknown key 'unknown'" in proc.stdout
    cal = load_calibration(out)
    assert (cal.STEERING_CHANNEL, cal.THROTTLE_CHANNEL) == (0, 4)
    assert cal.STEERING_LEFT_PWM == 380  # centre of 470/280 is 375, +5
    assert (cal.STEERING_RIGHT_PWM, cal.THROTTLE_FORWARD_PWM, cal.THROTTLE_STOPPED_PWM) == (280, 510, 375)
    assert changes([w.off for w in read_log(log) if w.channel == 4]) == [375]


def test_quit_writes_nothing(tmp_path: Path) -> None:
    bus, out = FakeI2C(), io.StringIO()
    start = DonkeyCalibration()
    lines = ["throttle +\n", "q\n", "w\n"]
    assert not calibrate(PCA9685Actuator(start, i2c=bus), start, tmp_path / "x.toml", lines, out)
    assert "quit: nothing written" in out.getvalue() and not (tmp_path / "x.toml").exists()
    assert bus.pulses(0)[-1] == 370


def test_without_an_i2c_bus_it_says_so(tmp_path: Path) -> None:
    if Path("/dev/i2c-1").exists():
        pytest.skip("this machine has an I2C bus 1")
    proc = subprocess.run([sys.executable, "-m", "drive_agent", "calibrate", "--out", str(tmp_path / "c.toml")],
                          cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, input="", capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith("drive_agent calibrate: error: cannot open I2C bus 1:")
