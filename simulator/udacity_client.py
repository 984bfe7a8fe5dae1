"""A stand-in for the Udacity simulator on the wire: drives our car against a drive server.

The Unity simulator is a socket.io *client* with quirks a drive server must survive (see
REFERENCE.md section 1), so this client reproduces them exactly rather than using a stock
socket.io client: a plain websocket to `/socket.io/?EIO=4&transport=websocket`, no namespace
CONNECT (`40`) ever, its own engine.io pings (`2`) every 25 s, pongs (`3`) to server pings,
`42["telemetry",{...}]` with string values and `.` decimals, and a lock-step exchange: one
telemetry after the engine.io OPEN and after every `steer` or `manual` received.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import websocket
from PIL import Image

from simulator.appearance import Randomisation
from simulator.camera import UDACITY_CENTER, UdacityCameras
from simulator.car import MPH, UDACITY, Car, CarState, Command
from simulator.driving_log import from_udacity_steering, to_udacity_steering

DEFAULT_PORT = 4567
ENGINEIO_PING_S = 25.0


@dataclass
class ClientStats:
    """What a run did: telemetry frames sent, control steps, laps, resets after leaving the road."""

    frames: int = 0
    steers: int = 0
    manuals: int = 0
    steps: int = 0
    laps: float = 0.0
    off_tracks: int = 0
    pings_sent: int = 0
    pongs_sent: int = 0
    seconds: float = 0.0
    ended_by: str = ""

    @property
    def frames_per_s(self) -> float:
        return self.frames / self.seconds if self.seconds else 0.0


def telemetry_payload(steering_deg: float, throttle: float, speed_mph: float, image_b64: str) -> dict[str, str]:
    """The simulator's telemetry object: every value a string, `.` decimals whatever the locale."""
    def text(value: float) -> str:
        return f"{round(value, 4) + 0.0:.4f}"  # + 0.0 turns -0.0 into 0.0: never "-0.0000"

    return {"steering_angle": text(steering_deg), "throttle": text(throttle), "speed": text(speed_mph),
            "image": image_b64}


def event_frame(name: str, data: Any) -> str:
    """An engine.io MESSAGE carrying a socket.io EVENT on the default namespace: `42[...]`."""
    return "42" + json.dumps([name, data], separators=(",", ":"))


def parse_event(text: str) -> tuple[str, Any] | None:
    """(name, data) of a `42[...]` frame on the default namespace; None for anything else."""
    if not text.startswith("42"):
        return None
    try:
        payload = json.loads(text[2:])
    except json.JSONDecodeError:
        return None
    if not isinstance(payload, list) or not payload or not isinstance(payload[0], str):
        return None
    return payload[0], (payload[1] if len(payload) > 1 else None)


def _as_float(value: Any, default: float = 0.0) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return default
    return number if math.isfinite(number) else default


