"""A scripted driver for recording training data: pure pursuit on an offset of the centre line.

Why: behavioural cloning needs many laps of plausible driving, including imperfect driving
(noise, weaving) and recoveries from the road edge, and sometimes the spiky stepped steering a
person produces with arrow keys. `Autopilot` gives smooth steering; `KeyboardDriver` turns it
into arrow-key presses the way the Unity simulator's keyboard axis does.
"""

from __future__ import annotations

import itertools
import math
import random
from dataclasses import dataclass
from typing import Any, NamedTuple

from simulator.car import MPH, CarProfile, CarState, Command, anticipated_pose, steering_command_deg


class Controls(NamedTuple):
    """Driver outputs: steering -1..1 (x the car's max steering; positive = left, as in our
    physics and DeepRacer; Udacity logs and wire use the opposite sign, see
    `driving_log.to_udacity_steering`), throttle 0..1, brake 0..1."""

    steering: float
    throttle: float
    brake: float

    def to_command(self, profile: CarProfile, target_speed: float | None = None) -> Command:
        """The physics command: throttle/brake for throttle cars, commanded speed for DeepRacer."""
        steering_deg = self.steering * profile.max_steering_deg
        if profile.min_speed > 0 and target_speed is not None:
            return Command(steering_deg=steering_deg, speed=target_speed)
        return Command(steering_deg=steering_deg, throttle=self.throttle, brake=self.brake)


@dataclass(frozen=True)
class AutopilotConfig:
    """How the autopilot drives. Offsets are fractions of the local half width (+ = left)."""

    target_speed: float | None = None  # m/s; None: 20 mph on roads, 1.5 m/s for DeepRacer
    lookahead_s: float = 0.7
    min_lookahead_m: float | None = None  # None: 2 wheelbases
    lateral_grip_use: float = 0.6  # fraction of the car's grip used in corners
    line_offset: float = 0.0
    weave_amplitude: float = 0.0
    weave_period_m: float | None = None  # None: 60 wheelbases
    steering_noise: float = 0.0  # standard deviation, normalised steering units
    speed_kp: float = 0.35
    speed_ki: float = 0.02


