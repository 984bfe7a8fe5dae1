"""A small client for the AWS DeepRacer vehicle's web console API (the car's own HTTPS server).

The exchange, as the car's `webserver_pkg` (Flask behind nginx) serves it:

- `GET /` answers the log-in page with `<meta name="csrf-token" content="...">` (Flask-WTF: the
  token belongs to the `session` cookie set with it). Every PUT/POST carries it as `X-CSRFToken`.
- `POST /login` (form field `password`, the one printed under the car) answers 200 either way:
  JSON `{"redirect": "/home"}` plus a `deepracer_token` cookie, or the text `failure`. Every other
  path answers 401 without that cookie (nginx asks `/auth`), and a newer log-in replaces the token.
- `PUT /api/drive_mode {"drive_mode": "manual"|"auto"}`, `PUT /api/start_stop {"start_stop":
  "start"|"stop"}`, `PUT /api/manual_drive {"angle", "throttle", "max_speed"}`,
  `PUT /api/max_nav_throttle {"throttle": percent}` answer `{"success": bool[, "reason"]}`.
  Manual drive: angle and throttle in -1..1 with the car's joystick signs (the car negates both:
  + angle steers right, - throttle drives forward); the stock console rounds |angle| and
  |throttle| up to 0.3, 0.5 or 0.8 and rescales throttle non-linearly by `max_speed` (0..1).
- `GET /api/get_battery_level` -> `{"success": true, "battery_level": 0..11}` (-1: unreadable).
- `GET /route?topic=/camera_pkg/display_mjpeg&width=W&height=H`: the camera as MJPEG
  (`multipart/x-mixed-replace`, one JPEG per part with Content-Length).
- Models: `POST /api/uploadModels` (multipart field `file`, a `NAME.tar.gz`), `GET /api/models`,
  `PUT /api/models/<folder>/<model>` (load for autonomous driving), `GET /api/isModelLoading`
  -> `{"isModelLoading": "loading"|"loaded"|"error"}`.

The car's certificate is self-signed for its IP address, so it is not verified (the car's
password still travels only over TLS). This module needs `requests` (the agent extra) and no
Django, TensorFlow or OpenCV.
"""

from __future__ import annotations

import http.client
import logging
import re
import ssl
import threading
import time
import urllib.parse
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
import urllib3

log = logging.getLogger(__name__)

CAMERA_TOPIC = "/camera_pkg/display_mjpeg"
TOKEN_COOKIE = "deepracer_token"
BATTERY_MAX = 11
_CSRF_META = re.compile(rb"""<meta\s+name=["']csrf-token["']\s+content=["']([^"']+)["']""", re.IGNORECASE)


class VehicleError(RuntimeError):
    """The car refused or did not answer a request (the message says which and why); `status`
    is the HTTP status of a refusal."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class VehicleAuthError(VehicleError):
    """The car's console refused the password."""


class StreamError(VehicleError):
    """The camera stream failed, closed or stalled."""


@dataclass(frozen=True)
class JpegFrame:
    """One camera image as received: the JPEG bytes, when its first and last byte arrived
    (time.perf_counter()), and its number in the stream (from 0)."""

    jpeg: bytes
    started: float
    received: float
    index: int


def parse_address(address: str) -> tuple[str, int]:
    """'192.168.1.10', '192.168.1.10:8443' or 'https://car.local' -> (host, port)."""
    text = address.strip()
    if not text:
        raise VehicleError("the car's address is empty")
    if "://" not in text:
        text = "https://" + text
    parsed = urllib.parse.urlsplit(text)
    if parsed.scheme != "https" or not parsed.hostname:
        raise VehicleError(f"the car's address must be an IP address or host name (the console is HTTPS), "
                           f"got {address!r}")
    try:
        port = parsed.port or 443
    except ValueError as exc:
        raise VehicleError(f"bad port in the car's address {address!r}") from exc
    return parsed.hostname, port


