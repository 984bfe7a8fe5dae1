"""`--target deepracer`: drive an AWS DeepRacer from a laptop through its web console.

The agent logs in to the car (`drive_agent.deepracer_vehicle`), switches it to manual mode, reads
its camera's MJPEG stream and answers every frame it gets to with one manual-drive command from
the usual `DriveLoop`. The loop always takes the newest frame (older ones waiting behind it are
dropped: a late command is worse than a skipped one).

Safety: the car keeps its last command, so the agent stops it (throttle 0, then the console's
stop) on every way out: the stream ends or breaks, a request fails or times out, the model
raises, Ctrl-C or SIGTERM (a second Ctrl-C waits until the stop was sent). While no frame
arrives for `frame_timeout` the watchdog sends throttle 0 with the steering held; after
`stall_timeout` without a frame the drive ends with an error.
A frame whose command would reach the car more than `max_frame_age` after the frame began
arriving gets throttle 0 too ("late"): its age when the command is ready plus the slowest of the
last few command round trips (seed 000: at 0.35 s from picture to wheels the car weaved off the
road), so a car or Wi-Fi link that answers slowly brings the car to a stop, with a warning.

Latency per frame, printed at the end by the CLI: `net_in` (the JPEG's first to last byte),
`wait` (received until the loop takes it), `decode`, `preprocess`, `inference`, `net_out`
(the manual-drive request's round trip to the car).

Signs: the console's manual drive steers right with + angle and drives forward with - throttle.
Steering-only (regression) models steer right with + (the Udacity convention); action-space
models use DeepRacer's degrees (+ left). Throttle: the console rounds |throttle| up to 0.3, 0.5 or
0.8 and then scales it by its max speed (0..1, non-linear but monotonic), so the race-time
throttle scale multiplies the max speed sent with every command, where it acts continuously.
"""

from __future__ import annotations

import io
import logging
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from drive_agent.deepracer_vehicle import BATTERY_MAX, DeepRacerVehicle, JpegFrame, StreamError, VehicleError
from drive_agent.loop import DriveLoop
from drive_agent.model_card import ModelCard
from drive_agent.targets.car import fit_to_card, interrupt_on_signals, signals_held

log = logging.getLogger(__name__)

LOW_BATTERY = 3


@dataclass(frozen=True)
class DeepRacerOptions:
    max_speed: float = 0.5          # the console's max speed (0..1) before the race-time scale
    throttle_scale: float = 1.0     # race-time multiplier on max_speed
    frame_timeout: float = 0.25     # watchdog: throttle 0 after this long without a frame (s)
    stall_timeout: float = 2.0      # end the drive after this long without a frame (s)
    max_frame_age: float = 0.15     # throttle 0 for frames older than this when their command is ready (s)
    battery_every: float = 30.0     # print the battery level this often (s)

    @property
    def effective_max_speed(self) -> float:
        return max(0.0, min(1.0, self.max_speed * self.throttle_scale))


@dataclass
class DeepRacerRunStats:
    frames: int = 0          # frames the model answered
    received: int = 0        # frames the stream delivered
    dropped: int = 0         # received but skipped for a newer one
    unreadable: int = 0      # taken but not a readable JPEG (skipped)
    commands: Counter[str] = field(default_factory=Counter)
    battery: int | None = None
    stopped: bool = False    # the car acknowledged the final stop


class DriveStopped(RuntimeError):
    """The drive ended because of a failure; the car was told to stop (see `car_stopped`)."""

    def __init__(self, message: str, car_stopped: bool) -> None:
        super().__init__(message + ("; the car was stopped" if car_stopped
                                    else "; WARNING: the car did not confirm the stop, switch it off"))
        self.car_stopped = car_stopped


def steering_sign(card: ModelCard) -> float:
    """+1 when the model's + steering is right (regression, Udacity convention), -1 when it is
    left (action spaces in DeepRacer degrees)."""
    return 1.0 if card.action_space is None else -1.0


