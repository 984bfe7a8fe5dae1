"""Camera frames for a real car: OpenCV (a USB camera index, a video file or a stream URL such as
an MJPEG `http://` stream) or the Raspberry Pi camera through picamera2.

A reader thread keeps only the newest frame, stamped with the time it was read: the control loop
always answers the latest picture, never a queue of old ones, and `dropped` counts the frames it
was too busy to use. A live camera that gives no frame for `read_timeout` seconds (a stalled
stream, an unplugged camera) ends the drive with `CameraError`; the car target's watchdog has cut
the throttle long before that (`--frame-timeout`). A frame OpenCV cannot decode is skipped; a
truncated JPEG is decoded as far as it goes, as by any MJPEG viewer.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterator
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

PI_CAMERA_NAMES = ("pi", "picamera", "picamera2")
END_OF_STREAM_S = 0.005  # OpenCV answers at once, every time, at the end of a stream or file


class CameraError(RuntimeError):
    """The camera could not be opened, or stopped giving frames."""


class _LatestFrameReader:
    """Runs `read()` (returning an RGB/gray frame, or None at the end) on its own thread and keeps
    the newest frame only."""

    def __init__(self, read: Any, name: str) -> None:
        self._read = read
        self._cond = threading.Condition()
        self._latest: tuple[np.ndarray, float] | None = None
        self._error: Exception | None = None
        self._ended = False
        self._stop = threading.Event()
        self.received = 0
        self.dropped = 0
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                frame = self._read()
                if frame is None:
                    break
                stamped = (frame, time.monotonic())
                with self._cond:
                    if self._latest is not None:
                        self.dropped += 1
                    self._latest = stamped
                    self.received += 1
                    self._cond.notify()
        except Exception as exc:  # noqa: BLE001 - handed to the control loop, which stops the car
            with self._cond:
                self._error = exc
        finally:
            with self._cond:
                self._ended = True
                self._cond.notify()

    def frames(self) -> Iterator[tuple[np.ndarray, float]]:
        while True:
            with self._cond:
                while self._latest is None and not self._ended:
                    self._cond.wait(0.5)
                stamped, self._latest = self._latest, None
                if stamped is None:  # ended and nothing left
                    if self._error is not None:
                        raise self._error
                    return
            yield stamped

    def stop(self, join_timeout: float) -> bool:
        """Ask the thread to stop; True when it did within `join_timeout`."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(join_timeout)
        return not self._thread.is_alive()


class _ReaderSource:
    """A frame source whose frames a `_LatestFrameReader` thread reads (`self._reader`)."""

    _reader: _LatestFrameReader

    @property
    def dropped(self) -> int:
        return self._reader.dropped

    @property
    def received(self) -> int:
        return self._reader.received

    def frames(self) -> Iterator[tuple[np.ndarray, float]]:
        """Yields (RGB frame, time.monotonic() when it was read); raises CameraError on a stall."""
        return self._reader.frames()


