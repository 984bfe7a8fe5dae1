"""The Udacity target at the wire level: a raw WebSocket speaking like the Unity simulator
(no `40`, string fields, degrees, its own pings) and a stock python-socketio client."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator

import pytest
import socketio
import websocket

from drive_agent.loop import DriveLoop
from drive_agent.targets.udacity import UdacityDriver, format_steer
from tests.drive_agent.helpers import jpeg_b64, udacity_frame

IMAGE = jpeg_b64(udacity_frame())


@pytest.fixture
def server(drive_loop: DriveLoop) -> Iterator[tuple[UdacityDriver, int]]:
    # A short engine.io ping interval bounds how long a long-polling client's disconnect waits.
    driver = UdacityDriver(drive_loop, ping_interval=1.0)
    port = driver.serve("127.0.0.1", 0)
    yield driver, port
    driver.shutdown()


def unity_connect(port: int) -> websocket.WebSocket:
    """Connect exactly like the simulator: straight to the websocket transport, no `40` sent."""
    return websocket.create_connection(f"ws://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket", timeout=5)


def unity_telemetry(**fields: str) -> str:
    return "42" + json.dumps(["telemetry", fields])


def event(frame: str) -> tuple[str, dict]:
    assert frame.startswith("42"), frame
    name, payload = json.loads(frame[2:])
    return name, payload


def test_unity_client_without_namespace_connect_gets_steer(server) -> None:
    driver, port = server
    ws = unity_connect(port)
    try:
        assert ws.recv().startswith("0{")                      # engine.io OPEN
        assert ws.recv().startswith('40{"sid":')               # the server connected "/" itself
        assert event(ws.recv()) == ("steer", {"steering_angle": "0.000000", "throttle": "0.000000"})
        for _ in range(3):                                      # lock-step: one steer per telemetry
            ws.send(unity_telemetry(steering_angle="-1.2500", throttle="0.2000", speed="9.0312", image=IMAGE))
            name, payload = event(ws.recv())
            assert name == "steer"
            assert all(isinstance(v, str) and "," not in v for v in payload.values())
            steering, throttle = float(payload["steering_angle"]), float(payload["throttle"])
            assert -1.0 <= steering <= 1.0 and -1.0 <= throttle <= 1.0
        ws.send("2")                                            # the simulator pings on its own
        assert ws.recv() == "3"
    finally:
        ws.close()
    assert driver.loop.stats.frames == 3
    assert set(driver.loop.stats.summary()["stages"]) == {"decode", "preprocess", "inference", "send"}


@pytest.mark.parametrize("telemetry, expected_kind", [
    ({"steering_angle": "0", "throttle": "0", "speed": "1.0", "image": "bm90IGEganBlZw=="}, "bad_frame"),
    ({"steering_angle": "0", "throttle": "0", "speed": "1.0", "image": "###"}, "bad_frame"),
    ({"steering_angle": "0", "throttle": "0", "image": IMAGE}, "missing_field"),
    ({"steering_angle": "0", "throttle": "0", "speed": "fast", "image": IMAGE}, "bad_frame"),
    ({"speed": "1.0", "image": jpeg_b64(udacity_frame()[:80])}, "bad_frame"),  # wrong frame size
])
def test_broken_telemetry_gets_a_safe_answer(server, telemetry: dict, expected_kind: str) -> None:
    driver, port = server
    ws = unity_connect(port)
    try:
        for _ in range(3):
            ws.recv()
        ws.send(unity_telemetry(speed="9.0", image=IMAGE))
        good_steering = event(ws.recv())[1]["steering_angle"]
        ws.send(unity_telemetry(**telemetry))
        # The car must not stall (lock-step): same steering as last time, throttle 0.
        assert event(ws.recv()) == ("steer", {"steering_angle": good_steering, "throttle": "0.000000"})
        ws.send(unity_telemetry(speed="9.0", image=IMAGE))  # and the session goes on
        assert event(ws.recv())[0] == "steer"
    finally:
        ws.close()
    assert driver.problems[expected_kind] == 1


def test_empty_telemetry_means_manual_driving(server) -> None:
    _, port = server
    ws = unity_connect(port)
    try:
        for _ in range(3):
            ws.recv()
        ws.send('42["telemetry",{}]')
        assert ws.recv() == '42["manual",{}]'
        ws.send('42["telemetry"]')
        assert ws.recv() == '42["manual",{}]'
    finally:
        ws.close()


@pytest.mark.parametrize("transports", [["websocket"], ["polling"]])
def test_stock_python_socketio_client(server, transports: list[str]) -> None:
    driver, port = server
    steers: list[dict] = []
    got = threading.Event()
    client = socketio.Client()

    @client.on("steer")
    def on_steer(data: dict) -> None:
        steers.append(data)
        if len(steers) == 3:
            got.set()

    client.connect(f"http://127.0.0.1:{port}", transports=transports, wait_timeout=5)
    try:
        assert client.connected and "/" in client.namespaces
        for _ in range(2):
            client.emit("telemetry", {"steering_angle": "0", "throttle": "0", "speed": "3.0", "image": IMAGE})
        assert got.wait(5), steers
    finally:
        client.disconnect()
    assert steers[0] == format_steer(0.0, 0.0)
    assert float(steers[1]["throttle"]) > 0  # 3 mph below the 9 mph set speed: accelerate
    assert driver.problems == {}


def test_steer_payload_always_uses_dots() -> None:
    import locale

    previous = locale.setlocale(locale.LC_NUMERIC)
    try:
        for name in ("de_DE.UTF-8", "fr_FR.UTF-8"):
            try:
                locale.setlocale(locale.LC_NUMERIC, name)
                break
            except locale.Error:
                continue
        assert format_steer(-0.25, 0.5) == {"steering_angle": "-0.250000", "throttle": "0.500000"}
    finally:
        locale.setlocale(locale.LC_NUMERIC, previous)