class UdacityClient:
    """Connects to a drive server like the simulator does and drives `track` with its `steer`s.

    `realtime=False` (default) advances the car one control step (1/15 s) per `steer`, so runs
    are reproducible; `realtime=True` advances it by the wall time since the last telemetry, as
    the Unity simulator does, so a slow server sees its car travel further between decisions.
    `manual=True` plays a person driving: empty telemetry `{}` and the car is not stepped.
    """

    def __init__(self, track: Any, host: str = "127.0.0.1", port: int = DEFAULT_PORT, *,
                 randomisation: Randomisation | None = None, realtime: bool = False, manual: bool = False,
                 jpeg_quality: int = 75, ping_interval_s: float = ENGINEIO_PING_S, start_distance: float = 0.0,
                 keep_wire: int = 0) -> None:
        self.track = track
        self.host, self.port = host, port
        self.realtime = realtime
        self.manual = manual
        self.jpeg_quality = jpeg_quality
        self.ping_interval_s = ping_interval_s
        self.profile = UDACITY
        self.camera = UdacityCameras(track, randomisation, specs=(UDACITY_CENTER,))
        x, y, yaw = track.pose_at(start_distance)
        self.car = Car(self.profile, CarState(x, y, yaw))
        self.throttle = 0.0
        self.wire: deque[tuple[str, str]] = deque(maxlen=keep_wire)  # last frames sent (">") and received ("<")
        self._hint: int | None = None
        self._distance = track.project_local(x, y, None).distance
        self._travelled = 0.0
        self._last_step_time = 0.0

    @property
    def url(self) -> str:
        return f"ws://{self.host}:{self.port}/socket.io/?EIO=4&transport=websocket"

    # -- simulation ---------------------------------------------------------------------------
    def _advance(self, steering_norm: float, throttle: float, stats: ClientStats) -> None:
        steps = 1
        now = time.perf_counter()
        if self.realtime and self._last_step_time:
            steps = max(1, int((now - self._last_step_time) * self.profile.action_hz))
        self._last_step_time = now
        command = Command(steering_deg=from_udacity_steering(steering_norm) * self.profile.max_steering_deg,
                          throttle=throttle)
        for _ in range(steps):
            state = self.car.step(command)
            stats.steps += 1
            self._follow(state, stats)

    def _follow(self, state: CarState, stats: ClientStats) -> None:
        """Lap counting and putting the car back on the road when it has wholly left it."""
        proj = self.track.project_local(state.x, state.y, self._hint)
        self._hint = proj.segment
        length = self.track.length
        self._travelled += (proj.distance - self._distance + length / 2) % length - length / 2
        self._distance = proj.distance
        stats.laps = self._travelled / length
        left, right = self.track.half_widths_at(proj)
        half = left if proj.offset > 0 else right
        if abs(proj.offset) > half + self.profile.width:
            stats.off_tracks += 1
            x, y, yaw = self.track.pose_at(proj.distance)
            self.car.reset(CarState(x, y, yaw, speed=0.0))

    def telemetry(self) -> dict[str, str]:
        """The telemetry the simulator would send now ({} while driving manually)."""
        if self.manual:
            return {}
        state = self.car.state
        frame = self.camera.render(state.x, state.y, state.yaw)["center"]
        buffer = io.BytesIO()
        Image.fromarray(frame).save(buffer, format="JPEG", quality=self.jpeg_quality)
        image = base64.b64encode(buffer.getvalue()).decode("ascii")
        steering_deg = to_udacity_steering(math.degrees(state.steering))
        return telemetry_payload(steering_deg, self.throttle, max(state.speed, 0.0) / MPH, image)

    # -- wire -----------------------------------------------------------------------------------
    def _connect(self, connect_timeout_s: float) -> websocket.WebSocket:
        deadline = time.monotonic() + connect_timeout_s
        while True:
            try:
                return websocket.create_connection(self.url, timeout=connect_timeout_s, enable_multithread=False)
            except (OSError, websocket.WebSocketException):
                if time.monotonic() >= deadline:
                    raise
                time.sleep(0.1)

    def _send(self, ws: websocket.WebSocket, text: str) -> None:
        self.wire.append((">", text))
        ws.send(text)

    def run(self, max_frames: int | None = None, max_laps: float | None = None, timeout_s: float | None = None,
            connect_timeout_s: float = 10.0, idle_timeout_s: float | None = 10.0,
            on_frame: Callable[[ClientStats], None] | None = None) -> ClientStats:
        """Connect, drive until `max_frames` telemetries, `max_laps` laps, `timeout_s` seconds,
        `idle_timeout_s` without a server message, or the server closing; return the stats."""
        stats = ClientStats()
        ws = self._connect(connect_timeout_s)
        began = time.monotonic()
        next_ping = began + self.ping_interval_s
        last_heard = began
        opened = False
        try:
            while True:
                now = time.monotonic()
                if max_frames is not None and stats.frames >= max_frames:
                    stats.ended_by = "max_frames"
                    break
                if max_laps is not None and stats.laps >= max_laps:
                    stats.ended_by = "max_laps"
                    break
                if timeout_s is not None and now - began >= timeout_s:
                    stats.ended_by = "timeout"
                    break
                if idle_timeout_s is not None and now - last_heard >= idle_timeout_s:
                    stats.ended_by = "idle"
                    break
                if opened and now >= next_ping:
                    self._send(ws, "2")
                    stats.pings_sent += 1
                    next_ping = now + self.ping_interval_s
                waits = [next_ping - now if opened else connect_timeout_s]
                if timeout_s is not None:
                    waits.append(began + timeout_s - now)
                if idle_timeout_s is not None:
                    waits.append(last_heard + idle_timeout_s - now)
                ws.settimeout(max(0.01, min(waits)))
                try:
                    text = ws.recv()
                except websocket.WebSocketTimeoutException:
                    continue
                except (websocket.WebSocketConnectionClosedException, ConnectionError):
                    stats.ended_by = "closed"
                    break
                if isinstance(text, bytes):
                    continue
                if not text:  # an empty read means the server closed the websocket
                    stats.ended_by = "closed"
                    break
                last_heard = time.monotonic()
                self.wire.append(("<", text))
                kind = text[0]
                if kind == "0" and not opened:  # engine.io OPEN: the simulator fires its own `open`
                    opened = True
                    next_ping = time.monotonic() + self.ping_interval_s
                    self._emit_telemetry(ws, stats, on_frame)
                elif kind == "2":
                    self._send(ws, "3" + text[1:])
                    stats.pongs_sent += 1
                elif kind == "1" or text.startswith("41"):
                    stats.ended_by = "server_closed"
                    break
                elif text.startswith("42"):
                    event = parse_event(text)
                    if event is None:
                        continue
                    name, data = event
                    if name == "steer":
                        stats.steers += 1
                        data = data if isinstance(data, dict) else {}
                        steering = max(-1.0, min(1.0, _as_float(data.get("steering_angle"))))
                        self.throttle = max(-1.0, min(1.0, _as_float(data.get("throttle"))))
                        if not self.manual:
                            self._advance(steering, self.throttle, stats)
                        self._emit_telemetry(ws, stats, on_frame)
                    elif name == "manual":
                        stats.manuals += 1
                        self._emit_telemetry(ws, stats, on_frame)
        finally:
            stats.seconds = time.monotonic() - began
            with contextlib.suppress(OSError, websocket.WebSocketException):
                ws.close()
        return stats

    def _emit_telemetry(self, ws: websocket.WebSocket, stats: ClientStats,
                        on_frame: Callable[[ClientStats], None] | None) -> None:
        self._send(ws, event_frame("telemetry", self.telemetry()))
        stats.frames += 1
        if on_frame is not None:
            on_frame(stats)