class DeepRacerVehicle:
    """One logged-in console session. Methods raise `VehicleError` with the car's reason.

    Commands are serialised by a lock, so a watchdog thread and the control loop may both send.
    """

    def __init__(self, address: str, password: str, *, timeout: float = 2.0,
                 login_timeout: float = 10.0) -> None:
        self.host, self.port = parse_address(address)
        self.base_url = f"https://{self.host}" + ("" if self.port == 443 else f":{self.port}")
        self.password = password
        self.timeout = timeout
        self.login_timeout = login_timeout
        self._session = requests.Session()
        self._csrf = ""
        self._lock = threading.Lock()

    # ------------------------------------------------------------------------------ session
    def login(self) -> None:
        """Fetch the CSRF token and log in; raises VehicleAuthError for a wrong password."""
        try:
            page = self._request("GET", "/", timeout=self.login_timeout, csrf=False)
        except VehicleError as exc:
            if exc.status is None:
                raise
            raise VehicleError(f"{self.base_url} does not look like a DeepRacer console (its log-in page answered "
                               f"HTTP {exc.status}): check the car's IP address", exc.status) from exc
        match = _CSRF_META.search(page.content)
        if match is None:
            raise VehicleError(f"{self.base_url} does not look like a DeepRacer console (no CSRF token "
                               "on its log-in page)")
        self._csrf = match.group(1).decode("ascii", "replace")
        response = self._request("POST", "/login", data={"password": self.password},
                                 timeout=self.login_timeout)
        if TOKEN_COOKIE not in self._session.cookies or b"redirect" not in response.content:
            raise VehicleAuthError(f"the car at {self.host} refused the password (it is printed on the "
                                   "sticker under the car, unless someone changed it in the console)")
        log.info("logged in to the DeepRacer console at %s", self.base_url)

    def close(self) -> None:
        self._session.close()

    # ------------------------------------------------------------------------------ driving
    def set_drive_mode(self, mode: str) -> None:
        """'manual' or 'auto' (autonomous: the car's own inference drives)."""
        if mode not in ("manual", "auto"):
            raise ValueError(f"drive mode must be 'manual' or 'auto', got {mode!r}")
        self._api("PUT", "/api/drive_mode", {"drive_mode": mode})

    def start(self) -> None:
        self._api("PUT", "/api/start_stop", {"start_stop": "start"})

    def stop(self) -> None:
        self._api("PUT", "/api/start_stop", {"start_stop": "stop"})

    def manual_drive(self, angle: float, throttle: float, max_speed: float) -> None:
        """One manual command in the console's convention (+angle right, -throttle forward)."""
        if not (-1.0 <= angle <= 1.0 and -1.0 <= throttle <= 1.0):
            raise ValueError(f"angle and throttle must be in -1..1, got {angle}, {throttle}")
        if not 0.0 <= max_speed <= 1.0:
            raise ValueError(f"max_speed must be in 0..1, got {max_speed}")
        self._api("PUT", "/api/manual_drive",
                  {"angle": round(angle, 4) + 0.0, "throttle": round(throttle, 4) + 0.0,
                   "max_speed": round(max_speed, 4)})

    def drive(self, steering_right: float, throttle_forward: float, max_speed: float) -> None:
        """Manual drive with the usual signs: + steers right, + drives forward."""
        self.manual_drive(max(-1.0, min(1.0, steering_right)), -max(-1.0, min(1.0, throttle_forward)),
                          max_speed)

    def set_autonomous_throttle(self, percent: float) -> None:
        """The autonomous mode's speed scale (the console's 'maximum speed' slider, 0..100)."""
        if not 0.0 <= percent <= 100.0:
            raise ValueError(f"throttle percent must be in 0..100, got {percent}")
        self._api("PUT", "/api/max_nav_throttle", {"throttle": percent})

    def battery_level(self) -> int | None:
        """The compute battery's level 0..11, or None when the car cannot read it."""
        level = self._api("GET", "/api/get_battery_level").get("battery_level")
        if not isinstance(level, int) or level < 0:
            return None
        return level

    # ------------------------------------------------------------------------------ models
    def upload_model(self, archive: str | Path, timeout: float = 120.0) -> str:
        """Upload a model archive `NAME.tar.gz`; the car unpacks and optimises it. Returns NAME
        (the folder `load_model` takes)."""
        path = Path(archive)
        if not path.name.endswith(".tar.gz"):
            raise VehicleError(f"the car takes models as NAME.tar.gz, not {path.name}")
        with path.open("rb") as fh:
            self._api("POST", "/api/uploadModels", files={"file": (path.name, fh, "application/gzip")},
                      timeout=timeout)
        return path.name[: -len(".tar.gz")]

    def models(self) -> list[dict[str, Any]]:
        models = self._api("GET", "/api/models", require_success=False).get("models", [])
        return list(models) if isinstance(models, list) else []

    def load_model(self, folder: str, model: str = "model", wait_s: float = 60.0) -> None:
        """Switch to autonomous mode and load `folder` for the car's own inference; waits until
        the car says it is loaded."""
        self.stop()
        self.set_drive_mode("auto")
        quoted = urllib.parse.quote(folder, safe="") + "/" + urllib.parse.quote(model, safe="")
        self._api("PUT", f"/api/models/{quoted}", {}, timeout=max(self.timeout, 30.0))
        deadline = time.monotonic() + wait_s
        while True:
            state = self._api("GET", "/api/isModelLoading").get("isModelLoading")
            if state == "loaded":
                return
            if state == "error":
                raise VehicleError(f"the car could not load model {folder}")
            if time.monotonic() > deadline:
                raise VehicleError(f"model {folder} still not loaded after {wait_s:.0f} s")
            time.sleep(0.5)

    # ------------------------------------------------------------------------------ camera
    def camera_stream(self, width: int = 160, height: int = 120, timeout: float = 2.0) -> MjpegStream:
        """Open the camera's MJPEG stream, scaled by the car to width x height. `timeout` is
        the longest wait for a byte before the stream counts as stalled."""
        query = urllib.parse.urlencode({"topic": CAMERA_TOPIC, "width": width, "height": height})
        cookie = "; ".join(f"{c.name}={c.value}" for c in self._session.cookies)
        return MjpegStream(self.host, self.port, f"/route?{query}", {"Cookie": cookie}, timeout)

    # ------------------------------------------------------------------------------ plumbing
    def _api(self, method: str, path: str, payload: dict[str, Any] | None = None, *,
             files: dict[str, Any] | None = None, timeout: float | None = None,
             require_success: bool = True) -> dict[str, Any]:
        response = self._request(method, path, json=payload if files is None and method != "GET" else None,
                                 files=files, timeout=timeout)
        try:
            body = response.json()
        except ValueError as exc:
            raise VehicleError(f"{method} {path}: the car answered {response.status_code} with no JSON") from exc
        if not isinstance(body, dict):
            raise VehicleError(f"{method} {path}: unexpected answer {body!r}")
        if require_success and body.get("success") is False:
            reason = body.get("reason") or body.get("message") or "no reason given"
            raise VehicleError(f"{method} {path}: the car said: {reason}")
        return body

    def _request(self, method: str, path: str, *, timeout: float | None = None, csrf: bool = True,
                 **kwargs: Any) -> requests.Response:
        headers = {"X-CSRFToken": self._csrf, "X-Requested-With": "XMLHttpRequest",
                   "Referer": self.base_url + "/home"} if csrf and method != "GET" else {}
        with self._lock, warnings.catch_warnings():
            warnings.simplefilter("ignore", urllib3.exceptions.InsecureRequestWarning)
            try:
                # verify=False per request: a session-wide setting loses to REQUESTS_CA_BUNDLE
                response = self._session.request(method, self.base_url + path, headers=headers, verify=False,
                                                 timeout=timeout or self.timeout, **kwargs)
            except requests.Timeout as exc:
                raise VehicleError(f"{method} {path}: no answer from the car at {self.host} within "
                                   f"{timeout or self.timeout:.1f} s") from exc
            except requests.RequestException as exc:
                raise VehicleError(f"{method} {path}: cannot reach the car at {self.base_url}: {_cause(exc)}") from exc
        if response.status_code == 401:
            raise VehicleAuthError(f"{method} {path}: the car answered 401 (not logged in, or another "
                                   "browser logged in since)")
        if response.status_code >= 400:
            detail = " ".join(response.text[:200].split())
            raise VehicleError(f"{method} {path}: the car answered HTTP {response.status_code}"
                               + (f": {detail}" if detail else ""), response.status_code)
        return response


