"""Car physics: a kinematic bicycle model with actuator limits and a lateral-grip limit.

Why this model: it is cheap (a few dozen float operations a step, no allocation), deterministic,
and still makes a car that enters a corner too fast slide wide. The heading follows the steering
geometry (yaw rate = v tan(delta) / wheelbase, capped), but the direction the car actually travels
can only turn at `grip / speed` (lateral acceleration never exceeds the grip), so at speed the
velocity lags the heading and the car runs wide of the path its wheels point at.

Two profiles: DEEPRACER (the 1/18 car, actions are commanded speed + steering at 15 Hz) and
UDACITY (a full-size car driven with throttle and brake, top speed 30 mph).

A profile's response model says how late and how far the car follows a command: a dead time
before it reaches the actuators, a speed gain and time constant, a steering gain and time
constant. DEEPRACER's are fitted to the AWS console's own traces (simulator.car_fit), so a lap
here compares with a lap there; UDACITY's are the ideal car's (no lag, gains 1, instant).
"""

from __future__ import annotations

import math
import random
from collections import deque
from dataclasses import dataclass
from typing import NamedTuple

MPH = 0.44704  # metres per second in one mile per hour


@dataclass(frozen=True)
class CarProfile:
    """Physical limits of a car. Lengths in metres, speeds in m/s, accelerations in m/s^2."""

    name: str
    max_steering_deg: float
    steering_rate_deg_s: float  # how fast the steering servo turns
    min_speed: float  # lowest commanded action speed (DeepRacer); 0 for throttle cars
    max_speed: float
    max_reverse_speed: float
    max_accel: float
    max_brake: float
    coast_decel: float  # rolling resistance + drag with no throttle
    grip: float  # lateral acceleration limit
    yaw_overshoot: float  # heading may turn this much faster than grip allows the path to
    max_slip_deg: float  # the travel direction never lags the heading by more than this
    slip_time_constant_s: float  # how quickly the travel direction catches up with the heading
    slide_scrub: float  # extra deceleration (x grip) while sliding sideways
    wheelbase: float
    wheel_track: float  # distance between left and right wheel contact points
    width: float  # body width (racing-line margins)
    length: float
    action_hz: float  # control decisions per second
    substeps: int  # physics sub-steps per control decision
    xy_ahead: float  # DeepRacer reports the point this far ahead of the car origin
    # Response model (defaults: an ideal car that does at once what the limits above allow).
    response_lag_s: float = 0.0  # dead time before a command reaches the actuators
    speed_gain: float = 1.0  # the speed a speed-controlled car settles at per m/s commanded
    speed_time_constant_s: float = 0.0  # first-order approach to the target speed
    steering_gain: float = 1.0  # effective wheel angle per degree commanded (tyre slip, servo)
    steering_time_constant_s: float = 0.0  # first-order servo, within steering_rate_deg_s

    @property
    def dt(self) -> float:
        """Duration of one control step (seconds)."""
        return 1.0 / self.action_hz

    @property
    def top_speed(self) -> float:
        """The fastest the car goes (m/s): the top commanded speed times the speed gain."""
        return self.max_speed * self.speed_gain

    @property
    def response_time_s(self) -> float:
        """Roughly how long a command takes to tell: the lag plus the steering time constant."""
        return self.response_lag_s + self.steering_time_constant_s

    @property
    def lag_substeps(self) -> int:
        """The response lag in physics sub-steps (its resolution)."""
        return round(self.response_lag_s * self.action_hz * self.substeps)


# The response (lag, speed gain and time constant, acceleration, steering gain and time constant)
# is fitted to the AWS console's own traces on reinvent_base (deepracer-utils' test logs: 20 training
# episodes and 3 evaluation laps, 1,256 steps; `python bench/car_fit.py` refits, simulator/car_fit.py
# says how). Residuals with these values: speed 0.075 m/s rms per step (0.19 for an ideal car),
# heading 0.78 deg rms per step; path 0.10 m after 1 s and 0.27 m after 2 s (mean, open loop).
# The console's wheel angle is sluggish (0.53 s) and turns the car as 0.67 x the command would on
# our wheelbase; its speed settles 5 % above the command. Grip and braking are not in the traces.
DEEPRACER = CarProfile(
    name="deepracer",
    max_steering_deg=30.0,
    steering_rate_deg_s=300.0,
    min_speed=0.1,
    max_speed=4.0,
    max_reverse_speed=0.0,
    max_accel=3.23,
    max_brake=5.0,
    coast_decel=0.5,
    grip=9.0,
    yaw_overshoot=1.0,
    slip_time_constant_s=0.03,
    slide_scrub=0.3,
    max_slip_deg=35.0,
    wheelbase=0.165,
    wheel_track=0.17,
    width=0.2,
    length=0.3,
    action_hz=15.0,
    substeps=4,
    xy_ahead=0.14,
    response_lag_s=1.0 / 15.0,
    speed_gain=1.049,
    speed_time_constant_s=0.175,
    steering_gain=0.673,
    steering_time_constant_s=0.526,
)

