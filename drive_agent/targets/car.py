"""`--target car`: camera frames in, JSON-line commands out to a physical car's controller.

Commands go over UDP (or serial with the optional pyserial) as one JSON object a line:
`{"seq": 7, "time": 1700000000.123, "steering": -0.12, "throttle": 0.25, "source": "model"}`.
A car with a stale command is dangerous, so a watchdog thread sends throttle 0 (steering held)
whenever no frame arrived for `frame_timeout` seconds, and a frame older than `max_frame_age`
when its command is ready is answered with throttle 0 too ("late"). The latency report's total
runs from the frame's capture (`wait`: until the loop took it) to its command sent.

Signals (every car target): SIGTERM stops the car as Ctrl-C does, and once either has arrived, or
while the car is being stopped for any other reason, further ones are held back: a second Ctrl-C
must never cut the stop sequence short (`interrupt_on_signals`, `signals_held`).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import threading
import time
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Protocol

import numpy as np
from PIL import Image

from drive_agent.loop import DriveLoop
from drive_agent.model_card import ModelCard

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _held(signum: int, frame: FrameType | None) -> None:
    os.write(2, b"drive_agent: stopping the car first\n")


def _install(handler: signal.Handlers | object) -> dict[int, object]:
    """Sets `handler` for SIGINT and SIGTERM (an ignored one stays ignored, as under nohup);
    returns the previous handlers."""
    previous: dict[int, object] = {}
    for signum in STOP_SIGNALS:
        current = signal.getsignal(signum)
        if current is not signal.SIG_IGN:
            previous[signum] = signal.signal(signum, handler)  # type: ignore[arg-type]
    return previous


def _restore(previous: dict[int, object]) -> None:
    for signum, handler in previous.items():  # None: a handler not set from Python
        signal.signal(signum, signal.SIG_DFL if handler is None else handler)  # type: ignore[arg-type]


@contextmanager
def signals_held() -> Iterator[None]:
    """Ctrl-C and SIGTERM wait while the car is being stopped (main thread only: signals
    interrupt no other thread)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = _install(_held)
    try:
        yield
    finally:
        _restore(previous)


@contextmanager
def interrupt_on_signals() -> Iterator[None]:
    """While a car is driven: SIGTERM (a service manager, `kill`) raises KeyboardInterrupt as
    Ctrl-C does, and the first of them holds back the ones after it until the drive has ended,
    so that the stop sequence it starts runs to its end."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: FrameType | None) -> None:
        _install(_held)
        raise KeyboardInterrupt

    previous = _install(interrupt)
    try:
        yield
    finally:
        _restore(previous)


class CommandSink(Protocol):
    def send(self, steering: float, throttle: float, source: str) -> None: ...

    def close(self) -> None: ...


class FrameSource(Protocol):
    def frames(self) -> Iterator[tuple[np.ndarray, float]]:
        """Yields (frame, capture time as time.monotonic())."""

    def close(self) -> None: ...


def fit_to_card(frame: np.ndarray, card: ModelCard) -> np.ndarray:
    """Resize/convert a camera frame to the card's input size and channels (a real camera's
    resolution rarely matches the simulator's)."""
    spec = card.input
    channels = 1 if frame.ndim == 2 else frame.shape[2]
    if frame.shape[:2] == (spec.height, spec.width) and channels == spec.channels:
        return frame
    img = Image.fromarray(frame if channels != 1 or frame.ndim == 2 else frame[:, :, 0])
    img = img.convert("L" if spec.channels == 1 else "RGB")
    if img.size != (spec.width, spec.height):
        img = img.resize((spec.width, spec.height), Image.Resampling.BILINEAR)
    return np.asarray(img)


class FolderSource:
    """Replays the images of a folder in name order at `fps` (for tests and bench drives)."""

    def __init__(self, folder: str | Path, fps: float = 15.0, repeat: bool = False) -> None:
        self.paths = sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not self.paths:
            raise FileNotFoundError(f"no images in {folder}")
        self.period = 1.0 / fps if fps > 0 else 0.0
        self.repeat = repeat

    def frames(self) -> Iterator[tuple[np.ndarray, float]]:
        next_at = time.monotonic()
        while True:
            for path in self.paths:
                delay = next_at - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                next_at = max(next_at + self.period, time.monotonic())
                with Image.open(path) as img:
                    frame = np.asarray(img.convert("L" if img.mode == "L" else "RGB"))
                yield frame, time.monotonic()
            if not self.repeat:
                return

    def close(self) -> None:
        """Nothing to release."""


