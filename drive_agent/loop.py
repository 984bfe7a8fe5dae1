"""The control loop: frame -> preprocess -> infer -> steering and throttle.

This is the one place where a frame becomes a command. Every target (the Udacity simulator
server, our simulator in-process, a physical car) and the evaluation workers call `DriveLoop.step`;
the targets only differ in where frames come from and where commands go.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from drive_agent.latency import FrameTimer, LatencyStats
from drive_agent.preprocessing import FrameStack, preprocess
from drive_agent.recorder import Recorder
from drive_agent.runtime import Prediction, TFLiteModel
from drive_agent.speed import PISpeedControl, SpeedPolicy


@dataclass(frozen=True)
class Command:
    """What to send to the car: steering normalised -1..1, throttle -1..1 (scale applied)."""

    steering: float
    throttle: float
    prediction: Prediction


class DriveLoop:
    """Model + speed policy + race-time throttle scale + latency stats (+ optional recorder).

    `step` is thread-safe (one interpreter, one lock): a server may call it from several
    connection threads.
    """

    def __init__(self, model: TFLiteModel, speed: SpeedPolicy | None = None,
                 throttle_scale: float = 1.0, recorder: Recorder | None = None,
                 stats: LatencyStats | None = None) -> None:
        self.model = model
        self.card = model.card
        self.speed = speed if speed is not None else PISpeedControl()
        self.throttle_scale = throttle_scale
        self.recorder = recorder
        self.stats = stats if stats is not None else LatencyStats()
        stack = self.card.preprocessing.stack
        self._frames = FrameStack(stack) if stack > 1 else None
        self._lock = threading.Lock()

    def step(self, frame: np.ndarray, measured_speed: float | None, timer: FrameTimer | None = None,
             raw_image: bytes | None = None) -> Command:
        """Decide one command. `timer` (from `stats.frame()`) gets the preprocess and inference
        laps; the caller laps decode/send and calls `timer.done()`. `raw_image`, when given,
        is what gets recorded (the JPEG as received, no re-encoding). Raises ValueError for a
        frame whose size is not the card's input size."""
        expected = (self.card.input.height, self.card.input.width)
        if frame.shape[:2] != expected:
            raise ValueError(f"frame is {frame.shape[1]}x{frame.shape[0]}, the model card expects "
                             f"{expected[1]}x{expected[0]}")
        with self._lock:
            x = preprocess(frame, self.card.preprocessing)
            if self._frames is not None:
                x = self._frames.push(x)
            if timer is not None:
                timer.lap("preprocess")
            prediction = self.model.predict(x)
            if timer is not None:
                timer.lap("inference")
            throttle = self.speed(measured_speed, prediction) * self.throttle_scale
            command = Command(steering=prediction.steering, throttle=max(-1.0, min(1.0, throttle)),
                              prediction=prediction)
        if self.recorder is not None:
            self.recorder.record(raw_image if raw_image is not None else frame,
                                 command.steering, command.throttle, measured_speed)
        return command

    def reset(self) -> None:
        """Forget speed-controller state and the frame history (stacking models), e.g. after
        the car was reset on the track."""
        self.speed.reset()
        if self._frames is not None:
            with self._lock:
                self._frames.reset()

    def close(self) -> str:
        """Stop recording and return the latency report (printed by the CLI at exit)."""
        if self.recorder is not None:
            self.recorder.close()
        return self.stats.report()