UDACITY = CarProfile(
    name="udacity",
    max_steering_deg=25.0,
    steering_rate_deg_s=120.0,
    min_speed=0.0,
    max_speed=30.0 * MPH,
    max_reverse_speed=3.0,
    max_accel=3.5,
    max_brake=8.0,
    coast_decel=0.4,
    grip=7.5,
    yaw_overshoot=1.0,
    slip_time_constant_s=0.1,
    slide_scrub=0.3,
    max_slip_deg=35.0,
    wheelbase=2.7,
    wheel_track=1.6,
    width=1.9,
    length=4.6,
    action_hz=15.0,
    substeps=4,
    xy_ahead=0.0,
)

PROFILES = {"deepracer": DEEPRACER, "udacity": UDACITY}


def get_profile(name: str) -> CarProfile:
    """A car profile by name ('deepracer' or 'udacity')."""
    try:
        return PROFILES[name.lower()]
    except KeyError:
        raise KeyError(f"unknown car profile {name!r}; known: {sorted(PROFILES)}") from None


class CarState(NamedTuple):
    """Pose and motion of a car: x, y (m) of the car origin (rear axle), yaw (rad),
    speed (m/s, negative when reversing), steering (rad, positive = left), slip (rad, travel
    direction minus yaw; non-zero while sliding)."""

    x: float
    y: float
    yaw: float
    speed: float = 0.0
    steering: float = 0.0
    slip: float = 0.0


class Command(NamedTuple):
    """A control input. `speed` set: hold that speed (DeepRacer action); otherwise drive with
    `throttle` (-1..1, negative brakes then reverses) and `brake` (0..1), as Udacity does."""

    steering_deg: float
    speed: float | None = None
    throttle: float = 0.0
    brake: float = 0.0

    @classmethod
    def udacity(cls, steering: float, throttle: float, brake: float = 0.0) -> Command:
        """From the Udacity wire convention: steering normalised -1..1 (x 25 degrees), positive = right.

        Our physics turns left for positive angles (as DeepRacer does), so the sign flips here.
        """
        return cls(steering_deg=-steering * UDACITY.max_steering_deg, throttle=throttle, brake=brake)


class _Target(NamedTuple):
    """What the actuators aim for: wheel angle (rad), speed (m/s, None: throttle/brake driven)."""

    steering: float
    speed: float | None
    throttle: float
    brake: float


def _wrap(angle: float) -> float:
    return (angle + math.pi) % (2.0 * math.pi) - math.pi