class OpenCVSource(_ReaderSource):
    """A camera index, a video file or a stream URL through OpenCV (optional extra `agent-camera`:
    opencv-python-headless). Frames come out RGB (OpenCV reads BGR)."""

    def __init__(self, device: int | str, read_timeout: float = 2.0, open_timeout: float = 5.0) -> None:
        # Our one-line errors say what went wrong; OpenCV's and FFmpeg's own messages (such as
        # "[tcp @ 0x...] Connection refused") only on request (-8: FFmpeg's AV_LOG_QUIET).
        os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
        os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
        try:
            import cv2
        except ImportError as exc:
            raise CameraError("camera input needs OpenCV: pip install opencv-python-headless") from exc
        self._cv2 = cv2
        self.device = device
        self.read_timeout = read_timeout
        params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, int(open_timeout * 1000),
                  cv2.CAP_PROP_READ_TIMEOUT_MSEC, int(read_timeout * 1000)]
        # Network streams and files go through FFmpeg (whose read honours the timeout); a camera
        # index through the platform's default backend (V4L2 on Linux).
        backend = cv2.CAP_ANY if isinstance(device, int) else cv2.CAP_FFMPEG
        self._cap = cv2.VideoCapture(device, backend, params)
        if not self._cap.isOpened():
            hint = ("no such camera (ls /dev/video*)" if isinstance(device, int) else
                    "nothing answered there, or not a video stream" if "://" in device else "no such video file")
            raise CameraError(f"cannot open camera {device!r} ({hint})")
        self.unreadable = 0
        self._reader = _LatestFrameReader(self._read, name="opencv-camera")
        self._reader.start()

    def _read(self) -> np.ndarray | None:
        """The next readable frame. A frame the decoder refuses is skipped (counted in
        `unreadable`); failures that come back at once, again and again, are the end of the
        stream or file (None); a wait of `read_timeout` without a frame is a stall (CameraError)."""
        started = time.monotonic()
        failures = quick = 0
        while True:
            attempt = time.monotonic()
            ok, bgr = self._cap.read()
            if ok:
                self.unreadable += failures
                break
            now = time.monotonic()
            if now - attempt >= self.read_timeout * 0.9 or now - started >= self.read_timeout:
                raise CameraError(f"no frame from camera {self.device!r} for {now - started:.1f} s (stalled)")
            failures += 1
            quick = quick + 1 if now - attempt < END_OF_STREAM_S else 0
            if quick >= 3:
                return None  # the stream or file ended
        if bgr.ndim == 2:
            return bgr
        return self._cv2.cvtColor(bgr, self._cv2.COLOR_BGR2RGB)

    def close(self) -> None:
        # Release only once the reader thread is out of read(): OpenCV is not safe otherwise.
        if self._reader.stop(self.read_timeout + 1.0):
            self._cap.release()
        else:
            log.warning("camera %r: the reader did not stop; not releasing it", self.device)


class PiCameraSource(_ReaderSource):
    """The Raspberry Pi camera through picamera2 (on Raspberry Pi OS: `sudo apt install
    python3-picamera2`, and a venv made with `--system-site-packages`)."""

    def __init__(self, width: int, height: int, read_timeout: float = 2.0) -> None:
        try:
            from picamera2 import Picamera2
        except ImportError as exc:
            raise CameraError("--camera pi needs picamera2 (Raspberry Pi OS: sudo apt install python3-picamera2; "
                              "create the venv with --system-site-packages)") from exc
        self.read_timeout = read_timeout
        self._camera = Picamera2()
        # libcamera names formats by register order: "BGR888" arrays are [R, G, B] per pixel.
        config = self._camera.create_video_configuration(main={"size": (width, height), "format": "BGR888"})
        self._camera.configure(config)
        self._camera.start()
        self._reader = _LatestFrameReader(self._read, name="picamera2")
        self._reader.start()

    def _read(self) -> np.ndarray:
        frame = np.asarray(self._camera.capture_array("main"))
        return frame[:, :, :3] if frame.ndim == 3 and frame.shape[2] == 4 else frame

    def close(self) -> None:
        self._reader.stop(self.read_timeout + 1.0)
        self._camera.stop()
        self._camera.close()


def picamera2_available() -> bool:
    try:
        import picamera2  # noqa: F401
    except ImportError:
        return False
    return True


def open_camera(spec: str | None, width: int, height: int, read_timeout: float = 2.0,
                open_timeout: float = 5.0) -> OpenCVSource | PiCameraSource:
    """`spec`: "pi" (picamera2), a camera index ("0"), a file or a stream URL; None picks the Pi
    camera when picamera2 is installed, else camera 0. `width` x `height` is what the Pi camera
    is asked for (the model's input size); OpenCV sources keep their own size."""
    if spec is None:
        spec = "pi" if picamera2_available() else "0"
    if spec.lower() in PI_CAMERA_NAMES:
        return PiCameraSource(width, height, read_timeout=read_timeout)
    device: int | str = int(spec) if spec.isdigit() else spec
    return OpenCVSource(device, read_timeout=read_timeout, open_timeout=open_timeout)
