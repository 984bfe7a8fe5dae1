"""`--target deepracer` against the fake DeepRacer console (HTTPS, self-signed), through the real
agent process: log-in with CSRF, manual mode, commands that follow the camera frames, the battery
level and network latency in the report, and the car stopped on every way out."""

from __future__ import annotations

import io
import os
import signal
import socket
import ssl
import subprocess
import sys
import tarfile
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
import requests
from PIL import Image

from drive_agent.deepracer_vehicle import DeepRacerVehicle, StreamError, VehicleAuthError, VehicleError
from drive_agent.loop import DriveLoop
from drive_agent.model_card import load_model_card
from drive_agent.runtime import TFLiteModel
from drive_agent.targets.deepracer import steering_sign
from tests.drive_agent.fake_deepracer import FakeDeepRacer, Recorded, self_signed_cert
from tests.support.paths import ROOT
from tests.support.tiny_models import rl_model_files, steering_model_files

PASSWORD = "s3cret-car"


def recorded_drive(n: int = 24) -> list[bytes]:
    """A recorded sequence: the DeepRacer camera along a built-in track, weaving across the lane
    (so that the steering differs from frame to frame), as JPEG."""
    from simulator.camera import DeepRacerCamera
    from simulator.track import list_tracks, load_track

    track = load_track(list_tracks()[0])
    camera = DeepRacerCamera(track)
    width = float(np.min(track.widths))
    frames = []
    for i in range(n):
        x, y, heading = track.pose_at(0.12 * i, 0.3 * width * np.sin(i * 0.9))
        buf = io.BytesIO()
        Image.fromarray(camera.render(x, y, heading + 0.25 * np.cos(i * 1.3))).save(buf, "JPEG", quality=90)
        frames.append(buf.getvalue())
    return frames


@pytest.fixture(scope="module")
def frames() -> list[bytes]:
    return recorded_drive()


@pytest.fixture
def car(request, frames) -> Iterator[FakeDeepRacer]:
    faults = getattr(request, "param", {})
    fake = FakeDeepRacer(frames, password=PASSWORD, fps=faults.pop("fps", 12.0), **faults)
    yield fake
    fake.stop()


