"""Throttle from speed: a PI controller to a set speed (as Udacity's drive.py) or open loop.

Steering-only models say nothing about speed, so the agent chooses it: a fixed set speed, or a
set speed lowered in proportion to |steering| (slow in turns). Action-space models carry their
own speed, which becomes the set speed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from drive_agent.runtime import Prediction

#: The set speed of a steering-only model when none is given, in its car's unit: the one default
#: of the agent CLI (`--set-speed`), the site's evaluations and its evaluation form, and the pages
#: that show them. 15 mph is the Udacity car's speed the site's evaluations have always driven at.
UDACITY_SET_SPEED_MPH = 15.0
DEEPRACER_SET_SPEED_MS = 1.5
SET_SPEED_UNITS = {"udacity": "mph", "deepracer": "m/s"}


def default_set_speed(profile: str) -> float:
    """The default set speed for a car profile ("udacity": mph, "deepracer": m/s)."""
    return {"udacity": UDACITY_SET_SPEED_MPH, "deepracer": DEEPRACER_SET_SPEED_MS}[profile]


def default_set_speeds() -> dict[str, str]:
    """Each profile's default set speed with its unit, as pages and `--help` print it ("15 mph")."""
    return {profile: f"{default_set_speed(profile):g} {unit}" for profile, unit in SET_SPEED_UNITS.items()}


class SpeedPolicy(Protocol):
    set_speed: float  # the target speed on straights (mph for Udacity-camera models, m/s for DeepRacer)
    min_speed: float | None

    def __call__(self, measured_speed: float | None, prediction: Prediction) -> float:
        """Throttle -1..1 (negative brakes) before the race-time throttle scale."""

    def reset(self) -> None:
        """Forget controller state (between episodes)."""


def target_speed(set_speed: float, min_speed: float | None, prediction: Prediction) -> float:
    """The action's speed if the model gives one, else set_speed lowered linearly to min_speed
    at full lock."""
    if prediction.speed is not None:
        return prediction.speed
    if min_speed is None:
        return set_speed
    return set_speed - (set_speed - min_speed) * min(abs(prediction.steering), 1.0)


@dataclass
class PISpeedControl:
    """Closed loop on the measured speed; the gains are drive.py's (Kp 0.1, Ki 0.002), the set
    speed the agent's Udacity default."""

    set_speed: float = UDACITY_SET_SPEED_MPH
    kp: float = 0.1
    ki: float = 0.002
    min_speed: float | None = None
    integral: float = field(default=0.0, init=False)

    def __call__(self, measured_speed: float | None, prediction: Prediction) -> float:
        if measured_speed is None:
            return 0.0
        error = target_speed(self.set_speed, self.min_speed, prediction) - measured_speed
        self.integral += error
        return max(-1.0, min(1.0, self.kp * error + self.ki * self.integral))

    def reset(self) -> None:
        self.integral = 0.0


@dataclass
class OpenLoopThrottle:
    """No speed feedback (a real car without an encoder): throttle = throttle x target/set speed."""

    throttle: float = 0.3
    set_speed: float = 1.0
    min_speed: float | None = None

    def __call__(self, measured_speed: float | None, prediction: Prediction) -> float:
        target = target_speed(self.set_speed, self.min_speed, prediction)
        return max(-1.0, min(1.0, self.throttle * target / self.set_speed))

    def reset(self) -> None:
        """Stateless; present so every policy can be reset between episodes."""
