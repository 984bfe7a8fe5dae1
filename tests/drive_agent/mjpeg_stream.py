"""An MJPEG camera stream served from a recorded frame sequence (multipart/x-mixed-replace, as
IP cameras, mjpg-streamer and donkeycar's web controller serve it), with faults: a stall (the
connection stays open, no frames) and dropped frames (gaps in the sequence). Every frame sent is
recorded with its index and wall time, so a test can line the agent's commands up with it."""

from __future__ import annotations

import contextlib
import io
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
from PIL import Image

BOUNDARY = "pitlaneframe"


def recorded_sequence(n: int = 30, size: tuple[int, int] = (160, 120)) -> list[bytes]:
    """A recorded drive: our simulator's DeepRacer camera along pitlane_loop, weaving across
    the lane so that the steering differs from frame to frame, as colour JPEGs of `size`."""
    from simulator.camera import DeepRacerCamera
    from simulator.track import load_track

    track = load_track("pitlane_loop")
    camera = DeepRacerCamera(track)
    width = float(np.min(track.widths))
    frames = []
    for i in range(n):
        x, y, heading = track.pose_at(0.12 * i, 0.35 * width * np.sin(i * 0.9))
        gray = camera.render(x, y, heading + 0.3 * np.cos(i * 1.3))
        img = Image.fromarray(gray).convert("RGB")
        if img.size != size:
            img = img.resize(size, Image.Resampling.BILINEAR)
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=92)
        frames.append(buf.getvalue())
    return frames


@dataclass
class StreamScript:
    """How the sequence is served: `fps`, frame indexes to skip (`drop`), a `stall` of
    `stall_s` seconds before frame index `stall_at`, and whether the connection is closed at the
    end (`close_at_end`) or held open without frames (a camera that hangs)."""

    fps: float = 20.0
    drop: frozenset[int] = frozenset()
    stall_at: int | None = None
    stall_s: float = 0.0
    close_at_end: bool = True
    hold_s: float = 30.0


@dataclass
class SentFrame:
    index: int
    wall: float


@dataclass
class MjpegServer:
    frames: list[bytes]
    script: StreamScript = field(default_factory=StreamScript)
    sent: list[SentFrame] = field(default_factory=list)

    def __post_init__(self) -> None:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path != "/stream.mjpg":
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY}")
                self.send_header("Cache-Control", "no-cache")
                self.end_headers()
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    server._serve(self.wfile)

            def log_message(self, *args: object) -> None:
                pass

        self._stop = threading.Event()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/stream.mjpg"

    def _serve(self, out) -> None:
        period = 1.0 / self.script.fps
        next_at = time.monotonic()
        for index, jpeg in enumerate(self.frames):
            if index == self.script.stall_at:
                self._stop.wait(self.script.stall_s)
                next_at = time.monotonic()
            delay = next_at - time.monotonic()
            if delay > 0:
                self._stop.wait(delay)
            next_at += period
            if self._stop.is_set():
                return
            if index in self.script.drop:
                continue
            self.sent.append(SentFrame(index, time.time()))  # before the bytes leave: a lower bound
            out.write(f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n".encode())
            out.write(jpeg + b"\r\n")
            out.flush()
        if not self.script.close_at_end:
            self._stop.wait(self.script.hold_s)

    def stop(self) -> None:
        self._stop.set()
        self._httpd.shutdown()
        self._httpd.server_close()
