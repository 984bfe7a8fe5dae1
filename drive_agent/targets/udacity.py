"""`--target udacity`: the socket.io server (port 4567) that the Unity simulator drives against.

The simulator's client never sends the namespace CONNECT (`40`), so a stock python-socketio 5
server silently drops its telemetry and the car never moves. `UdacityCompatibleServer` connects
the default namespace itself as soon as the engine.io connection opens, and answers a later `40`
(sent by stock socket.io clients) with the existing session instead of an error, so both kinds of
client work. The simulator also pings on its own (engine.io 3 style); python-engineio 4 ignores
client pings, so they are answered with a pong here. The exchange is lock-step: every telemetry
gets an answer, even a broken one.
"""

from __future__ import annotations

import base64
import binascii
import io
import logging
import threading
from collections import Counter
from typing import Any

import engineio
import numpy as np
import socketio
from PIL import Image, UnidentifiedImageError
from socketio import packet

from drive_agent.latency import FrameTimer
from drive_agent.loop import DriveLoop
from drive_agent.wsgi_server import ThreadingWSGIServer, serve_in_thread

log = logging.getLogger(__name__)

DEFAULT_PORT = 4567


class UdacityCompatibleServer(socketio.Server):
    """python-socketio 5 server that also accepts clients that never send CONNECT (`40`)."""

    def _handle_eio_connect(self, eio_sid: str, environ: dict) -> None:
        super()._handle_eio_connect(eio_sid, environ)
        _answer_client_pings(self.eio.sockets[eio_sid])
        self._handle_connect(eio_sid, "/", None)

    def _handle_connect(self, eio_sid: str, namespace: str | None, data: Any) -> None:
        namespace = namespace or "/"
        sid = self.manager.sid_from_eio_sid(eio_sid, namespace)
        if sid is not None and self.manager.is_connected(sid, namespace):
            # Already connected on engine.io open: confirm the session rather than refuse it.
            self._send_packet(eio_sid, self.packet_class(packet.CONNECT, {"sid": sid}, namespace=namespace))
            return
        super()._handle_connect(eio_sid, namespace, data)


def _answer_client_pings(sock: Any) -> None:
    """Make one engine.io socket answer a client `2` (ping) with `3` (pong)."""
    receive = sock.receive

    def receive_answering_pings(pkt: engineio.packet.Packet) -> None:
        if pkt.packet_type == engineio.packet.PING:
            sock.send(engineio.packet.Packet(engineio.packet.PONG, pkt.data))
        else:
            receive(pkt)

    sock.receive = receive_answering_pings


def format_steer(steering: float, throttle: float) -> dict[str, str]:
    """The `steer` payload: strings with `.` decimals (other locales break the simulator)."""
    return {"steering_angle": f"{steering:.6f}", "throttle": f"{throttle:.6f}"}


def decode_image(b64: str) -> np.ndarray:
    """Base64 JPEG (or PNG) -> uint8 RGB array. Raises ValueError on anything unreadable."""
    return _decode(b64)[0]


def _decode(b64: str) -> tuple[np.ndarray, bytes]:
    """(RGB frame, the image bytes as sent) from base64; ValueError on anything unreadable."""
    try:
        raw = base64.b64decode(b64)
        with Image.open(io.BytesIO(raw)) as img:
            rgb = img if img.mode == "RGB" else img.convert("RGB")
            return np.asarray(rgb), raw
    except (binascii.Error, UnidentifiedImageError, OSError, TypeError, SyntaxError) as exc:
        raise ValueError(f"unreadable image: {exc}") from exc


class UdacityDriver:
    """Turns telemetry into `steer` replies through the shared DriveLoop and serves them."""

    def __init__(self, loop: DriveLoop, ping_interval: float = 25.0) -> None:
        self.loop = loop
        self.problems: Counter[str] = Counter()
        self._last_steering = 0.0
        self.sio = UdacityCompatibleServer(async_mode="threading", async_handlers=False,
                                           always_connect=True, cors_allowed_origins="*",
                                           ping_interval=ping_interval)
        self.sio.on("connect", self._on_connect)
        self.sio.on("disconnect", self._on_disconnect)
        self.sio.on("telemetry", self._on_telemetry)
        self.app = socketio.WSGIApp(self.sio)
        self._server: ThreadingWSGIServer | None = None

    def answer(self, data: Any, timer: FrameTimer | None = None) -> tuple[str, dict[str, str]]:
        """One telemetry -> (event, payload). Never raises: a bad frame gets the last steering
        with zero throttle, an empty telemetry (manual driving) gets `manual {}`."""
        if not data:
            return "manual", {}
        try:
            if not isinstance(data, dict):
                raise ValueError(f"telemetry is a {type(data).__name__}, not an object")
            speed = float(data["speed"])
            frame, jpeg = _decode(data["image"])
        except KeyError as exc:
            return self._fallback("missing_field", f"telemetry without {exc.args[0]!r}")
        except (ValueError, TypeError) as exc:
            return self._fallback("bad_frame", str(exc))
        if timer is not None:
            timer.lap("decode")
        try:
            command = self.loop.step(frame, speed, timer, raw_image=jpeg)
        except ValueError as exc:
            return self._fallback("bad_frame", str(exc))
        self._last_steering = command.steering
        return "steer", format_steer(command.steering, command.throttle)

    def serve(self, host: str = "127.0.0.1", port: int = DEFAULT_PORT) -> int:
        """Start serving in a background thread; returns the bound port."""
        self._server, _ = serve_in_thread(self.app, host, port)
        return self._server.server_port

    def shutdown(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def _fallback(self, kind: str, message: str) -> tuple[str, dict[str, str]]:
        self.problems[kind] += 1
        count = self.problems[kind]
        if count <= 5 or count % 100 == 0:
            log.warning("%s (#%d): answering steering %.3f, throttle 0", message, count, self._last_steering)
        return "steer", format_steer(self._last_steering, 0.0)

    def _on_connect(self, sid: str, environ: dict, auth: Any = None) -> None:
        log.info("simulator connected (%s)", sid)
        self.loop.reset()
        self._last_steering = 0.0
        self.sio.emit("steer", format_steer(0.0, 0.0), to=sid)

    def _on_disconnect(self, sid: str, reason: Any = None) -> None:
        log.info("simulator disconnected (%s)", sid)

    def _on_telemetry(self, sid: str, data: Any = None) -> None:
        timer = self.loop.stats.frame()
        event, payload = self.answer(data, timer)
        self.sio.emit(event, payload, to=sid)
        if event == "steer":
            timer.lap("send")
            timer.done()
            if self.loop.stats.frames % 300 == 0:
                warning = self.loop.stats.slow_warning()
                if warning:
                    log.warning(warning)


def run_udacity(loop: DriveLoop, host: str = "127.0.0.1", port: int = DEFAULT_PORT,
                stop: threading.Event | None = None) -> None:
    """Serve until Ctrl-C (or `stop` is set)."""
    driver = UdacityDriver(loop)
    bound = driver.serve(host, port)
    print(f"drive_agent: waiting for the Udacity simulator on ws://{host}:{bound}/socket.io/", flush=True)
    stop = stop or threading.Event()
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        driver.shutdown()
        if driver.problems:
            print("drive_agent: telemetry problems: " + ", ".join(f"{k} {v}" for k, v in driver.problems.items()))
