"""`--target donkeycar` through the real agent process, with a fake I2C bus under Adafruit's real
PCA9685 driver (tests/drive_agent/fake_i2c.py) that records every PWM value: the servo and ESC
pulses follow the frames with donkeycar's calibration mapping, and the ESC is at
THROTTLE_STOPPED_PWM on a stalled stream, Ctrl-C, SIGTERM, an I2C error and at the end."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from drive_agent.loop import DriveLoop
from drive_agent.model_card import load_model_card
from drive_agent.runtime import TFLiteModel
from drive_agent.speed import OpenLoopThrottle
from drive_agent.targets.car import FolderSource, fit_to_card
from drive_agent.targets.donkeycar import (
    CalibrationError,
    DonkeyCalibration,
    load_calibration,
    run_donkeycar,
    write_calibration,
)
from tests.drive_agent.fake_i2c import FakeI2C, PwmWrite, read_log
from tests.drive_agent.mjpeg_stream import MjpegServer, StreamScript, recorded_sequence
from tests.support.paths import ROOT
from tests.support.tiny_models import rl_model_files, steering_model_files

pytest.importorskip("adafruit_pca9685", reason="the donkeycar target needs the agent-donkeycar extra")

CAL = DonkeyCalibration(STEERING_LEFT_PWM=480, STEERING_RIGHT_PWM=300, THROTTLE_FORWARD_PWM=520,
                        THROTTLE_STOPPED_PWM=380, THROTTLE_REVERSE_PWM=240, STEERING_CHANNEL=3,
                        THROTTLE_CHANNEL=7)
N_FRAMES = 20


@pytest.fixture(scope="module")
def jpegs() -> list[bytes]:
    return recorded_sequence(N_FRAMES)


@pytest.fixture
def frames_dir(tmp_path: Path, jpegs: list[bytes]) -> Path:
    folder = tmp_path / "frames"
    folder.mkdir()
    for i, jpeg in enumerate(jpegs):
        (folder / f"{i:03d}.jpg").write_bytes(jpeg)
    return folder


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "donkeycar.toml"
    write_calibration(CAL, path)
    return path


def expected_steering(model: Path, jpegs: list[bytes]) -> list[float]:
    card = load_model_card(model.with_name("model_card.json"))
    loop = DriveLoop(TFLiteModel(model, card))
    out = []
    for jpeg in jpegs:
        frame = np.asarray(Image.open(io.BytesIO(jpeg)).convert("RGB"))
        out.append(loop.step(fit_to_card(frame, card), None).steering)
    return out


def agent(log: Path, *args: str, fail: tuple[int, int] | None = None) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
    failing = ["--fail-after", str(fail[0]), "--fail-writes", str(fail[1])] if fail else []
    return subprocess.Popen([sys.executable, "-m", "tests.drive_agent.fake_i2c", str(log), *failing, "--", *args],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def donkey_args(model: Path, config: Path, *extra: str) -> list[str]:
    return ["--model-file", str(model), "--target", "donkeycar", "--donkey-config", str(config),
            "--throttle", "0.4", "--max-frame-age", "1.0", "--frame-timeout", "0.25", *extra]


def channel(writes: list[PwmWrite], ch: int) -> list[int]:
    assert all(w.on == 0 for w in writes)
    return [w.off for w in writes if w.channel == ch]


def wait_for(condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the agent")
        time.sleep(0.05)


def test_pulses_follow_the_frames_with_donkeycars_mapping(tmp_path, tiny_models, frames_dir, config, jpegs) -> None:
    model = steering_model_files(tiny_models)[0]
    log = tmp_path / "pwm.jsonl"
    proc = agent(log, *donkey_args(model, config, "--frames", str(frames_dir), "--fps", "20"))
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    writes = read_log(log)
    steering, throttle = channel(writes, 3), channel(writes, 7)
    assert {w.channel for w in writes} == {3, 7}
    expected = [CAL.steering_pulse(s) for s in expected_steering(model, jpegs)]
    assert len(set(expected)) > 5, "the recorded frames steer differently"
    # centred and neutral while the ESC arms, then one servo pulse per frame, in order
    assert steering[0] == 390 and throttle[0] == 380
    model_steering = steering[1:1 + N_FRAMES]
    assert model_steering == expected
    # 0.4 forward: 380 + 0.4 x (520 - 380); watchdog/late would be 380
    assert throttle[1:1 + N_FRAMES] == [436] * N_FRAMES
    assert throttle[-1] == 380 and throttle.count(380) >= 2
    assert "latency over 20 frames" in out and f"'model': {N_FRAMES}" in out


def test_stalled_stream_puts_the_esc_on_stopped_then_drives_on(tmp_path, tiny_models, config, jpegs) -> None:
    model = steering_model_files(tiny_models)[0]
    server = MjpegServer(jpegs, StreamScript(fps=20, stall_at=8, stall_s=1.0))
    log = tmp_path / "pwm.jsonl"
    try:
        proc = agent(log, *donkey_args(model, config, "--camera", server.url, "--stall-timeout", "3"))
        out, err = proc.communicate(timeout=60)
    finally:
        server.stop()
    assert proc.returncode == 0, err
    sent = {s.index: s.wall for s in server.sent}
    throttle = [w for w in read_log(log) if w.channel == 7]
    in_stall = [w.off for w in throttle if sent[7] + 0.2 < w.wall < sent[8]]
    assert in_stall and set(in_stall) == {380}, "only THROTTLE_STOPPED_PWM while no frame comes"
    assert any(w.off == 436 for w in throttle if w.wall > sent[8]), "driving resumes with the stream"
    assert throttle[-1].off == 380


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_and_sigterm_leave_the_esc_stopped(tmp_path, tiny_models, config, jpegs, sig) -> None:
    model = steering_model_files(tiny_models)[0]
    server = MjpegServer(jpegs * 20, StreamScript(fps=20))
    log = tmp_path / "pwm.jsonl"
    try:
        proc = agent(log, *donkey_args(model, config, "--camera", server.url))
        wait_for(lambda: sum(w.channel == 7 and w.off == 436 for w in read_log(log)) >= 5)
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=30)
    finally:
        server.stop()
    assert proc.returncode == 0, err
    assert "interrupted; throttle at THROTTLE_STOPPED_PWM" in err and "Traceback" not in err
    throttle = channel(read_log(log), 7)
    assert throttle[-1] == 380
    assert "latency over" in out


def test_an_i2c_error_ends_the_drive_with_the_esc_stopped(tmp_path, tiny_models, frames_dir, config) -> None:
    model = steering_model_files(tiny_models)[0]
    log = tmp_path / "pwm.jsonl"
    # set-up and arming take 7 writes; the 11th write (a frame's command) fails once
    proc = agent(log, *donkey_args(model, config, "--frames", str(frames_dir), "--fps", "20"), fail=(10, 1))
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert err.strip().splitlines()[-1] == "drive_agent: error: Input/output error"
    throttle = channel(read_log(log), 7)
    assert 436 in throttle and throttle[-1] == 380


def test_no_i2c_bus_is_a_clear_error(tmp_path, tiny_models, frames_dir, config) -> None:
    model = steering_model_files(tiny_models)[0]
    if Path("/dev/i2c-1").exists():
        pytest.skip("this machine has an I2C bus 1")
    args = donkey_args(model, config, "--frames", str(frames_dir))
    proc = subprocess.run([sys.executable, "-m", "drive_agent", *args], cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith("drive_agent: error: cannot open I2C bus 1:")


def test_missing_or_bad_config_is_one_line(tmp_path, tiny_models, frames_dir) -> None:
    model = steering_model_files(tiny_models)[0]
    bad = tmp_path / "bad.toml"
    bad.write_text("STEERING_LEFT_PWM = 460\nSTEERING_RIGHT_PWM = 290\nTHROTTLE_FORWARD_PWM = 500\n"
                   "THROTTLE_STOPPED_PWM = 600\nTHROTTLE_REVERSE_PWM = 220\n")
    for config, message in [(tmp_path / "none.toml", "not found"),
                            (bad, "THROTTLE_STOPPED_PWM 600 must lie between")]:
        proc = agent(tmp_path / "pwm.jsonl", *donkey_args(model, config, "--frames", str(frames_dir)))
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 2 and message in err and "Traceback" not in err
    assert not (tmp_path / "pwm.jsonl").exists(), "nothing was driven"


def test_action_models_steer_with_donkeycars_sign(tiny_models, frames_dir) -> None:
    """An action model's + steering is left (DeepRacer degrees); donkeycar's + angle is right."""
    model, card_path = rl_model_files(tiny_models)
    card = load_model_card(card_path)
    bus = FakeI2C()
    loop = DriveLoop(TFLiteModel(model, card), OpenLoopThrottle(throttle=0.5, set_speed=1.2))
    stats = run_donkeycar(loop, FolderSource(frames_dir, fps=50), CAL, frame_timeout=1.0, max_frame_age=1.0, i2c=bus)
    check = DriveLoop(TFLiteModel(model, card))
    expected = []
    for path in sorted(frames_dir.iterdir()):
        step = check.step(fit_to_card(np.asarray(Image.open(path).convert("RGB")), card), None)
        expected.append((CAL.steering_pulse(-step.steering), step.prediction.speed))
    assert stats.frames == N_FRAMES
    assert bus.pulses(3)[1:1 + N_FRAMES] == [p for p, _ in expected]
    # throttle follows the action's speed: 0.5 x speed / 1.2 forward
    assert bus.pulses(7)[1:1 + N_FRAMES] == [CAL.throttle_pulse(0.5 * s / 1.2) for _, s in expected]
    assert bus.frequency_hz == pytest.approx(60, abs=0.5) and bus.deinited


def test_calibration_files_toml_json_and_donkeycar_myconfig(tmp_path) -> None:
    for name in ("c.toml", "c.json"):
        write_calibration(CAL, tmp_path / name)
        assert load_calibration(tmp_path / name) == CAL
    assert "PCA9685_I2C_ADDR = 0x40" in (tmp_path / "c.toml").read_text()
    legacy = tmp_path / "myconfig.py"  # donkeycar 4: top-level names; literals only, never executed
    legacy.write_text("import os\nos.system('touch PWNED')\nSTEERING_CHANNEL = 0\nSTEERING_LEFT_PWM = 470\n"
                      "STEERING_RIGHT_PWM = 280  # right\nTHROTTLE_CHANNEL = 4\nTHROTTLE_FORWARD_PWM = 510\n"
                      "THROTTLE_STOPPED_PWM = 375\nTHROTTLE_REVERSE_PWM = 230\nPCA9685_I2C_ADDR = 0x41\n"
                      "PCA9685_I2C_BUSNUM = None\nDRIVE_LOOP_HZ = 20\n")
    cal = load_calibration(legacy)
    assert not (tmp_path / "PWNED").exists() and not Path("PWNED").exists()
    assert (cal.STEERING_CHANNEL, cal.THROTTLE_CHANNEL, cal.STEERING_LEFT_PWM, cal.PCA9685_I2C_ADDR,
            cal.PCA9685_I2C_BUSNUM) == (0, 4, 470, 0x41, 1)
    modern = tmp_path / "myconfig5.py"  # donkeycar 5: PWM_STEERING_THROTTLE wins over top-level names
    modern.write_text('STEERING_LEFT_PWM = 1\nPWM_STEERING_THROTTLE = {\n    "PWM_STEERING_PIN": "PCA9685.0:42.5",\n'
                      '    "PWM_STEERING_INVERTED": True,\n    "PWM_THROTTLE_PIN": "PCA9685.0:42.6",\n'
                      '    "STEERING_LEFT_PWM": 455, "STEERING_RIGHT_PWM": 295, "THROTTLE_FORWARD_PWM": 495,\n'
                      '    "THROTTLE_STOPPED_PWM": 372, "THROTTLE_REVERSE_PWM": 225,\n}\n')
    cal = load_calibration(modern)
    assert (cal.PCA9685_I2C_BUSNUM, cal.PCA9685_I2C_ADDR, cal.STEERING_CHANNEL, cal.THROTTLE_CHANNEL) == (0, 0x42, 5, 6)
    assert cal.STEERING_LEFT_PWM == 455 and cal.STEERING_INVERTED
    assert cal.steering_pulse(1.0) == 455  # inverted: +1 goes to the left pulse


def test_donkeycar_mapping_and_refusals() -> None:
    assert (CAL.steering_pulse(-1), CAL.steering_pulse(0), CAL.steering_pulse(1)) == (480, 390, 300)
    assert (CAL.throttle_pulse(-1), CAL.throttle_pulse(0), CAL.throttle_pulse(0.5), CAL.throttle_pulse(1)) == (
        240, 380, 450, 520)
    assert CAL.steering_pulse(7.0) == 300 and CAL.throttle_pulse(-3) == 240  # clamped to -1..1
    for bad, message in [({"STEERING_LEFT_PWM": 5000}, "STEERING_LEFT_PWM must be"),
                         ({"STEERING_CHANNEL": 7}, "both 7"),
                         ({"THROTTLE_CHANNEL": 16}, "channel 0..15"),
                         ({"PWM_FREQUENCY": 5}, "PWM_FREQUENCY")]:
        with pytest.raises(CalibrationError, match=message):
            DonkeyCalibration(**{**CAL.as_dict(), **bad})