def _cause(exc: BaseException) -> str:
    """A failed request's root cause in a few words ("Connection refused", "Name or service not
    known"), not the pool's wrapping of it."""
    seen: set[int] = set()
    todo: list[object] = [exc]
    while todo:
        cause = todo.pop(0)
        if not isinstance(cause, BaseException) or id(cause) in seen:
            continue
        seen.add(id(cause))
        if isinstance(cause, http.client.RemoteDisconnected):
            return "it closed the connection without an answer"
        if isinstance(cause, OSError) and isinstance(cause.strerror, str) and cause.strerror:
            return cause.strerror
        todo += [cause.__cause__, cause.__context__, getattr(cause, "reason", None), *cause.args]
    return str(exc)


class MjpegStream:
    """Reads a `multipart/x-mixed-replace` JPEG stream over HTTPS (stdlib http.client: each
    part is handed over as soon as its last byte arrives, no read-ahead)."""

    def __init__(self, host: str, port: int, path: str, headers: dict[str, str], timeout: float) -> None:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        self._conn = http.client.HTTPSConnection(host, port, timeout=timeout, context=context)
        try:
            self._conn.request("GET", path, headers=headers)
            self._response = self._conn.getresponse()
        except (OSError, http.client.HTTPException) as exc:
            self._conn.close()
            raise StreamError(f"cannot open the camera stream: {exc}") from exc
        if self._response.status != 200:
            status = self._response.status
            self._conn.close()
            raise StreamError(f"the camera stream answered HTTP {status}")
        content_type = self._response.getheader("Content-Type", "")
        match = re.search(r'boundary="?([^";]+)"?', content_type)
        if not content_type.startswith("multipart/") or match is None:
            self._conn.close()
            raise StreamError(f"the camera stream is not MJPEG (Content-Type {content_type!r})")
        boundary = match.group(1)
        self._boundary = b"--" + (boundary[2:] if boundary.startswith("--") else boundary).encode("ascii")

    def frames(self) -> Iterator[JpegFrame]:
        """Yields the stream's JPEG images; raises StreamError when the stream stalls (no byte
        within the timeout), breaks, or ends."""
        index = 0
        fp = self._response
        line: bytes | None = None
        try:
            while True:
                if line is None:
                    line = fp.readline()
                if not line:
                    raise StreamError("the car closed the camera stream")
                if not line.startswith(self._boundary):
                    line = None
                    continue
                if line.rstrip().endswith(b"--"):
                    raise StreamError("the car ended the camera stream")
                started = time.perf_counter()
                length = None
                while True:
                    header = fp.readline()
                    if not header:
                        raise StreamError("the car closed the camera stream")
                    if header in (b"\r\n", b"\n"):
                        break
                    name, _, value = header.decode("latin-1").partition(":")
                    if name.strip().lower() == "content-length":
                        length = int(value.strip())
                if length is not None:
                    jpeg = fp.read(length)
                    if len(jpeg) != length:
                        raise StreamError("the car closed the camera stream in the middle of a frame")
                    line = None
                else:  # no Content-Length: the part runs to the next boundary line
                    chunks = []
                    while True:
                        line = fp.readline()
                        if not line or line.startswith(self._boundary):
                            break
                        chunks.append(line)
                    jpeg = b"".join(chunks)
                    jpeg = jpeg[:-2] if jpeg.endswith(b"\r\n") else jpeg
                yield JpegFrame(jpeg, started, time.perf_counter(), index)
                index += 1
        except TimeoutError as exc:
            raise StreamError("the camera stream stalled (no data within "
                              f"{self._conn.timeout:.1f} s)") from exc
        except (OSError, http.client.HTTPException, ValueError) as exc:
            raise StreamError(f"the camera stream broke: {exc}") from exc

    def close(self) -> None:
        """Closing from another thread also ends a blocked `frames()` read."""
        try:
            sock = self._conn.sock
            if sock is not None:
                sock.shutdown(2)
        except OSError:
            pass
        self._conn.close()