class _JsonLineSink(ABC):
    """Numbers the commands and writes them as JSON lines to the transport of a subclass."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.seq = 0

    def send(self, steering: float, throttle: float, source: str) -> None:
        with self._lock:
            self.seq += 1
            line = json.dumps({"seq": self.seq, "time": round(time.time(), 4), "steering": round(steering, 5),
                               "throttle": round(throttle, 5), "source": source})
            self._write((line + "\n").encode("ascii"))

    @abstractmethod
    def _write(self, data: bytes) -> None: ...

    @abstractmethod
    def close(self) -> None: ...


class UdpSink(_JsonLineSink):
    """One datagram per command; UDP because a late command is worse than a lost one."""

    def __init__(self, host: str, port: int) -> None:
        super().__init__()
        self.address = (host, port)
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)

    def _write(self, data: bytes) -> None:
        try:
            self._sock.sendto(data, self.address)
        except OSError as exc:
            log.warning("cannot send command to %s:%d: %s", *self.address, exc)

    def close(self) -> None:
        self._sock.close()


class SerialSink(_JsonLineSink):
    """A serial port (optional extra: pyserial)."""

    def __init__(self, port: str, baudrate: int = 115200) -> None:
        super().__init__()
        try:
            import serial
        except ImportError as exc:
            raise RuntimeError("serial output needs pyserial: pip install pyserial") from exc
        self._port = serial.Serial(port, baudrate, timeout=0, write_timeout=0.05)

    def _write(self, data: bytes) -> None:
        self._port.write(data)

    def close(self) -> None:
        self._port.close()


@dataclass
class CarRunStats:
    frames: int = 0
    commands: Counter[str] = field(default_factory=Counter)


class Watchdog:
    """Sends throttle 0 while no frame has arrived for `timeout` seconds (repeated every
    `timeout`, in case a datagram is lost)."""

    def __init__(self, sink: CommandSink, timeout: float, stats: CarRunStats) -> None:
        self.sink, self.timeout, self.stats = sink, timeout, stats
        self._last_frame = time.monotonic()
        self._steering = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="watchdog", daemon=True)

    def start(self) -> None:
        self._last_frame = time.monotonic()
        self._thread.start()

    def fed(self, steering: float) -> None:
        self._last_frame, self._steering = time.monotonic(), steering

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        last_sent = 0.0
        while not self._stop.wait(self.timeout / 4):
            now = time.monotonic()
            if now - self._last_frame > self.timeout and now - last_sent >= self.timeout:
                try:
                    self.sink.send(self._steering, 0.0, "watchdog")
                except OSError as exc:  # a bus or link hiccup: keep trying, never let the thread die
                    log.warning("watchdog could not send throttle 0: %s", exc)
                    continue
                self.stats.commands["watchdog"] += 1
                last_sent = now


def run_car(loop: DriveLoop, source: FrameSource, sink: CommandSink, frame_timeout: float = 0.25,
            max_frame_age: float = 0.15, stop: threading.Event | None = None) -> CarRunStats:
    """Drive until the source ends, `stop` is set, Ctrl-C or SIGTERM; always ends with a
    throttle-0 command (which no further signal interrupts) and closes the source."""
    with interrupt_on_signals():
        return _drive_car(loop, source, sink, frame_timeout, max_frame_age, stop)


def _drive_car(loop: DriveLoop, source: FrameSource, sink: CommandSink, frame_timeout: float,
               max_frame_age: float, stop: threading.Event | None) -> CarRunStats:
    stats = CarRunStats()
    watchdog = Watchdog(sink, frame_timeout, stats)
    watchdog.start()
    steering = 0.0
    try:
        for frame, captured in source.frames():
            if stop is not None and stop.is_set():
                break
            timer = loop.stats.frame()
            # the frame's time since the camera gave it counts too: the report's total is from capture
            waited = max(0.0, time.monotonic() - captured)
            timer.start -= waited
            timer.durations["wait"] = waited
            frame = fit_to_card(frame, loop.card)
            timer.lap("decode")
            command = loop.step(frame, None, timer)
            steering = command.steering
            late = time.monotonic() - captured > max_frame_age
            source_name = "late" if late else "model"
            sink.send(steering, 0.0 if late else command.throttle, source_name)
            timer.lap("send")
            timer.done()
            watchdog.fed(steering)
            stats.frames += 1
            stats.commands[source_name] += 1
    finally:
        with signals_held():
            watchdog.stop()
            try:
                sink.send(steering, 0.0, "stop")
                stats.commands["stop"] += 1
            finally:
                source.close()
    return stats
