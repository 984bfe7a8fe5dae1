"""A fake AWS DeepRacer web console over HTTPS with a self-signed certificate, for tests and the bench.

It speaks the exchange of the car's `webserver_pkg` (see drive_agent/deepracer_vehicle.py): the
log-in page with a CSRF token bound to a `session` cookie, `POST /login` answering 200 with
`{"redirect": "/home"}` and a Secure `deepracer_token` cookie or the text `failure`, 401 without
the token, 400 for a PUT/POST without the CSRF token (Flask-WTF), the vehicle-control and
battery APIs, the camera as `multipart/x-mixed-replace` MJPEG from a recorded frame sequence at
a set rate, and model upload/load. It records every command with the number of frames it had
sent when the command arrived.

Faults: `stall_after` (frames, then the stream stays open and silent), `close_after` (frames,
then the stream is closed), `fail_drive_at` (that manual-drive command, 1-based, answers 500),
`command_delay` (seconds: every PUT/POST is recorded when it arrives and answered that much
later, as a car or Wi-Fi link that answers slowly).
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import re
import secrets
import ssl
import tempfile
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

BOUNDARY = "boundarydonotcross"


def self_signed_cert(folder: Path) -> tuple[Path, Path]:
    """A throwaway certificate for 127.0.0.1, as the car's own is self-signed for its IP."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "deepracer")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


@dataclass
class Recorded:
    time: float            # time.monotonic() when the request arrived
    method: str
    path: str
    body: Any
    frames_sent: int       # camera frames written to the stream before this request