class Car:
    """One car stepping at a fixed time step; deterministic for a seed.

    Optional actuator noise (`steering_noise_deg`, `speed_noise` standard deviations) is drawn
    from a private `random.Random(seed)`, so two cars with the same seed and inputs agree exactly.
    """

    def __init__(
        self,
        profile: CarProfile,
        state: CarState | None = None,
        seed: int | None = None,
        steering_noise_deg: float = 0.0,
        speed_noise: float = 0.0,
    ) -> None:
        self.profile = profile
        self.state = state or CarState(0.0, 0.0, 0.0)
        self.steering_noise = math.radians(steering_noise_deg)
        self.speed_noise = speed_noise
        self._rng = random.Random(seed)
        self._pending: deque[_Target] = deque()
        self._hold(self.state)

    def seed(self, seed: int | None) -> None:
        self._rng = random.Random(seed)

    def reset(self, state: CarState) -> CarState:
        """Put the car in `state`; the commands still in flight (response lag) hold that state."""
        self.state = state
        self._hold(state)
        return state

    def _hold(self, state: CarState) -> None:
        self._pending = deque([_Target(state.steering, state.speed, 0.0, 0.0)] * self.profile.lag_substeps)

    def step(self, command: Command) -> CarState:
        """Advance one control step (1 / action_hz seconds) under `command`."""
        p = self.profile
        max_steer = math.radians(p.max_steering_deg)
        target_steer = math.radians(command.steering_deg)
        if self.steering_noise:
            target_steer += self._rng.gauss(0.0, self.steering_noise)
        target_steer = min(max(target_steer, -max_steer), max_steer) * p.steering_gain
        target_speed = command.speed
        if target_speed is not None:
            if self.speed_noise:
                target_speed += self._rng.gauss(0.0, self.speed_noise)
            target_speed = min(max(target_speed, 0.0), p.max_speed) * p.speed_gain
        throttle = min(max(command.throttle, -1.0), 1.0)
        brake = min(max(command.brake, 0.0), 1.0)
        target = _Target(target_steer, target_speed, throttle, brake)

        dt = 1.0 / (p.action_hz * p.substeps)
        steer_step = math.radians(p.steering_rate_deg_s) * dt
        steer_gain = 1.0 - math.exp(-dt / p.steering_time_constant_s) if p.steering_time_constant_s > 0 else 1.0
        slip_gain = 1.0 - math.exp(-dt / p.slip_time_constant_s)
        max_slip = math.radians(p.max_slip_deg)
        pending = self._pending
        x, y, yaw, v, steer, slip = self.state
        for _ in range(p.substeps):
            if pending:  # the command issued lag_substeps ago reaches the actuators now
                pending.append(target)
                target_steer, target_speed, throttle, brake = pending.popleft()
            steer += min(max((target_steer - steer) * steer_gain, -steer_step), steer_step)
            v = self._speed_step(v, target_speed, throttle, brake, slip, dt)
            av = abs(v)
            # Heading follows the steering geometry, within what grip could ever sustain.
            yaw_rate = v * math.tan(steer) / p.wheelbase
            if av > 1e-6:
                cap = p.yaw_overshoot * p.grip / av
                yaw_rate = min(max(yaw_rate, -cap), cap)
            course = yaw + slip
            new_yaw = yaw + yaw_rate * dt
            # The travel direction chases the heading but turns at most grip / speed.
            turn = _wrap(new_yaw - course) * slip_gain
            if av > 1e-6:
                max_turn = p.grip / av * dt
                turn = min(max(turn, -max_turn), max_turn)
            else:
                turn = _wrap(new_yaw - course)
            course += turn
            x += v * math.cos(course) * dt
            y += v * math.sin(course) * dt
            yaw = _wrap(new_yaw)
            slip = min(max(_wrap(course - yaw), -max_slip), max_slip)
        self.state = CarState(x, y, yaw, v, steer, slip)
        return self.state

    def _speed_step(
        self, v: float, target: float | None, throttle: float, brake: float, slip: float, dt: float
    ) -> float:
        p = self.profile
        scrub = p.slide_scrub * p.grip * abs(math.sin(slip))
        if target is not None:  # speed-controlled (DeepRacer action speed)
            accel = min(max((target - v) / max(p.speed_time_constant_s, dt), -p.max_brake), p.max_accel)
            v_new = v + (accel - (scrub if v > 0 else 0.0)) * dt
            return min(max(v_new, 0.0), p.top_speed)
        decel = p.coast_decel + scrub + brake * p.max_brake
        if throttle >= 0.0:
            if v >= 0:
                drive = throttle * p.max_accel * max(0.0, 1.0 - (v / p.max_speed) ** 2)
            else:
                drive = throttle * p.max_brake
        elif v > 0.05:
            drive = throttle * p.max_brake  # negative throttle brakes first
        else:
            drive = throttle * p.max_accel  # then reverses
        # Resistances oppose motion and never reverse it on their own.
        if v > 0.0:
            v_new = max(v + (drive - decel) * dt, 0.0 if drive >= 0 else -p.max_reverse_speed)
        elif v < 0.0:
            v_new = min(v + (drive + decel) * dt, 0.0 if drive <= 0 else p.max_speed)
        else:
            v_new = v + drive * dt
        return min(max(v_new, -p.max_reverse_speed), p.max_speed)


def reference_point(profile: CarProfile, state: CarState) -> tuple[float, float]:
    """The point DeepRacer reports as (x, y): `xy_ahead` metres ahead of the car origin."""
    return (
        state.x + profile.xy_ahead * math.cos(state.yaw),
        state.y + profile.xy_ahead * math.sin(state.yaw),
    )


def wheel_positions(profile: CarProfile, state: CarState) -> tuple[tuple[float, float], ...]:
    """Contact points of the four wheels: front-left, front-right, rear-left, rear-right."""
    c = math.cos(state.yaw)
    s = math.sin(state.yaw)
    half = profile.wheel_track / 2.0
    fx = state.x + profile.wheelbase * c
    fy = state.y + profile.wheelbase * s
    lx, ly = -s * half, c * half
    return (
        (fx + lx, fy + ly),
        (fx - lx, fy - ly),
        (state.x + lx, state.y + ly),
        (state.x - lx, state.y - ly),
    )


def anticipated_pose(profile: CarProfile, state: CarState) -> tuple[float, float, float]:
    """Where the car origin will be (x, y, yaw) once a command issued now tells (`response_time_s`),
    if it keeps its speed and wheel angle: the pose a path-following controller should steer from.
    For a car that responds at once this is the current pose."""
    horizon = profile.response_time_s
    x, y, yaw = state.x, state.y, state.yaw
    if horizon <= 0.0:
        return x, y, yaw
    n = max(1, math.ceil(horizon * profile.action_hz * 2))
    dt = horizon / n
    yaw_rate = state.speed * math.tan(state.steering) / profile.wheelbase
    for _ in range(n):
        yaw += yaw_rate * dt
        x += state.speed * math.cos(yaw) * dt
        y += state.speed * math.sin(yaw) * dt
    return x, y, yaw


def steering_command_deg(profile: CarProfile, wheel_angle: float) -> float:
    """The commanded steering (degrees, within the car's lock) that sets this wheel angle (rad)."""
    command = math.degrees(wheel_angle) / profile.steering_gain
    return min(max(command, -profile.max_steering_deg), profile.max_steering_deg)
