"""Reference lap-timer client: reads line crossings from the keyboard, a serial line or a GPIO pin,
stamps them with the device's own clock (microseconds), and posts them to Pitlane's lap-timer API
(`POST /api/v1/timer/crossings/`, `Authorization: Device <token>`).

    python -m drive_agent.laptimer --server https://pitlane.example --token pld_... --source keyboard
    python -m drive_agent.laptimer ... --source serial:/dev/ttyUSB0 --baud 115200
    python -m drive_agent.laptimer ... --source gpio:17

Nothing is lost when the network drops: every crossing is first appended to an on-disk queue (JSON
lines, flushed and fsynced) and leaves it only once the server has answered. Sending retries with
exponential backoff; each crossing carries a UUID, and the server is idempotent on it, so a retry
after a lost answer never makes a second lap. Standard library only (pyserial, gpiozero or RPi.GPIO
when those sources are used); no Django.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

logger = logging.getLogger("drive_agent.laptimer")

API_PATH = "/api/v1/timer/crossings/"


def default_queue_path(server: str, token: str) -> Path:
    """The on-disk queue of one device token on one server: crossings queued under one token are never
    sent later under another (a laptimer moved to another event, or another server, with a queue left
    over would otherwise post the old event's crossings as laps of the team on track in the new one).
    The name holds a hash, never the token."""
    key = hashlib.sha256(f"{server.rstrip('/')}\n{token}".encode()).hexdigest()[:16]
    return Path.home() / ".pitlane" / f"laptimer-queue-{key}.jsonl"


def device_time_us() -> int:
    """The device's clock: monotonic, in microseconds (never jumps with the wall clock)."""
    return time.monotonic_ns() // 1000


@dataclass(frozen=True)
class Crossing:
    crossing_id: str
    device_time_us: int
    sensor: str = ""

    @classmethod
    def now(cls, sensor: str = "", at_us: int | None = None) -> Crossing:
        return cls(uuid.uuid4().hex, device_time_us() if at_us is None else at_us, sensor)


class DiskQueue:
    """Crossings waiting to be sent, one JSON object a line, oldest first. Appends are fsynced before
    `put` returns; `remove` rewrites the file atomically (write a temp file, then rename)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self.path.touch(exist_ok=True)

    def put(self, crossing: Crossing) -> None:
        with self._lock, open(self.path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(asdict(crossing)) + "\n")
            handle.flush()
            os.fsync(handle.fileno())

    def pending(self) -> list[Crossing]:
        with self._lock:
            return self._read()

    def _read(self) -> list[Crossing]:
        crossings = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            line = line.strip()
            if not line:
                continue
            try:
                crossings.append(Crossing(**json.loads(line)))
            except (ValueError, TypeError):
                logger.warning("Skipping an unreadable queue line: %r", line[:80])
        return crossings

    def remove(self, crossing_id: str) -> None:
        with self._lock:
            kept = [c for c in self._read() if c.crossing_id != crossing_id]
            temporary = self.path.with_suffix(self.path.suffix + ".tmp")
            with open(temporary, "w", encoding="utf-8") as handle:
                handle.writelines(json.dumps(asdict(c)) + "\n" for c in kept)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, self.path)

    def __len__(self) -> int:
        return len(self.pending())


class TransientError(Exception):
    """Worth retrying: no connection, a timeout, a 5xx, 408 or 429."""


class RefusedError(Exception):
    """The server refused the token (401/403): retrying will not help."""


class Sender:
    """Posts crossings to the server; `post` answers the server's JSON or raises."""

    def __init__(self, server: str, token: str, timeout_s: float = 5.0):
        self.url = server.rstrip("/") + API_PATH
        self.token = token
        self.timeout_s = timeout_s

    def post(self, crossing: Crossing) -> dict:
        request = urllib.request.Request(
            self.url, data=json.dumps(asdict(crossing)).encode(), method="POST",
            headers={"Content-Type": "application/json", "Authorization": f"Device {self.token}"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                return json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as exc:
            body = exc.read()[:300].decode("utf-8", "replace")
            if exc.code in (401, 403):
                raise RefusedError(f"{exc.code}: {body}") from exc
            if exc.code >= 500 or exc.code in (408, 429):
                raise TransientError(f"{exc.code}: {body}") from exc
            # Any other 4xx: this crossing can never be accepted; drop it rather than block the queue.
            logger.error("Crossing %s refused (%s): %s", crossing.crossing_id, exc.code, body)
            return {"crossing_id": crossing.crossing_id, "status": "rejected", "http_status": exc.code}
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise TransientError(str(exc)) from exc


class LapTimer:
    """Queue first, then send: `record` stamps and stores a crossing; `flush` sends what is queued,
    oldest first, and stops at the first transient failure (the order is kept); `run_sender` flushes
    in a loop with exponential backoff until stopped."""

    def __init__(self, sender: Sender, queue: DiskQueue, sensor: str = "", *, backoff_initial_s: float = 0.5,
                 backoff_max_s: float = 30.0, on_answer: Callable[[Crossing, dict], None] | None = None):
        self.sender = sender
        self.queue = queue
        self.sensor = sensor
        self.backoff_initial_s = backoff_initial_s
        self.backoff_max_s = backoff_max_s
        self.on_answer = on_answer
        self.stopped = threading.Event()
        self.wake = threading.Event()
        self.sent = 0

    def record(self, at_us: int | None = None) -> Crossing:
        crossing = Crossing.now(self.sensor, at_us)
        self.queue.put(crossing)
        self.wake.set()
        return crossing

    def flush(self) -> bool:
        """Send the queue; True when it is empty afterwards."""
        for crossing in self.queue.pending():
            answer = self.sender.post(crossing)  # TransientError / RefusedError propagate
            self.queue.remove(crossing.crossing_id)
            self.sent += 1
            if self.on_answer:
                self.on_answer(crossing, answer)
        return len(self.queue) == 0

    def run_sender(self) -> None:
        delay = self.backoff_initial_s
        while not self.stopped.is_set():
            try:
                if self.flush():
                    delay = self.backoff_initial_s
                    self.wake.wait(1.0)
                    self.wake.clear()
                    continue
            except TransientError as exc:
                logger.warning("Server unreachable (%s): %d crossing(s) queued, retrying in %.1f s",
                               exc, len(self.queue), delay)
                self.stopped.wait(delay)
                delay = min(self.backoff_max_s, delay * 2)
            except RefusedError as exc:
                logger.error("The server refused this device's token (%s): stopping; the queue is kept.", exc)
                self.stopped.set()

    def drain(self, timeout_s: float) -> bool:
        """Keep trying to empty the queue for up to timeout_s; True when it is empty."""
        deadline = time.monotonic() + timeout_s
        delay = self.backoff_initial_s
        while True:
            try:
                if self.flush():
                    return True
            except TransientError:
                pass
            except RefusedError as exc:  # a revoked or wrong token: retrying cannot help; the queue is kept
                logger.error("The server refused this device's token (%s): %d crossing(s) kept in the queue.",
                             exc, len(self.queue))
                return False
            if time.monotonic() + delay > deadline:
                return len(self.queue) == 0
            time.sleep(delay)
            delay = min(self.backoff_max_s, delay * 2)


# -- sources: each yields the device time (µs) of a crossing ----------------------------------------

def keyboard_source(stream=None) -> Iterator[int]:
    """Enter or space (on a terminal, without Enter) is a crossing; 'q' or end of input stops. From a
    pipe, every line is a crossing; a line holding an integer is its device time in µs (a replay)."""
    stream = stream or sys.stdin
    if stream.isatty():
        import termios
        import tty

        fd = stream.fileno()
        saved = termios.tcgetattr(fd)
        tty.setcbreak(fd)
        try:
            while True:
                char = stream.read(1)
                stamp = device_time_us()
                if not char or char in "qQ\x04":
                    return
                if char in " \n\r":
                    yield stamp
        finally:
            termios.tcsetattr(fd, termios.TCSADRAIN, saved)
    for line in stream:
        yield _stamp(line)


def serial_source(port: str, baud: int = 115200) -> Iterator[int]:
    """A line per crossing. A line that is an integer is the sensor's own microsecond clock; any
    other line is stamped on arrival. Uses pyserial when installed, else reads the port as a file."""
    try:
        import serial
    except ImportError:
        serial = None
    if serial is not None:
        with serial.Serial(port, baud, timeout=None) as line:
            while True:
                raw = line.readline()
                if not raw:
                    return
                yield _stamp(raw.decode("ascii", "replace"))
    else:
        with open(port, encoding="ascii", errors="replace") as handle:
            for text in handle:
                yield _stamp(text)


def _stamp(line: str) -> int:
    text = line.strip()
    return int(text) if text.isdigit() else device_time_us()


def gpio_source(pin: int, stop: threading.Event) -> Iterator[int]:
    """A rising edge on the pin (BCM numbering) is a crossing: gpiozero if installed, else RPi.GPIO."""
    import queue as queue_module

    edges: queue_module.Queue[int] = queue_module.Queue()
    try:
        from gpiozero import Button

        button = Button(pin, pull_up=False, bounce_time=None)
        button.when_pressed = lambda: edges.put(device_time_us())
    except ImportError:
        try:
            from RPi import GPIO
        except ImportError:
            raise SystemExit("gpio source: neither gpiozero nor RPi.GPIO can be imported on this machine "
                             "(pip install gpiozero, on a Raspberry Pi)") from None
        GPIO.setmode(GPIO.BCM)
        GPIO.setup(pin, GPIO.IN, pull_up_down=GPIO.PUD_DOWN)
        GPIO.add_event_detect(pin, GPIO.RISING, callback=lambda _channel: edges.put(device_time_us()))
    while not stop.is_set():
        try:
            yield edges.get(timeout=0.5)
        except queue_module.Empty:
            continue


def open_source(spec: str, stop: threading.Event, baud: int = 115200) -> tuple[Iterator[int], str]:
    """The crossings of a --source spec and the sensor name they carry."""
    kind, _, arg = spec.partition(":")
    if kind == "keyboard":
        return keyboard_source(), "keyboard"
    if kind == "serial" and arg:
        return serial_source(arg, baud), f"serial:{Path(arg).name}"
    if kind == "gpio" and arg.isdigit():
        return gpio_source(int(arg), stop), f"gpio{arg}"
    raise SystemExit(f"Unknown source {spec!r}: use keyboard, serial:/dev/ttyUSB0 or gpio:17")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m drive_agent.laptimer", description=__doc__.split("\n\n")[0])
    parser.add_argument("--server", required=True, help="Pitlane's address, e.g. https://pitlane.example")
    parser.add_argument("--token", default=os.environ.get("PITLANE_DEVICE_TOKEN", ""),
                        help="the device token (or PITLANE_DEVICE_TOKEN)")
    parser.add_argument("--source", default="keyboard", help="keyboard | serial:/dev/ttyUSB0 | gpio:17")
    parser.add_argument("--sensor", default=None, help="sensor name sent with each crossing (default: the source)")
    parser.add_argument("--baud", type=int, default=115200)
    parser.add_argument("--queue", type=Path, default=None,
                        help="the on-disk queue of unsent crossings (JSON lines); default: one file per server "
                             "and token under ~/.pitlane/")
    parser.add_argument("--drain-timeout", type=float, default=30.0,
                        help="when the source ends, keep sending the queue for up to this many seconds")
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds per request")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    if not args.token:
        parser.error("--token (or PITLANE_DEVICE_TOKEN) is required")
    if args.queue is None:
        args.queue = default_queue_path(args.server, args.token)

    stop = threading.Event()
    source, sensor = open_source(args.source, stop, args.baud)

    def report(crossing: Crossing, answer: dict) -> None:
        lap = answer.get("lap")
        detail = f"lap {lap['lap_number']}: {lap['lap_time_s']:.3f} s" if lap else answer.get("status", "?")
        print(f"{crossing.crossing_id[:8]} {detail}", flush=True)

    timer = LapTimer(Sender(args.server, args.token, args.timeout), DiskQueue(args.queue),
                     args.sensor or sensor, on_answer=report)
    queued = len(timer.queue)
    if queued:
        logger.info("%d crossing(s) from an earlier run are queued: sending them first", queued)
    sender = threading.Thread(target=timer.run_sender, name="laptimer-sender", daemon=True)
    sender.start()
    try:
        for stamp in source:
            timer.record(stamp)
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        timer.stopped.set()
        sender.join(timeout=5)
    empty = timer.drain(args.drain_timeout)
    if not empty:
        logger.warning("%d crossing(s) still queued in %s: they are sent on the next run", len(timer.queue),
                       args.queue)
    return 0 if empty else 1


if __name__ == "__main__":
    raise SystemExit(main())
