"""Recording of what the agent saw and did, in the simulator's own training-log layout.

`IMG/center_{yyyy_MM_dd_HH_mm_ss_fff}.jpg` plus a header-less `driving_log.csv`
(`center,left,right,steering,throttle,brake,speed`, left/right empty), so a drive can be replayed
or fed back to training like a simulator recording. Files are written by a background thread so
the control loop never waits on the disk; when the disk cannot keep up, frames are dropped and
counted instead of slowing the car.
"""

from __future__ import annotations

import io
import logging
import queue
import threading
from datetime import datetime
from pathlib import Path

import numpy as np
from PIL import Image

log = logging.getLogger(__name__)


class Recorder:
    def __init__(self, folder: str | Path, max_pending: int = 256) -> None:
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
        try:
            self._queue.put_nowait((datetime.now(), image, steering, throttle, speed))
        except queue.Full:
            self.dropped += 1

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