class LatestFrame:
    """Reads the stream on its own thread and keeps only the newest frame."""

    def __init__(self, frames: Iterator[JpegFrame]) -> None:
        self._frames = frames
        self._cond = threading.Condition()
        self._latest: JpegFrame | None = None
        self._error: Exception | None = None
        self.received = 0
        self.dropped = 0
        self._thread = threading.Thread(target=self._run, name="deepracer-camera", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        try:
            for frame in self._frames:
                with self._cond:
                    if self._latest is not None:
                        self.dropped += 1
                    self._latest = frame
                    self.received += 1
                    self._cond.notify()
            raise StreamError("the car closed the camera stream")
        except Exception as exc:  # noqa: BLE001 - any failure goes to the control loop, which stops the car
            with self._cond:
                self._error = exc
                self._cond.notify()

    def take(self, timeout: float) -> JpegFrame | None:
        """The newest frame not taken yet, waiting up to `timeout`; None on timeout. Raises
        the reader's error once the frames it delivered are used up."""
        with self._cond:
            if self._latest is None and self._error is None:
                self._cond.wait(timeout)
            frame, self._latest = self._latest, None
            if frame is None and self._error is not None:
                raise self._error
            return frame


class UnreadableFrame(StreamError):
    """One frame that is not a readable JPEG (skipped: the watchdog and the stall check treat it
    as no frame)."""


def decode_jpeg(data: bytes) -> np.ndarray:
    try:
        with Image.open(io.BytesIO(data)) as img:
            return np.asarray(img.convert("L" if img.mode == "L" else "RGB"))
    except (OSError, ValueError) as exc:
        reason = "not an image" if isinstance(exc, Image.UnidentifiedImageError) else str(exc)
        message = f"the car sent a frame that is not a readable JPEG ({len(data)} bytes: {reason})"
        raise UnreadableFrame(message) from exc


class DeepRacerDriver:
    """Connects one `DriveLoop` to one logged-in `DeepRacerVehicle`."""

    def __init__(self, loop: DriveLoop, vehicle: DeepRacerVehicle, options: DeepRacerOptions,
                 out: Callable[[str], None] = print) -> None:
        self.loop, self.vehicle, self.options, self.out = loop, vehicle, options, out
        self.sign = steering_sign(loop.card)
        self.stats = DeepRacerRunStats()
        self._steering = 0.0  # + right, in the console's units
        self._round_trips: deque[float] = deque(maxlen=3)  # the last commands' round trips (s)
        self._slow_link = False

    def run(self, stop: threading.Event | None = None) -> DeepRacerRunStats:
        """Drive until `stop` is set (returns) or something fails (raises DriveStopped); the car
        is stopped either way. KeyboardInterrupt stops the car and propagates."""
        stream = None
        try:
            self.vehicle.stop()
            self.vehicle.set_drive_mode("manual")
            self._report_battery()
            card = self.loop.card
            # the socket's own timeout is a backstop: the loop's stall check fires first
            stream = self.vehicle.camera_stream(card.input.width, card.input.height,
                                                timeout=self.options.stall_timeout + 1.0)
            self._timed(lambda: self.vehicle.drive(0.0, 0.0, self.options.effective_max_speed))
            self._timed(self.vehicle.start)
            self.out(f"drive_agent: driving the DeepRacer at {self.vehicle.host} in manual mode, max speed "
                     f"{self.options.effective_max_speed:.2f} (Ctrl-C stops the car)")
            self._drive(LatestFrame(stream.frames()), stop)
        except Exception as exc:  # the stream, a request, the model: stop the car, then report
            stopped = self._stop_car()
            raise DriveStopped(str(exc), stopped) from exc
        except BaseException:
            self._stop_car()
            raise
        finally:
            if stream is not None:
                stream.close()
        self.stats.stopped = self._stop_car()
        return self.stats

    def _drive(self, reader: LatestFrame, stop: threading.Event | None) -> None:
        opts = self.options
        reader.start()
        last_frame = last_watchdog = time.perf_counter()
        next_battery = time.monotonic() + opts.battery_every
        try:
            while stop is None or not stop.is_set():
                frame = reader.take(min(0.05, opts.frame_timeout / 4))
                now = time.perf_counter()
                if frame is not None:
                    try:
                        self._answer(frame)
                    except UnreadableFrame as exc:  # skipped, as no frame at all
                        self.stats.unreadable += 1
                        if self.stats.unreadable == 1:
                            self.out(f"drive_agent: skipping it: {exc}")
                    else:
                        last_frame = now
                        if time.monotonic() >= next_battery:
                            self._report_battery()
                            next_battery = time.monotonic() + opts.battery_every
                        continue
                if now - last_frame > opts.stall_timeout:
                    unreadable = self.stats.unreadable
                    what = f"readable camera frame ({unreadable} unreadable)" if unreadable else "camera frame"
                    raise StreamError(f"no {what} for {opts.stall_timeout:.1f} s")
                if now - last_frame > opts.frame_timeout and now - last_watchdog >= opts.frame_timeout:
                    self._send(self._steering, 0.0, "watchdog")
                    last_watchdog = now
        finally:
            self.stats.received, self.stats.dropped = reader.received, reader.dropped

    def _answer(self, frame: JpegFrame) -> None:
        timer = self.loop.stats.frame()
        taken = timer.start
        timer.start = frame.started
        timer.durations["net_in"] = frame.received - frame.started
        timer.durations["wait"] = taken - frame.received
        image = fit_to_card(decode_jpeg(frame.jpeg), self.loop.card)
        timer.lap("decode")
        command = self.loop.step(image, None, timer, raw_image=frame.jpeg)
        steering = max(-1.0, min(1.0, self.sign * command.steering))
        late = time.perf_counter() - frame.started + self._link_delay() > self.options.max_frame_age
        self._send(steering, 0.0 if late else command.throttle, "late" if late else "model")
        timer.lap("net_out")
        timer.done()
        self.stats.frames += 1
        slow = self.loop.stats.slow_warning() if self.stats.frames % 100 == 0 else None
        if slow:
            self.out("drive_agent: " + slow)

    def _send(self, steering: float, throttle: float, source: str) -> None:
        self._timed(lambda: self.vehicle.drive(steering, throttle, self.options.effective_max_speed))
        self._steering = steering
        self.stats.commands[source] += 1

    def _timed(self, request: Callable[[], None]) -> None:
        started = time.perf_counter()
        request()
        self._round_trips.append(time.perf_counter() - started)

    def _link_delay(self) -> float:
        """How late a command may reach the car: the slowest of the last round trips (the agent
        cannot tell when within one the car acted). Warns when the link alone is too slow."""
        delay = max(self._round_trips, default=0.0)
        slow = delay > self.options.max_frame_age
        if slow and not self._slow_link:
            self.out(f"drive_agent: WARNING: the car takes {delay * 1000:.0f} ms to answer a command "
                     f"(more than --max-frame-age {self.options.max_frame_age:g} s): throttle 0 until it answers "
                     "in time; seed 000: at 0.35 s/frame the car weaved off the road")
        elif self._slow_link and not slow:
            self.out(f"drive_agent: the car answers in {delay * 1000:.0f} ms again: driving on")
        self._slow_link = slow
        return delay

    def _report_battery(self) -> None:
        try:
            level = self.vehicle.battery_level()
        except VehicleError as exc:
            self.out(f"drive_agent: battery level unavailable ({exc})")
            return
        self.stats.battery = level
        if level is None:
            self.out("drive_agent: battery level unknown (the car cannot read it)")
        else:
            low = "  LOW: charge the compute battery" if level <= LOW_BATTERY else ""
            self.out(f"drive_agent: battery level {level}/{BATTERY_MAX}{low}")

    def _stop_car(self) -> bool:
        """Throttle 0 (steering held), then the console's stop, with Ctrl-C and SIGTERM held back
        until both were tried. True when the car acknowledged at least one of them."""
        acknowledged = False
        with signals_held():
            try:
                self.vehicle.drive(self._steering, 0.0, 0.0)
                self.stats.commands["stop"] += 1
                acknowledged = True
            except VehicleError as exc:
                log.error("could not send throttle 0 to the car: %s", exc)
            try:
                self.vehicle.stop()
                acknowledged = True
            except VehicleError as exc:
                log.error("could not stop the car: %s", exc)
        return acknowledged


def run_deepracer(loop: DriveLoop, address: str, password: str, options: DeepRacerOptions,
                  stop: threading.Event | None = None, out: Callable[[str], None] = print,
                  timeout: float = 2.0) -> DeepRacerRunStats:
    """Log in to the car at `address` and drive it until `stop`, Ctrl-C or a failure."""
    vehicle = DeepRacerVehicle(address, password, timeout=timeout)
    try:
        vehicle.login()
        driver = DeepRacerDriver(loop, vehicle, options, out)
        try:
            with interrupt_on_signals():
                return driver.run(stop)
        finally:
            s = driver.stats
            unreadable = f", {s.unreadable} unreadable" if s.unreadable else ""
            out(f"drive_agent: {s.frames} frames answered ({s.received} received, {s.dropped} skipped for newer "
                f"ones{unreadable}), commands {dict(s.commands)}")
    finally:
        vehicle.close()