@dataclass
class FakeState:
    password: str
    frames: list[bytes]
    fps: float
    battery: int = 9
    stall_after: int | None = None
    close_after: int | None = None
    fail_drive_at: int | None = None
    command_delay: float = 0.0
    loop_frames: bool = True
    csrf: dict[str, str] = field(default_factory=dict)      # session cookie -> token
    token: str | None = None
    drive_mode: str = "manual"
    started: bool = False
    commands: list[Recorded] = field(default_factory=list)
    frame_times: list[float] = field(default_factory=list)  # time.monotonic() per frame sent
    uploads: dict[str, bytes] = field(default_factory=dict)
    loaded_model: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    stop: threading.Event = field(default_factory=threading.Event)

    def record(self, method: str, path: str, body: Any) -> None:
        with self.lock:
            self.commands.append(Recorded(time.monotonic(), method, path, body, len(self.frame_times)))

    def drives(self) -> list[Recorded]:
        with self.lock:
            return [c for c in self.commands if c.path == "/api/manual_drive"]


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # as nginx on the car (tcp_nodelay): no 40 ms delayed-ACK stalls

    def log_message(self, fmt: str, *args: Any) -> None:  # type: ignore[override]
        """Quiet."""

    # --------------------------------------------------------------------- helpers
    @property
    def state(self) -> FakeState:
        return self.server.state

    def _cookies(self) -> dict[str, str]:
        jar = SimpleCookie(self.headers.get("Cookie", ""))
        return {k: v.value for k, v in jar.items()}

    def _send(self, status: int, body: bytes, content_type: str = "application/json",
              cookies: tuple[str, ...] = ()) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for cookie in cookies:
            self.send_header("Set-Cookie", cookie)
        self.end_headers()
        self.wfile.write(body)

    def _json(self, data: Any, status: int = 200) -> None:
        self._send(status, json.dumps(data).encode())

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _authenticated(self) -> bool:
        token = self._cookies().get("deepracer_token")
        return self.state.token is not None and token == self.state.token

    def _csrf_ok(self) -> bool:
        session = self._cookies().get("session")
        expected = self.state.csrf.get(session or "")
        return expected is not None and secrets.compare_digest(self.headers.get("X-CSRFToken", ""), expected)

    # --------------------------------------------------------------------- GET
    def do_GET(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        if url.path in ("/", "/home", "/login"):
            session = secrets.token_hex(8)
            token = secrets.token_hex(16)
            self.state.csrf[session] = token
            page = (f'<html><head><meta name="csrf-token" content="{token}" /><title>AWS DeepRacer</title>'
                    '</head><body>login</body></html>').encode()
            self._send(200, page, "text/html", (f"session={session}; Secure; HttpOnly; Path=/",))
            return
        if not self._authenticated():
            self._send(401, b"", "text/html")
            return
        if url.path == "/route":
            query = urllib.parse.parse_qs(url.query)
            if query.get("topic") != ["/camera_pkg/display_mjpeg"]:
                self._send(404, b"no such topic", "text/plain")
                return
            self._stream()
            return
        self.state.record("GET", url.path, None)
        if url.path == "/api/get_battery_level":
            self._json({"success": True, "battery_level": self.state.battery})
        elif url.path == "/api/models":
            models = [{"model_name": "model", "model_folder_name": name, "model_sensors": ["Camera"],
                       "is_select_disabled": False} for name in self.state.uploads]
            self._json({"models": models, "sensor_status": {"camera_status": "connected"}})
        elif url.path == "/api/isModelLoading":
            self._json({"success": True, "isModelLoading": "loaded" if self.state.loaded_model else "error"})
        else:
            self._send(404, b"not found", "text/plain")

    def _stream(self) -> None:
        state = self.state
        self.send_response(200)
        self.send_header("Content-Type", f"multipart/x-mixed-replace;boundary={BOUNDARY}")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        period = 1.0 / state.fps
        next_at = time.monotonic()
        sent = 0
        try:
            while not state.stop.is_set():
                if state.close_after is not None and sent >= state.close_after:
                    return
                if state.stall_after is not None and sent >= state.stall_after:
                    state.stop.wait()
                    return
                if sent >= len(state.frames) and not state.loop_frames:
                    return
                delay = next_at - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                next_at += period
                jpeg = state.frames[sent % len(state.frames)]
                head = (f"--{BOUNDARY}\r\nContent-type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n"
                        f"X-Timestamp: {time.time():.6f}\r\n\r\n").encode()
                # counted before the bytes leave: the agent may answer a frame before this thread
                # runs again, and a command must never look older than the frame it answers
                with state.lock:
                    state.frame_times.append(time.monotonic())
                self.wfile.write(head + jpeg + b"\r\n")
                self.wfile.flush()
                sent += 1
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            return

    # --------------------------------------------------------------------- PUT / POST
    def do_POST(self) -> None:
        self._write_request("POST")

    def do_PUT(self) -> None:
        self._write_request("PUT")

    def _write_request(self, method: str) -> None:
        url = urllib.parse.urlsplit(self.path)
        raw = self._body()
        if not self._csrf_ok():
            self._send(400, b"<h1>Bad Request</h1><p>The CSRF token is missing.</p>", "text/html")
            return
        if url.path == "/login":
            form = urllib.parse.parse_qs(raw.decode())
            self.state.record(method, "/login", None)
            if form.get("password") != [self.state.password]:
                self._send(200, b"failure", "text/html")
                return
            self.state.token = secrets.token_hex(16)
            self._send(200, json.dumps({"redirect": "/home"}).encode(), "application/json",
                       (f"deepracer_token={self.state.token}; Secure; Path=/; Max-Age=3600",))
            return
        if not self._authenticated():
            self._send(401, b"", "text/html")
            return
        if url.path == "/api/uploadModels":
            self._upload(raw)
            return
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            self._send(400, b"bad json", "text/plain")
            return
        self.state.record(method, url.path, body)
        if self.state.command_delay:
            time.sleep(self.state.command_delay)
        self._command(url.path, body)

    def _command(self, path: str, body: dict[str, Any]) -> None:
        state = self.state
        if path == "/api/manual_drive":
            if state.fail_drive_at is not None and len(state.drives()) == state.fail_drive_at:
                self._send(500, b"<h1>Internal Server Error</h1>", "text/html")
                return
            for key in ("angle", "throttle", "max_speed"):
                if not isinstance(body.get(key), (int, float)):
                    self._json({"success": False, "reason": f"{key} is required"})
                    return
            if not (-1 <= body["angle"] <= 1 and -1 <= body["throttle"] <= 1):
                self._json({"success": False, "reason": "angle or throttle out of range"})
                return
            self._json({"success": True})
        elif path == "/api/drive_mode":
            state.drive_mode = "manual" if body.get("drive_mode") == "manual" else "auto"
            self._json({"success": True})
        elif path == "/api/start_stop":
            state.started = body.get("start_stop") != "stop"
            self._json({"success": True})
        elif path == "/api/max_nav_throttle":
            self._json({"success": True})
        elif path.startswith("/api/models/"):
            folder = urllib.parse.unquote(path.split("/")[3])
            if folder not in state.uploads:
                self._json({"success": False, "reason": "Model optimization failed!"})
                return
            state.loaded_model = folder
            self._json({"success": True})
        else:
            self._send(404, b"not found", "text/plain")

    def _upload(self, raw: bytes) -> None:
        match = re.search(rb'name="file"; filename="([^"]+)"\r\n(?:[^\r\n]+\r\n)*\r\n', raw)
        if match is None:
            self._json({"success": False, "message": "no file"})
            return
        name = match.group(1).decode()
        boundary = self.headers.get("Content-Type", "").split("boundary=")[-1].encode()
        data = raw[match.end():raw.rindex(b"\r\n--" + boundary)]
        self.state.record("POST", "/api/uploadModels", {"filename": name, "size": len(data)})
        if not name.endswith(".tar.gz"):
            self._json({"success": False, "message": "Failed to upload the model. Not a .tar.gz file"})
            return
        self.state.uploads[name[:-7]] = data
        self._json({"success": True, "message": "Model uploaded successfully to your vehicle"})


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, state: FakeState) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.state = state


class FakeDeepRacer:
    """Start with `FakeDeepRacer(frames, password=...)`; `address` is what `--car-ip` takes."""

    def __init__(self, frames: list[bytes], password: str = "s3cret-car", fps: float = 15.0, **faults: Any) -> None:
        if not frames:
            raise ValueError("the fake car needs at least one JPEG frame")
        self.state = FakeState(password=password, frames=frames, fps=fps, **faults)
        self._tmp = tempfile.TemporaryDirectory(prefix="fake_deepracer_")
        cert, key = self_signed_cert(Path(self._tmp.name))
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        self._server = _Server(self.state)
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="fake-deepracer", daemon=True)
        self._thread.start()

    @property
    def address(self) -> str:
        host, port = self._server.server_address[:2]
        return f"{host}:{port}"

    @property
    def commands(self) -> list[Recorded]:
        with self.state.lock:
            return list(self.state.commands)

    def drives(self) -> list[Recorded]:
        return self.state.drives()

    def stop(self) -> None:
        self.state.stop.set()
        self._server.shutdown()
        self._server.server_close()
        self._tmp.cleanup()
