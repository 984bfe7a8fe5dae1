"""The OpenCV camera path for real: the agent process (`--target car --camera URL`) reads an MJPEG
stream served by the test from a recorded frame sequence and sends JSON-line commands over UDP.
Its commands follow the frames; a stalled stream and dropped frames make the watchdog zero the
throttle; a stream that stalls for good stops the car and ends the agent with a clear error.
The Pi camera's picamera2 calls are checked against a stand-in (no Pi camera here)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from drive_agent.loop import DriveLoop
from drive_agent.model_card import load_model_card
from drive_agent.runtime import TFLiteModel
from drive_agent.targets.car import fit_to_card
from tests.drive_agent.mjpeg_stream import MjpegServer, StreamScript, recorded_sequence
from tests.support.paths import ROOT
from tests.support.tiny_models import steering_model_files

cv2 = pytest.importorskip("cv2", reason="the camera path needs opencv-python-headless (the agent-camera extra)")

FRAME_TIMEOUT = 0.25
N_FRAMES = 30


@pytest.fixture(scope="module")
def model(tiny_models: Path) -> Path:
    return steering_model_files(tiny_models)[0]


@pytest.fixture(scope="module")
def recorded(model: Path, tmp_path_factory) -> tuple[list[bytes], list[float]]:
    """N_FRAMES recorded frames and the steering the model gives each, decoded by OpenCV's FFmpeg
    as the agent's camera decodes the stream (libjpeg's decode differs by a grey level). Frames
    are picked from a longer drive so that no two steer alike: a command names its frame."""
    card = load_model_card(model.with_name("model_card.json"))
    loop = DriveLoop(TFLiteModel(model, card))
    folder = tmp_path_factory.mktemp("frames")
    frames: list[bytes] = []
    steering: list[float] = []
    for i, jpeg in enumerate(recorded_sequence(4 * N_FRAMES)):
        path = folder / f"{i:03d}.jpg"
        path.write_bytes(jpeg)
        cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
        ok, bgr = cap.read()
        cap.release()
        assert ok
        value = loop.step(fit_to_card(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), card), None).steering
        if all(abs(value - other) > 1e-3 for other in steering):
            frames.append(jpeg)
            steering.append(value)
        if len(frames) == N_FRAMES:
            return frames, steering
    raise AssertionError(f"only {len(frames)} recorded frames steer differently")


@pytest.fixture(scope="module")
def frames(recorded) -> list[bytes]:
    return recorded[0]


@pytest.fixture(scope="module")
def expected(recorded) -> list[float]:
    return recorded[1]


@dataclass
class Commands:
    items: list[dict]

    def of(self, *sources: str) -> list[dict]:
        return [c for c in self.items if c["source"] in sources]

    def frame_indexes(self, expected: list[float]) -> list[int]:
        """The frame each model command answered (nearest expected steering, which must be close)."""
        indexes = []
        for c in self.of("model", "late"):
            distances = np.abs(np.asarray(expected) - c["steering"])
            assert distances.min() < 2e-4, f"command steering {c['steering']} answers no frame"
            indexes.append(int(distances.argmin()))
        return indexes


class UdpListener:
    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.received: list[dict] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    @property
    def address(self) -> str:
        host, port = self.sock.getsockname()
        return f"{host}:{port}"

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.sock.recv(4096)
            except TimeoutError:
                continue
            self.received.append(json.loads(data))

    def close(self) -> Commands:
        self._stop.set()
        self._thread.join()
        self.sock.close()
        return Commands(self.received)


@pytest.fixture
def listener() -> Iterator[UdpListener]:
    udp = UdpListener()
    yield udp
    udp.close()


@pytest.fixture
def serve(frames):
    servers: list[MjpegServer] = []

    def start(script: StreamScript) -> MjpegServer:
        server = MjpegServer(frames, script)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def drive(model: Path, url: str, listener: UdpListener, *extra: str, timeout: float = 60.0):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "drive_agent", "--model-file", str(model), "--target", "car", "--camera", url,
         "--udp", listener.address, "--throttle", "0.4", "--frame-timeout", str(FRAME_TIMEOUT),
         "--max-frame-age", "1.0", *extra],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    return proc, listener.close()


def between(commands: list[dict], start: float, end: float) -> list[dict]:
    return [c for c in commands if start < c["time"] < end]


def test_commands_follow_the_stream(model, serve, listener, expected) -> None:
    server = serve(StreamScript(fps=20))
    proc, commands = drive(model, server.url, listener)
    assert proc.returncode == 0, proc.stderr
    answered = commands.frame_indexes(expected)
    assert answered == sorted(set(answered)), "each command answers a newer frame than the last"
    assert len(answered) >= 0.6 * N_FRAMES and answered[-1] == N_FRAMES - 1
    model_cmds = commands.of("model")
    assert model_cmds and all(c["throttle"] == pytest.approx(0.4) for c in model_cmds)
    first, last = model_cmds[0]["time"], model_cmds[-1]["time"]
    assert not between(commands.of("watchdog"), first, last), "a healthy 20 fps stream never trips the watchdog"
    assert commands.items[-1]["source"] == "stop" and commands.items[-1]["throttle"] == 0.0
    assert f"latency over {len(commands.of('model', 'late'))} frames" in proc.stdout
    # each command leaves after its frame was sent, and soon after
    sent = {s.index: s.wall for s in server.sent}
    delays = [c["time"] - sent[i] for c, i in zip(commands.of("model", "late"), answered, strict=True)]
    assert min(delays) > 0 and np.median(delays) < 0.25


def test_a_stalled_stream_zeroes_throttle_then_driving_resumes(model, serve, listener, expected) -> None:
    server = serve(StreamScript(fps=20, stall_at=12, stall_s=1.2))
    proc, commands = drive(model, server.url, listener, "--stall-timeout", "3")
    assert proc.returncode == 0, proc.stderr
    sent = {s.index: s.wall for s in server.sent}
    before, after = sent[11], sent[12]
    assert after - before >= 1.2
    watchdog = between(commands.of("watchdog"), before, after)
    assert len(watchdog) >= 2 and all(c["throttle"] == 0.0 for c in watchdog)
    # zeroed about frame_timeout after the last frame, held (repeated) through the stall
    assert FRAME_TIMEOUT * 0.8 < watchdog[0]["time"] - before < FRAME_TIMEOUT + 0.4
    assert after - watchdog[-1]["time"] < FRAME_TIMEOUT + 0.4
    assert not between(commands.of("model"), before + 0.5, after), "no throttle during the stall"
    answered = commands.frame_indexes(expected)
    assert answered == sorted(set(answered)) and max(answered) == N_FRAMES - 1
    resumed = [c for c in commands.of("model") if c["time"] > after]
    assert resumed and all(c["throttle"] == pytest.approx(0.4) for c in resumed)
    assert commands.items[-1]["source"] == "stop"


def test_dropped_frames_trip_the_watchdog_only_in_long_gaps(model, serve, listener, expected) -> None:
    long_gap = set(range(8, 16))  # 0.45 s without a frame at 20 fps
    single = {3, 20, 24}  # 0.1 s gaps: shorter than the frame timeout
    server = serve(StreamScript(fps=20, drop=frozenset(long_gap | single)))
    proc, commands = drive(model, server.url, listener)
    assert proc.returncode == 0, proc.stderr
    sent = {s.index: s.wall for s in server.sent}
    assert set(sent) == set(range(N_FRAMES)) - long_gap - single
    watchdog = commands.of("watchdog")
    in_gap = between(watchdog, sent[7], sent[16])
    assert in_gap and all(c["throttle"] == 0.0 for c in in_gap)
    first_model = commands.of("model")[0]["time"]
    assert [c for c in watchdog if c["time"] > first_model] == in_gap, "watchdog only in the long gap"
    answered = commands.frame_indexes(expected)
    assert not set(answered) & (long_gap | single), "never a command for a frame that was not sent"
    assert answered == sorted(set(answered)) and answered[-1] == N_FRAMES - 1


def test_unreadable_frames_are_skipped_and_the_drive_goes_on(model, frames, listener, expected) -> None:
    garbage = {6: b"\xff\xd8" + bytes(range(256)) * 8 + b"\xff\xd9", 17: b"not a jpeg at all"}
    server = MjpegServer([garbage.get(i, jpeg) for i, jpeg in enumerate(frames)], StreamScript(fps=20))
    try:
        proc, commands = drive(model, server.url, listener)
    finally:
        server.stop()
    assert proc.returncode == 0, proc.stderr
    answered = commands.frame_indexes(expected)
    assert not set(answered) & set(garbage) and answered == sorted(set(answered))
    assert max(answered) == N_FRAMES - 1 and any(i > 17 for i in answered)
    assert commands.items[-1]["source"] == "stop"


def test_a_stream_that_stalls_for_good_stops_the_car(model, serve, listener) -> None:
    server = serve(StreamScript(fps=20, close_at_end=False, hold_s=30))
    proc, commands = drive(model, server.url, listener, "--stall-timeout", "1.0", timeout=30)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1] == (
        f"drive_agent: error: no frame from camera {server.url!r} for 1.0 s (stalled)")
    last_frame = server.sent[-1].wall
    watchdog = [c for c in commands.of("watchdog") if c["time"] > last_frame]
    assert watchdog and all(c["throttle"] == 0.0 for c in watchdog)
    assert commands.items[-1]["source"] == "stop" and commands.items[-1]["throttle"] == 0.0
    assert commands.items[-1]["time"] - last_frame < 1.0 + 2.0
    assert "latency over" in proc.stdout


@pytest.mark.parametrize("signals", [("SIGTERM",), ("SIGINT", "SIGINT")], ids=["sigterm", "ctrl-c-twice"])
def test_signals_stop_the_car_and_a_second_one_cannot_cut_the_stop_short(model, serve, listener, signals) -> None:
    """SIGTERM (systemctl stop, kill) sends the stop command as Ctrl-C does; two Ctrl-C at once
    still end with it (the second is held back until the stop is sent and the camera released)."""
    server = serve(StreamScript(fps=10, close_at_end=False, hold_s=30))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "drive_agent", "--model-file", str(model), "--target", "car", "--camera", server.url,
         "--udp", listener.address, "--throttle", "0.4", "--max-frame-age", "1.0", "--stall-timeout", "20"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 40
        while len([c for c in listener.received if c["source"] == "model"]) < 5:
            assert proc.poll() is None and time.monotonic() < deadline, "the agent never drove"
            time.sleep(0.02)
        for name in signals:
            proc.send_signal(getattr(signal, name))
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    commands = listener.close()
    assert commands.items[-1]["source"] == "stop" and commands.items[-1]["throttle"] == 0.0, commands.items[-3:]
    assert commands.of("model")[-1]["seq"] < commands.items[-1]["seq"]
    assert proc.returncode in (0, 130, -signal.SIGINT), err   # not killed by SIGTERM, not aborted
    assert "Traceback" not in err and "FATAL" not in err
    assert "drive_agent: interrupted; throttle 0 was sent to the car" in err


def test_an_unreachable_stream_is_a_clear_error(model, listener) -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc, commands = drive(model, f"http://127.0.0.1:{port}/stream.mjpg", listener, timeout=30)
    assert proc.returncode == 2
    # one line: FFmpeg's own "[tcp @ 0x...] Connection refused" is kept quiet (LiteRT's start-up line aside)
    lines = [line for line in proc.stderr.strip().splitlines() if not line.startswith("INFO: Created TensorFlow")]
    assert lines == [
        f"drive_agent: error: cannot open camera 'http://127.0.0.1:{port}/stream.mjpg' (nothing answered there, "
        "or not a video stream)"], proc.stderr
    assert commands.items == []


def test_opencv_source_in_process_keeps_only_the_newest_frame(serve) -> None:
    from drive_agent.camera import OpenCVSource

    server = serve(StreamScript(fps=50))
    source = OpenCVSource(server.url, read_timeout=2.0)
    got: list[tuple[np.ndarray, float]] = []
    for frame, captured in source.frames():
        got.append((frame, captured))
        if len(got) == 3:
            threading.Event().wait(0.3)  # a slow model: ~15 frames arrive meanwhile
    source.close()
    assert got[0][0].shape == (120, 160, 3) and got[0][0].dtype == np.uint8
    assert source.received == N_FRAMES and source.dropped >= 10 and source.unreadable == 0
    assert len(got) + source.dropped == N_FRAMES
    assert all(b[1] > a[1] for a, b in zip(got, got[1:], strict=False))


class FakePicamera2:
    """picamera2's calls as drive_agent.camera makes them (no Pi here): records the configuration
    and serves XRGB8888-like 4-channel frames."""

    instances: list[FakePicamera2] = []

    def __init__(self) -> None:
        self.config: dict | None = None
        self.started = self.closed = False
        self.captures = 0
        FakePicamera2.instances.append(self)

    def create_video_configuration(self, main: dict) -> dict:
        return {"main": dict(main)}

    def configure(self, config: dict) -> None:
        self.config = config

    def start(self) -> None:
        self.started = True

    def capture_array(self, stream: str) -> np.ndarray:
        assert stream == "main" and self.started
        self.captures += 1
        threading.Event().wait(0.02)
        w, h = self.config["main"]["size"]
        frame = np.zeros((h, w, 4), np.uint8)
        frame[..., 0] = self.captures % 256
        return frame

    def stop(self) -> None:
        self.started = False

    def close(self) -> None:
        self.closed = True


def test_pi_camera_is_asked_for_rgb_at_the_models_size(monkeypatch) -> None:
    import types

    from drive_agent import camera

    monkeypatch.setitem(sys.modules, "picamera2", types.SimpleNamespace(Picamera2=FakePicamera2))
    assert camera.picamera2_available()
    source = camera.open_camera(None, 160, 120)  # the default when picamera2 is installed
    assert isinstance(source, camera.PiCameraSource)
    frames = []
    for frame, _ in source.frames():
        frames.append(frame)
        if len(frames) == 3:
            break
    source.close()
    cam = FakePicamera2.instances[-1]
    # libcamera's "BGR888" is [R, G, B] per pixel in the array
    assert cam.config == {"main": {"size": (160, 120), "format": "BGR888"}}
    assert all(f.shape == (120, 160, 3) for f in frames) and cam.closed and not cam.started
    monkeypatch.setitem(sys.modules, "picamera2", None)
    with pytest.raises(camera.CameraError, match="python3-picamera2"):
        camera.open_camera("pi", 160, 120)
