"""Recording of what the agent saw and did, in the simulator's own training-log layout.

`IMG/center_{yyyy_MM_dd_HH_mm_ss_fff}.jpg` plus a header-less `driving_log.csv`
(`center,left,right,steering,throttle,brake,speed`, left/right empty), so a drive can be replayed
or fed back to training like a simulator recording. Files are written by a background thread so
the control loop never waits on the disk; when the disk cannot keep up, frames are dropped and
counted instead of slowing the car.

Images are named by the recorder's clock: the wall clock by default (a real car, the Udacity
simulator), or the simulator's own time in the sim target, which runs faster than real time (a
20 s drive takes a second or two), so that the names step by the simulation's dt and a dataset made
from the recording reports the drive's real duration and rate.
"""

from __future__ import annotations

import io
import logging
import queue
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
from PIL import Image

log = logging.getLogger(__name__)


#: What a recorder asks for the time of each frame it records; None: no time has passed since the
#: frame before (the simulator's first step of a trial only prepares it), so there is no new frame.
Clock = Callable[[], datetime | None]


class SimClock:
    """A clock that reads simulated time: `start` (the wall time the drive began, to the
    millisecond) plus the simulator's seconds, which the driver sets with `set(sim_time)`.

    Read twice at one simulated instant it answers None the second time: the simulator's first
    step of a trial (DeepRacer's 'prepare' step) takes no time, so the frame seen after it is the
    one seen before it, and a recording holds one frame per instant."""

    def __init__(self, start: datetime | None = None) -> None:
        start = start or datetime.now()
        self.start = start.replace(microsecond=start.microsecond // 1000 * 1000)
        self.sim_time = 0.0
        self._last: datetime | None = None

    def set(self, sim_time: float) -> None:
        self.sim_time = sim_time

    def __call__(self) -> datetime | None:
        # Whole milliseconds, rounded: the image names hold milliseconds, and a sum of dt steps
        # (0.0666...) must not be truncated a millisecond short.
        now = self.start + timedelta(milliseconds=round(self.sim_time * 1000.0))
        if self._last is not None and now <= self._last:
            return None
        self._last = now
        return now


class Recorder:
    """`clock` gives each recorded frame its time (and so its image name); wall time by default.
    `use_clock` swaps it, e.g. for the simulator's time once the sim target starts driving."""

    def __init__(self, folder: str | Path, max_pending: int = 256, clock: Clock = datetime.now) -> None:
        self.clock = clock
        self.folder = Path(folder)
        self.image_dir = self.folder / "IMG"
        self.image_dir.mkdir(parents=True, exist_ok=True)
        self._log = open(self.folder / "driving_log.csv", "a", encoding="utf-8", newline="")  # noqa: SIM115 (closed by close())
        self._queue: queue.Queue = queue.Queue(maxsize=max_pending)
        self.dropped = 0
        self.written = 0
        self._last_name = ""
        self._thread = threading.Thread(target=self._write_loop, name="recorder", daemon=True)
        self._thread.start()

    def record(self, image: np.ndarray | bytes, steering: float, throttle: float,
               speed: float | None) -> None:
        """Queue one frame (a uint8 array, or JPEG bytes as received) and the command sent."""
        stamp = self.clock()
        if stamp is None:
            return
        try:
            self._queue.put_nowait((stamp, image, steering, throttle, speed))
        except queue.Full:
            self.dropped += 1

    def use_clock(self, clock: Clock) -> None:
        """Time the frames recorded from now on by `clock`."""
        self.clock = clock

    def close(self) -> None:
        """Flush pending frames and close the log."""
        self._queue.put(None)
        self._thread.join()
        self._log.close()
        if self.dropped:
            log.warning("recorder dropped %d frames (disk too slow)", self.dropped)

    def _write_loop(self) -> None:
        while (item := self._queue.get()) is not None:
            stamp, image, steering, throttle, speed = item
            try:
                self._write(stamp, image, steering, throttle, speed)
            except OSError as exc:
                log.error("recorder cannot write frame: %s", exc)

    def _write(self, stamp: datetime, image: np.ndarray | bytes, steering: float, throttle: float,
               speed: float | None) -> None:
        name = self._unique_name(stamp)
        path = (self.image_dir / name).resolve()
        if isinstance(image, (bytes, bytearray)):
            path.write_bytes(image)
        else:
            buf = io.BytesIO()
            Image.fromarray(np.squeeze(image)).save(buf, format="JPEG", quality=95)
            path.write_bytes(buf.getvalue())
        brake = max(0.0, -throttle)
        self._log.write(f"{path}, , , {steering:.6f}, {max(0.0, throttle):.6f}, {brake:.6f}, "
                        f"{0.0 if speed is None else speed:.6f}\n")
        self._log.flush()
        self.written += 1

    def _unique_name(self, stamp: datetime) -> str:
        base = f"center_{stamp:%Y_%m_%d_%H_%M_%S}_{stamp.microsecond // 1000:03d}"
        name, n = f"{base}.jpg", 1
        while name == self._last_name or (self.image_dir / name).exists():
            name, n = f"{base}_{n}.jpg", n + 1
        self._last_name = name
        return name
