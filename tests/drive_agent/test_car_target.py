"""Car target: a folder replay drives JSON-line UDP commands; the watchdog zeroes throttle."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from drive_agent.loop import DriveLoop
from drive_agent.model_card import parse_model_card
from drive_agent.speed import OpenLoopThrottle
from drive_agent.targets.car import FolderSource, UdpSink, fit_to_card, run_car
from tests.drive_agent.helpers import load_tiny, udacity_frame
from tests.support.tiny_models import card_for


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(2.0)
    yield sock
    sock.close()


def received(sock: socket.socket) -> list[dict]:
    sock.settimeout(0.2)
    out = []
    try:
        while True:
            data = sock.recv(4096)
            assert data.endswith(b"\n")
            out.append(json.loads(data))
    except TimeoutError:
        return out


@pytest.fixture
def car_loop(tiny_models: Path) -> DriveLoop:
    model, _ = load_tiny(tiny_models, "regression_float")
    return DriveLoop(model, OpenLoopThrottle(throttle=0.4), throttle_scale=0.5)


def test_folder_replay_sends_one_command_per_frame(tmp_path: Path, car_loop: DriveLoop, listener) -> None:
    for i in range(4):
        Image.fromarray(udacity_frame(i)).save(tmp_path / f"frame_{i:03d}.jpg")
    sink = UdpSink(*listener.getsockname())
    stats = run_car(car_loop, FolderSource(tmp_path, fps=50), sink, frame_timeout=1.0, max_frame_age=1.0)
    sink.close()
    commands = received(listener)
    assert stats.frames == 4
    assert [c["source"] for c in commands] == ["model"] * 4 + ["stop"]
    assert [c["seq"] for c in commands] == [1, 2, 3, 4, 5]
    assert all(c["throttle"] == pytest.approx(0.2) for c in commands[:4])  # 0.4 open loop x scale 0.5
    assert commands[-1]["throttle"] == 0.0
    assert set(car_loop.stats.summary()["stages"]) == {"wait", "decode", "preprocess", "inference", "send"}


class StallingSource:
    """Two frames, then the camera hangs for `stall` seconds, then one more frame."""

    def __init__(self, stall: float) -> None:
        self.stall = stall

    def frames(self):
        for i in range(2):
            yield udacity_frame(i), time.monotonic()
        time.sleep(self.stall)
        yield udacity_frame(3), time.monotonic() - 1.0  # captured a second ago: late

    def close(self) -> None:
        pass


def test_watchdog_zeroes_throttle_when_frames_stop(car_loop: DriveLoop, listener) -> None:
    sink = UdpSink(*listener.getsockname())
    stats = run_car(car_loop, StallingSource(stall=0.5), sink, frame_timeout=0.1, max_frame_age=0.2)
    sink.close()
    commands = received(listener)
    sources = [c["source"] for c in commands]
    assert sources[:2] == ["model", "model"]
    watchdog = [c for c in commands if c["source"] == "watchdog"]
    assert len(watchdog) >= 2 and all(c["throttle"] == 0.0 for c in watchdog)
    assert watchdog[0]["steering"] == commands[1]["steering"]   # steering held, throttle cut
    late = [c for c in commands if c["source"] == "late"]
    assert len(late) == 1 and late[0]["throttle"] == 0.0
    assert sources[-1] == "stop" and stats.commands["watchdog"] == len(watchdog)
    # the late frame waited a second since its capture: the report's total counts it
    summary = car_loop.stats.summary()
    assert summary["stages"]["wait"]["p99_ms"] > 900 and summary["total"]["p99_ms"] > 900  # p99 of 3 frames


def test_camera_frames_are_fitted_to_the_card() -> None:
    card = parse_model_card(card_for("regression_steering", "m.tflite"))
    fitted = fit_to_card(np.zeros((480, 640, 3), np.uint8), card)
    assert fitted.shape == (160, 320, 3)
    gray_card = parse_model_card({**card_for("regression_steering", "m.tflite", color_space="gray"),
                                  "input": {"camera": "deepracer_front", "width": 160, "height": 120,
                                            "channels": 1},
                                  "preprocessing": {"crop_top": 0, "crop_bottom": 0, "resize": None,
                                                    "color_space": "gray", "scale": "none"},
                                  "tflite": {"file": "m.tflite"}})
    assert fit_to_card(np.zeros((240, 320, 3), np.uint8), gray_card).shape == (120, 160)


def test_empty_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no images"):
        FolderSource(tmp_path)


def test_stop_event_ends_the_drive(tmp_path: Path, car_loop: DriveLoop, listener) -> None:
    Image.fromarray(udacity_frame()).save(tmp_path / "a.png")
    stop = threading.Event()
    stop.set()
    sink = UdpSink(*listener.getsockname())
    stats = run_car(car_loop, FolderSource(tmp_path, repeat=True), sink, stop=stop)
    sink.close()
    assert stats.frames == 0 and [c["source"] for c in received(listener)] == ["stop"]