class Autopilot:
    """Pure-pursuit steering plus a PI speed controller that slows for the coming curvature."""

    def __init__(self, track: Any, profile: CarProfile, config: AutopilotConfig | None = None,
                 seed: int | None = 0) -> None:
        self.track = track
        self.profile = profile
        self.config = config or AutopilotConfig()
        default_speed = 20.0 * MPH if profile.min_speed == 0 else 1.5
        self.target_speed = self.config.target_speed or default_speed
        self.commanded_speed = self.target_speed  # the speed goal of the last `act` (DeepRacer actions)
        self.min_lookahead = self.config.min_lookahead_m or 2.0 * profile.wheelbase
        self.weave_period = self.config.weave_period_m or 60.0 * profile.wheelbase
        self._rng = random.Random(seed)
        self._integral = 0.0
        self._hint: int | None = None
        self.distance = 0.0  # arc length of the car's projection on the centre line
        self.offset = 0.0  # signed lateral offset from the centre line (m, + = left)
        self.half_width = 1.0

    def locate(self, state: CarState) -> None:
        """Project the car on the centre line (cheap local search after the first call)."""
        proj = self.track.project_local(state.x, state.y, self._hint)
        self._hint = proj.segment
        self.distance = proj.distance
        self.offset = proj.offset
        left, right = self.track.half_widths_at(proj)
        self.half_width = left if proj.offset > 0 else right

    def planned_offset(self, distance: float) -> float:
        """The lateral offset (fraction of half width) the plan wants at `distance`."""
        cfg = self.config
        weave = cfg.weave_amplitude * math.sin(2 * math.pi * distance / self.weave_period)
        return cfg.line_offset + weave

    def steering_towards(self, state: CarState, offset_m: float, lookahead_scale: float = 1.0) -> float:
        """Normalised pure-pursuit steering to the point `offset_m` left of the centre line ahead."""
        p = self.profile
        lookahead = max(self.min_lookahead, abs(state.speed) * self.config.lookahead_s) * lookahead_scale
        # Steer from where the car will be when this command tells (DeepRacer's car responds late).
        x, y, yaw = anticipated_pose(p, state)
        ahead = abs(state.speed) * p.response_time_s
        tx, ty, _ = self.track.pose_at(self.distance + ahead + lookahead, offset_m)
        alpha = math.atan2(ty - y, tx - x) - yaw
        alpha = (alpha + math.pi) % (2 * math.pi) - math.pi
        reach = math.hypot(tx - x, ty - y)
        delta = math.atan2(2.0 * p.wheelbase * math.sin(alpha), max(reach, 1e-6))
        return steering_command_deg(p, delta) / p.max_steering_deg

    def corner_speed(self) -> float:
        """Highest speed the next ~2 s of road allows at `lateral_grip_use` of the grip."""
        horizon = max(4.0 * self.min_lookahead, self.target_speed * 2.0)
        steps = 6
        step = horizon / steps
        headings = [self.track.pose_at(self.distance + k * step)[2] for k in range(steps + 1)]
        turn = max(abs((b - a + math.pi) % (2 * math.pi) - math.pi) for a, b in itertools.pairwise(headings))
        curvature = turn / step
        if curvature < 1e-6:
            return self.target_speed
        return min(self.target_speed, math.sqrt(self.config.lateral_grip_use * self.profile.grip / curvature))

    def speed_controls(self, speed: float, target: float) -> tuple[float, float]:
        """(throttle, brake) of a PI controller holding `target` m/s."""
        error = target - speed
        if error < -0.15 * max(target, 1.0):
            self._integral = 0.0
            return 0.0, min(1.0, -error * 0.25)
        self._integral = max(-5.0, min(5.0, self._integral + error))
        throttle = self.config.speed_kp * error + self.config.speed_ki * self._integral
        return max(0.0, min(1.0, throttle)), 0.0

    def act(self, state: CarState, offset_fraction: float | None = None, lookahead_scale: float = 1.0,
            target_speed: float | None = None) -> Controls:
        """Controls for this step; `offset_fraction` overrides the planned line (recoveries)."""
        self.locate(state)
        fraction = self.planned_offset(self.distance) if offset_fraction is None else offset_fraction
        steering = self.steering_towards(state, fraction * self.half_width, lookahead_scale)
        if self.config.steering_noise:
            steering += self._rng.gauss(0.0, self.config.steering_noise)
        speed_goal = min(self.corner_speed(), target_speed or self.target_speed)
        throttle, brake = self.speed_controls(state.speed, speed_goal)
        self.commanded_speed = speed_goal
        return Controls(max(-1.0, min(1.0, steering)), throttle, brake)


class KeyboardDriver:
    """Arrow-key steering as the Unity simulator reads it (`Input.GetAxis("Horizontal")`).

    A pressed key moves the axis toward +-1 at `sensitivity` per second (snapping through zero
    when reversing); released, it falls back toward zero at `gravity` per second and stops at
    exactly zero. The driver presses when the accumulated error to the wanted steering is large
    (sigma-delta), so the mean follows the wanted steering while single frames are spiky
    pulses separated by many exact zeros.
    """

    def __init__(self, hz: float = 15.0, sensitivity: float = 5.0, gravity: float = 3.0,
                 threshold: float = 0.25, seed: int | None = 0) -> None:
        self.rise = sensitivity / hz
        self.fall = gravity / hz
        self.threshold = threshold
        self._rng = random.Random(seed)  # frame-time jitter: real logs run at 9-14 Hz, not 15
        self.axis = 0.0
        self._error = 0.0

    def steer(self, wanted: float) -> float:
        """The axis value this frame, given the steering the driver wants."""
        self._error += wanted - self.axis
        key = 0
        if self._error > self.threshold:
            key = 1
        elif self._error < -self.threshold:
            key = -1
        if key:
            if self.axis * key < 0:
                self.axis = 0.0
            self.axis = max(-1.0, min(1.0, self.axis + key * self.rise * self._rng.uniform(0.8, 1.3)))
        elif self.axis > 0:
            self.axis = max(0.0, self.axis - self.fall * self._rng.uniform(0.8, 1.3))
        else:
            self.axis = min(0.0, self.axis + self.fall * self._rng.uniform(0.8, 1.3))
        self._error = max(-1.0, min(1.0, self._error))
        return self.axis