def agent(model: Path, car: FakeDeepRacer, *extra: str, password: str = PASSWORD) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
    env.pop("DEEPRACER_PASSWORD", None)
    return subprocess.Popen(
        [sys.executable, "-m", "drive_agent", "--model-file", str(model), "--target", "deepracer",
         "--car-ip", car.address, "--car-password", password, "--frame-timeout", "0.3",
         "--max-frame-age", "1.0", *extra],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for(condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the agent")
        time.sleep(0.05)


def expected_angles(model_path: Path, frames: list[bytes]) -> list[float]:
    """What the console should receive for each frame: the model's steering in the console's
    sign (+ right), computed here with the same runtime and preprocessing."""
    card = load_model_card(model_path.with_name("model_card.json"))
    loop = DriveLoop(TFLiteModel(model_path, card))
    out = []
    for jpeg in frames:
        with Image.open(io.BytesIO(jpeg)) as img:
            frame = np.asarray(img.convert("L"))
        out.append(round(steering_sign(card) * loop.step(frame, None).steering, 4))
    return out


def stop_sequence_after_last_model_command(car: FakeDeepRacer) -> list[Recorded]:
    """The commands after the last moving one: must include throttle 0 and the console's stop."""
    commands = car.commands
    moving = [i for i, c in enumerate(commands) if c.path == "/api/manual_drive" and c.body["throttle"] != 0]
    tail = commands[moving[-1] + 1:] if moving else commands
    zero = [c for c in tail if c.path == "/api/manual_drive" and c.body["throttle"] == 0]
    stops = [c for c in tail if c.path == "/api/start_stop" and c.body == {"start_stop": "stop"}]
    assert zero and stops, f"the car was not stopped: {[(c.path, c.body) for c in tail]}"
    assert tail[-1].path == "/api/start_stop" and tail[-1].body == {"start_stop": "stop"}
    return tail


@pytest.mark.parametrize("which", ["steering", "rl"])
def test_commands_follow_the_frames(tiny_models: Path, car: FakeDeepRacer, frames, which) -> None:
    model, _ = (steering_model_files if which == "steering" else rl_model_files)(tiny_models)
    expected = expected_angles(model, frames)
    assert len(set(expected)) >= 3  # the recorded drive asks for different steering
    proc = agent(model, car, "--max-speed", "0.5", "--throttle-scale", "0.8")
    try:
        wait_for(lambda: len(car.drives()) >= 30 or proc.poll() is not None)
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode in (0, 130), err
    commands = car.commands
    paths = [c.path for c in commands]
    # log-in, stop, manual mode, then a zero command and start before the first model command
    assert paths[:4] == ["/login", "/api/start_stop", "/api/drive_mode", "/api/get_battery_level"]
    assert commands[2].body == {"drive_mode": "manual"}
    drives = [c for c in commands if c.path == "/api/manual_drive"]
    moving = [c for c in drives if c.body["throttle"] != 0]
    assert len(moving) >= 20
    # each command answers a frame already sent, in stream order (frames are never answered twice
    # or out of order; a frame may be skipped when a newer one is waiting)
    n = len(frames)
    position = -1
    for c in moving:
        candidates = [k for k in range(position + 1, c.frames_sent) if expected[k % n] == pytest.approx(
            c.body["angle"], abs=2e-3)]
        assert candidates, f"command {c.body} matches no frame after #{position} sent before it"
        position = candidates[0]
    assert position >= 0.7 * len(car.state.frame_times) - 5
    # forward throttle in the console's sign, max speed 0.5 x race-time scale 0.8
    assert all(c.body["throttle"] < 0 and c.body["max_speed"] == pytest.approx(0.4) for c in moving)
    if which == "rl":
        angles = {round(c.body["angle"], 3) for c in moving}
        assert angles <= {-1.0, -0.5, 0.0, 0.5, 1.0}   # DeepRacer degrees (+ left) / 30, negated
    stop_sequence_after_last_model_command(car)
    assert "battery level 9/11" in out
    for stage in ("net_in", "wait", "decode", "inference", "net_out"):
        assert stage in out, out
    assert "Traceback" not in err


@pytest.mark.parametrize("car", [{"stall_after": 6}], indirect=True)
def test_stalled_stream_zeroes_throttle_then_stops_the_car(tiny_models: Path, car: FakeDeepRacer) -> None:
    model, _ = steering_model_files(tiny_models)
    proc = agent(model, car, "--stall-timeout", "1.5")
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert err.splitlines()[-1] == "drive_agent: error: no camera frame for 1.5 s; the car was stopped"
    drives = car.drives()
    moving = [c for c in drives if c.body["throttle"] != 0]
    assert 1 <= len(moving) <= 6
    after = drives[drives.index(moving[-1]) + 1:]
    watchdog = [c for c in after if c.frames_sent == 6]
    assert len(watchdog) >= 3                                   # repeated every --frame-timeout
    assert all(c.body["throttle"] == 0 and c.body["angle"] == moving[-1].body["angle"] for c in watchdog[:-1])
    first_zero = after[0].time - car.state.frame_times[-1]
    assert first_zero < 0.3 + 0.4                               # within the frame timeout (+ slack)
    stop_sequence_after_last_model_command(car)


@pytest.mark.parametrize("car", [{"close_after": 5}], indirect=True)
def test_closed_stream_stops_the_car(tiny_models: Path, car: FakeDeepRacer) -> None:
    model, _ = steering_model_files(tiny_models)
    proc = agent(model, car)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2 and "closed the camera stream" in err and "the car was stopped" in err
    stop_sequence_after_last_model_command(car)


@pytest.mark.parametrize("car", [{"fail_drive_at": 6}], indirect=True)
def test_server_error_stops_the_car(tiny_models: Path, car: FakeDeepRacer) -> None:
    model, _ = steering_model_files(tiny_models)
    proc = agent(model, car)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert "PUT /api/manual_drive: the car answered HTTP 500" in err and "the car was stopped" in err
    tail = stop_sequence_after_last_model_command(car)
    assert tail[-2].path == "/api/manual_drive" and tail[-2].body["throttle"] == 0


@pytest.mark.parametrize("car", [{"command_delay": 0.3}], indirect=True)
def test_ctrl_c_twice_still_stops_the_car(tiny_models: Path, car: FakeDeepRacer) -> None:
    """A second Ctrl-C while the car is being stopped (each request takes 0.3 s here) is held back
    until throttle 0 and the console's stop were sent."""
    model, _ = steering_model_files(tiny_models)
    proc = agent(model, car)
    try:
        wait_for(lambda: len([c for c in car.drives() if c.body["throttle"] != 0]) >= 3 or proc.poll() is not None)
        proc.send_signal(signal.SIGINT)
        time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    stop_sequence_after_last_model_command(car)
    assert proc.returncode in (0, 130), err
    assert "interrupted; the car was told to stop" in err and "Traceback" not in err


@pytest.mark.parametrize("car", [{"command_delay": 0.4}], indirect=True)
def test_a_car_that_answers_slowly_gets_throttle_0_until_it_answers_in_time(tiny_models: Path,
                                                                           car: FakeDeepRacer) -> None:
    """Seed 000: 0.35 s from picture to wheels crashes. Commands that take 0.4 s to reach the car
    steer with throttle 0 (warned once); when the link is fast again the car drives on."""
    model, _ = steering_model_files(tiny_models)
    proc = agent(model, car, "--max-frame-age", "0.15")
    try:
        wait_for(lambda: len(car.drives()) >= 6 or proc.poll() is not None)
        slow_until = len(car.drives())
        car.state.command_delay = 0.0
        wait_for(lambda: len([c for c in car.drives() if c.body["throttle"] != 0]) >= 5 or proc.poll() is not None)
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    drives = car.drives()
    assert all(c.body["throttle"] == 0 for c in drives[:slow_until]), [c.body for c in drives[:slow_until]]
    assert len({c.body["angle"] for c in drives[1:slow_until]}) >= 2       # still steering by the frames
    assert out.count("WARNING: the car takes") == 1 and "ms to answer a command" in out
    assert "answers in" in out and "again: driving on" in out
    assert "'late'" in out
    stop_sequence_after_last_model_command(car)


def test_an_unreadable_frame_is_skipped_and_only_unreadable_ones_stop_the_car(tiny_models: Path, frames) -> None:
    """One frame that is not a JPEG (a camera glitch) is skipped, as the camera path does; a stream
    of nothing but such frames is no frame at all: watchdog, then the stall error."""
    model, _ = steering_model_files(tiny_models)
    glitch = [b"not a jpeg at all" if i == 5 else jpeg for i, jpeg in enumerate(frames)]
    fake = FakeDeepRacer(glitch, password=PASSWORD, fps=12.0, loop_frames=False)
    try:
        proc = agent(model, fake)
        out, err = proc.communicate(timeout=60)
    finally:
        fake.stop()
    assert proc.returncode == 2 and "closed the camera stream" in err.splitlines()[-1], err
    moving = [c for c in fake.drives() if c.body["throttle"] != 0]
    assert any(c.frames_sent > 6 for c in moving), "the drive went on after the unreadable frame"
    assert out.count("skipping it: the car sent a frame that is not a readable JPEG (17 bytes: not an image)") == 1
    assert "1 unreadable)" in out
    stop_sequence_after_last_model_command(fake)

    junk = FakeDeepRacer([b"junk %d" % i for i in range(3)], password=PASSWORD, fps=12.0)
    try:
        proc = agent(model, junk, "--stall-timeout", "1.0")
        _, err = proc.communicate(timeout=60)
    finally:
        junk.stop()
    assert proc.returncode == 2
    last = err.splitlines()[-1]
    assert last.startswith("drive_agent: error: no readable camera frame (") and "unreadable) for 1.0 s" in last
    drives = junk.drives()
    assert drives and all(c.body["throttle"] == 0 for c in drives)
    assert len([c for c in drives if c.body["max_speed"] > 0]) >= 3      # the watchdog's, every 0.3 s
    assert junk.commands[-1].path == "/api/start_stop" and junk.commands[-1].body == {"start_stop": "stop"}


def test_bad_password_never_moves_the_car(tiny_models: Path, car: FakeDeepRacer) -> None:
    model, _ = steering_model_files(tiny_models)
    proc = agent(model, car, password="wrong")
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2 and "refused the password" in err.splitlines()[-1]
    assert [c.path for c in car.commands] == ["/login"]


def _agent_error(model: Path, address: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-m", "drive_agent", "--model-file", str(model), "--target", "deepracer",
                           "--car-ip", address, "--car-password", PASSWORD], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    return proc.stderr.strip().splitlines()[-1]


def test_a_wrong_address_is_one_short_line(tiny_models: Path, tmp_path: Path) -> None:
    """Nothing listening, or an HTTPS server that is not a DeepRacer (a router at that IP): the
    cause in a few words, not the connection pool's wrapping of it."""
    model, _ = steering_model_files(tiny_models)
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert _agent_error(model, f"127.0.0.1:{port}") == (
        f"drive_agent: error: GET /: cannot reach the car at https://127.0.0.1:{port}: Connection refused")

    class NotFound(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*self_signed_cert(tmp_path))
    server = ThreadingHTTPServer(("127.0.0.1", 0), NotFound)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        port = server.server_address[1]
        assert _agent_error(model, f"127.0.0.1:{port}") == (
            f"drive_agent: error: https://127.0.0.1:{port} does not look like a DeepRacer console (its log-in "
            "page answered HTTP 404): check the car's IP address")
    finally:
        server.shutdown()
        server.server_close()


def test_missing_car_arguments_are_a_usage_error(tiny_models: Path, capsys) -> None:
    from drive_agent.cli import main

    model, _ = steering_model_files(tiny_models)
    code = main(["--model-file", str(model), "--target", "deepracer", "--car-ip", "127.0.0.1"])
    assert code == 2 and "needs --car-ip and --car-password" in capsys.readouterr().err


# ------------------------------------------------------------------------------ the client itself
@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
def test_client_session_csrf_battery_and_models(car: FakeDeepRacer, tmp_path: Path) -> None:
    vehicle = DeepRacerVehicle(car.address, PASSWORD)
    with pytest.raises(VehicleAuthError, match="401"):
        vehicle.battery_level()                                  # not logged in yet
    vehicle.login()
    assert vehicle.battery_level() == 9
    car.state.battery = -1
    assert vehicle.battery_level() is None
    # the console refuses a write without the CSRF token (Flask-WTF)
    cookies = {c.name: c.value for c in vehicle._session.cookies}
    bare = requests.put(f"https://{car.address}/api/start_stop", json={"start_stop": "start"},
                        cookies=cookies, verify=False, timeout=5)
    assert bare.status_code == 400 and b"CSRF" in bare.content
    with pytest.raises(VehicleError, match="angle or throttle out of range"):
        vehicle._api("PUT", "/api/manual_drive", {"angle": 2, "throttle": 0, "max_speed": 0.5})
    with pytest.raises(ValueError):
        vehicle.manual_drive(0.0, 1.5, 0.5)
    # model upload and load (autonomous mode)
    archive = tmp_path / "pitlane-model.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        info = tarfile.TarInfo("model_metadata.json")
        info.size = 2
        tar.addfile(info, io.BytesIO(b"{}"))
    assert vehicle.upload_model(archive) == "pitlane-model"
    assert car.state.uploads["pitlane-model"] == archive.read_bytes()
    assert [m["model_folder_name"] for m in vehicle.models()] == ["pitlane-model"]
    vehicle.load_model("pitlane-model")
    assert car.state.loaded_model == "pitlane-model" and car.state.drive_mode == "auto"
    with pytest.raises(VehicleError, match="Model optimization failed"):
        vehicle.load_model("not-there")
    with pytest.raises(VehicleError, match="NAME.tar.gz"):
        vehicle.upload_model(tmp_path / "model.zip")
    vehicle.close()


def test_client_reads_the_mjpeg_stream_and_reports_a_stall(frames, tmp_path: Path) -> None:
    fake = FakeDeepRacer(frames, password=PASSWORD, fps=50, stall_after=4)
    try:
        vehicle = DeepRacerVehicle(fake.address, PASSWORD)
        vehicle.login()
        stream = vehicle.camera_stream(160, 120, timeout=0.5)
        got: list = []
        with pytest.raises(StreamError, match="stalled"):
            got.extend(stream.frames())   # list.extend keeps what the generator gave before raising
        stream.close()
        assert [f.jpeg for f in got] == frames[:4] and [f.index for f in got] == [0, 1, 2, 3]
        assert all(f.received >= f.started for f in got)
        vehicle.close()
    finally:
        fake.stop()


def test_a_second_login_ends_the_first_session(car: FakeDeepRacer) -> None:
    first, second = DeepRacerVehicle(car.address, PASSWORD), DeepRacerVehicle(car.address, PASSWORD)
    first.login()
    second.login()
    with pytest.raises(VehicleAuthError, match="another browser"):
        first.stop()
    second.stop()
