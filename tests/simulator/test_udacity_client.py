"""The Udacity wire client behaves like the Unity simulator, byte for byte.

A scripted raw websocket peer checks the exact frames; python-socketio 5 servers show the
consequence: one that connects the default namespace itself on the engine.io OPEN drives the car,
a stock one never answers (REFERENCE.md section 1).
"""

import base64
import contextlib
import io
import json
import re
import socket
import threading
import time
from urllib.parse import unquote

import pytest
import simple_websocket
import socketio
from PIL import Image

from drive_agent.wsgi_server import serve_in_thread
from simulator.cli import main
from simulator.track import load_track
from simulator.udacity_client import UdacityClient

OPEN = '0{"sid":"abc","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}'
NUMBER = re.compile(r"^-?\d+\.\d{4}$")


@pytest.fixture(scope="module")
def road():
    return load_track("pitlane_loop_road")


class ScriptedPeer:
    """A raw websocket server that plays a drive server frame by frame."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]

    def accept(self) -> tuple[simple_websocket.Server, str]:
        self.listener.settimeout(10)
        conn, _ = self.listener.accept()
        data = b""
        while b"\r\n\r\n" not in data:
            data += conn.recv(4096)
        request_line, *headers = data.split(b"\r\n\r\n")[0].decode().split("\r\n")
        environ = {"werkzeug.socket": conn}
        for header in headers:
            key, value = header.split(":", 1)
            environ["HTTP_" + key.strip().upper().replace("-", "_")] = value.strip()
        return simple_websocket.Server(environ), request_line

    def close(self) -> None:
        self.listener.close()


def run_in_thread(client: UdacityClient, **kwargs):
    result = {}
    thread = threading.Thread(target=lambda: result.update(stats=client.run(**kwargs)), daemon=True)
    thread.start()
    return thread, result


def telemetry(frame: str) -> dict:
    assert frame.startswith('42["telemetry",'), frame[:40]
    name, data = json.loads(frame[2:])
    return data


def test_wire_exchange_is_the_simulators(road):
    peer = ScriptedPeer()
    client = UdacityClient(road, port=peer.port, ping_interval_s=1.0, keep_wire=100)
    thread, result = run_in_thread(client, idle_timeout_s=5.0)
    ws, request_line = peer.accept()
    try:
        assert unquote(request_line) == "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1"
        ws.send(OPEN)
        first = ws.receive(timeout=5)  # its own `open`: telemetry at once, no `40` before it
        assert first.startswith('42["telemetry",{"steering_angle":"0.0000","throttle":"0.0000",'
                                '"speed":"0.0000","image":"')
        data = telemetry(first)
        assert list(data) == ["steering_angle", "throttle", "speed", "image"]
        with Image.open(io.BytesIO(base64.b64decode(data["image"]))) as image:
            assert image.format == "JPEG" and image.size == (320, 160) and image.mode == "RGB"

        ws.send("2")
        assert ws.receive(timeout=5) == "3"
        ws.send('40{"sid":"xyz"}')  # a namespace CONNECT ack from a fixed server: ignored
        assert ws.receive(timeout=0.3) is None

        ws.send('42["steer",{"steering_angle":"-0.5","throttle":"1.0"}]')
        data = telemetry(ws.receive(timeout=5))
        assert all(isinstance(v, str) for v in data.values())
        assert all(NUMBER.match(data[k]) for k in ("steering_angle", "throttle", "speed"))
        # Steering servo at 120 deg/s: one 1/15 s step reaches 8 of the commanded 12.5 degrees (left).
        assert data["steering_angle"] == "-8.0000" and data["throttle"] == "1.0000"
        assert float(data["speed"]) > 0

        ws.send('42["manual",{}]')
        assert telemetry(ws.receive(timeout=5))["throttle"] == "1.0000"

        assert ws.receive(timeout=3) == "2"  # its own engine.io ping
    finally:
        ws.close()
        peer.close()
    thread.join(timeout=10)
    stats = result["stats"]
    assert (stats.frames, stats.steers, stats.manuals, stats.pongs_sent) == (3, 1, 1, 1)
    assert stats.pings_sent >= 1 and stats.ended_by == "closed"
    sent = [text for direction, text in client.wire if direction == ">"]
    assert not any(text.startswith("40") for text in sent)


def test_manual_mode_sends_empty_telemetry(road):
    peer = ScriptedPeer()
    client = UdacityClient(road, port=peer.port, manual=True)
    thread, result = run_in_thread(client, max_frames=3, idle_timeout_s=5.0)
    ws, _ = peer.accept()
    try:
        ws.send(OPEN)
        assert ws.receive(timeout=5) == '42["telemetry",{}]'
        ws.send('42["manual",{}]')
        assert ws.receive(timeout=5) == '42["telemetry",{}]'
    finally:
        ws.close()
        peer.close()
        thread.join(timeout=10)
    assert result["stats"].frames == 2


def test_realtime_mode_moves_the_car_by_wall_time(road):
    peer = ScriptedPeer()
    client = UdacityClient(road, port=peer.port, realtime=True)
    thread, result = run_in_thread(client, max_frames=4, idle_timeout_s=5.0)
    ws, _ = peer.accept()
    try:
        ws.send(OPEN)
        ws.receive(timeout=5)
        for pause in (0.0, 0.0, 0.4):  # a slow answer: the car drives on meanwhile
            time.sleep(pause)
            ws.send('42["steer",{"steering_angle":"0","throttle":"0.5"}]')
            ws.receive(timeout=5)
    finally:
        # The client hangs up itself after its 4th frame; closing after it is not an error.
        with contextlib.suppress(simple_websocket.ConnectionClosed, OSError):
            ws.close()
        peer.close()
        thread.join(timeout=10)
    assert result["stats"].steers == 3 and result["stats"].steps >= 2 + 5


def socketio_server(connect_namespace_on_open: bool):
    """A python-socketio 5 drive server answering every telemetry with a steer, optionally with
    the fix: connect the default namespace itself when the engine.io connection opens."""

    class FixedServer(socketio.Server):
        def _handle_eio_connect(self, eio_sid, environ):
            super()._handle_eio_connect(eio_sid, environ)
            self._handle_connect(eio_sid, "/", None)

    cls = FixedServer if connect_namespace_on_open else socketio.Server
    sio = cls(async_mode="threading", async_handlers=False)
    received = []

    @sio.on("connect")
    def on_connect(sid, environ, auth=None):
        sio.emit("steer", {"steering_angle": "0", "throttle": "0"}, to=sid)

    @sio.on("telemetry")
    def on_telemetry(sid, data):
        received.append(data)
        sio.emit("steer", {"steering_angle": "0.02", "throttle": "0.6"}, to=sid)

    server, _ = serve_in_thread(socketio.WSGIApp(sio), "127.0.0.1", 0)
    return server, received


def test_drives_against_a_socketio5_server_that_connects_the_namespace(road):
    server, received = socketio_server(connect_namespace_on_open=True)
    try:
        client = UdacityClient(road, port=server.server_port, keep_wire=500)
        stats = client.run(max_frames=40, idle_timeout_s=5.0)
    finally:
        server.shutdown()
        server.server_close()
    assert stats.frames == 40 and stats.steers >= 39 and stats.ended_by == "max_frames"
    assert len(received) >= 39
    speeds = [float(d["speed"]) for d in received]
    assert speeds[-1] > speeds[5] > 0 and all(isinstance(v, str) for v in received[-1].values())
    assert not any(text.startswith("40") for direction, text in client.wire if direction == ">")


def test_a_stock_socketio5_server_never_answers(road):
    server, received = socketio_server(connect_namespace_on_open=False)
    try:
        stats = UdacityClient(road, port=server.server_port).run(max_frames=10, idle_timeout_s=1.0)
    finally:
        server.shutdown()
        server.server_close()
    assert stats.frames == 1 and stats.steers == 0 and stats.ended_by == "idle"
    assert received == []


def test_cli_udacity_drives_against_a_server(road, capsys):
    server, received = socketio_server(connect_namespace_on_open=True)
    try:
        code = main(["udacity", "--track", "pitlane_loop_road", "--port", str(server.server_port), "--frames", "5",
                     "--connect-timeout", "5"])
    finally:
        server.shutdown()
        server.server_close()
    assert code == 0
    assert "frames 5," in capsys.readouterr().out
