"""A driving session: one car on one track under the race rules, stepped by whoever owns the loop.

`Session` is the building block of the gym environment, the recorder and evaluation. It offers
`reset()`, `step(command) -> StepResult` and `observe()`, so an outside control loop (the drive
agent: frame -> model -> action) can drive it. `run_trials` is the evaluation runner on top of it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from simulator.car import DEEPRACER, Car, CarProfile, CarState, Command, reference_point, wheel_positions
from simulator.deepracer import RewardFunction, build_params, call_reward
from simulator.rules import TRAINING_RULES, EpisodeStatus, RaceReferee, RaceRules, time_is_up
from simulator.track import Track

#: DeepRacer training moves each episode's start this fraction of a lap further on.
ROUND_ROBIN_ADVANCE = 0.05

Observer = Callable[[CarState], Any]


def round_robin_start(track: Track, episode: int, advance: float = ROUND_ROBIN_ADVANCE) -> float:
    """Start distance (m) of a training episode, as DeepRacer rotates starts round the lap."""
    return (episode * advance % 1.0) * track.length


@dataclass(slots=True)
class StepResult:
    """Everything one step produced: what the simtrace logs, plus the reward params."""

    episode: int
    step: int
    sim_time: float
    state: CarState
    x: float  # DeepRacer's reference point (xy_ahead in front of the car origin)
    y: float
    heading_deg: float
    steering_deg: float  # commanded
    speed: float  # commanded speed (DeepRacer) or actual speed (throttle driving)
    action: int
    reward: float
    done: bool
    status: EpisodeStatus
    all_wheels_on_track: bool
    progress: float
    closest_waypoint: int
    lap: int  # laps completed so far
    lap_time: float | None  # set on the step that completes a lap
    pause_duration: float
    params: dict[str, Any] | None


class Session:
    """Steps one car on one track under `rules`; deterministic for a seed."""

    def __init__(
        self,
        track: Track,
        profile: CarProfile = DEEPRACER,
        rules: RaceRules = TRAINING_RULES,
        reward_fn: RewardFunction | None = None,
        observe: Observer | None = None,
        seed: int | None = None,
        steering_noise_deg: float = 0.0,
        speed_noise: float = 0.0,
    ) -> None:
        self.track = track
        self.profile = profile
        self.rules = rules
        self.reward_fn = reward_fn
        self._observe = observe
        self.car = Car(profile, seed=seed, steering_noise_deg=steering_noise_deg, speed_noise=speed_noise)
        self.referee = RaceReferee(track, profile, rules)
        self._waypoints = track.waypoints
        self.episode = -1
        self.done = True
        self.reset()

    # ------------------------------------------------------------------ loop API
    @property
    def state(self) -> CarState:
        return self.car.state

    def seed(self, seed: int | None) -> None:
        self.car.seed(seed)

    def reset(
        self,
        start_distance: float = 0.0,
        offset: float = 0.0,
        episode: int | None = None,
        sim_time: float | None = None,
    ) -> Any:
        """Put the car at rest `start_distance` metres along the lap (`offset` m to the left),
        facing the driving direction; returns the first observation."""
        self.episode = self.episode + 1 if episode is None else episode
        x, y, heading = self.track.pose_at(start_distance, offset)
        state = self.car.reset(CarState(x, y, heading))
        self.sim_time = 0.0 if sim_time is None else sim_time
        self.episode_start_time = self.sim_time
        self.steps = 0
        self.done = False
        self.total_reward = 0.0
        self._pause_left = 0
        self._pause_duration = 0.0
        rx, ry = reference_point(self.profile, state)
        self._hint = self.track.project_local(rx, ry, None).segment
        self.referee.start(start_distance, state, self.sim_time)
        self.last: StepResult | None = None
        return self.observe()

    def observe(self) -> Any:
        """The observation for the current state: `observe(state)` if given, else the state."""
        return self._observe(self.car.state) if self._observe else self.car.state

    def step(self, command: Command, action: int = -1) -> StepResult:
        """Apply one control step. The first step of an episode is DeepRacer's 'prepare' step:
        it is logged with the car still at the start and no reward; during a penalty pause the car
        is held and the step is logged as 'pause'."""
        if self.done:
            raise RuntimeError("episode is over: call reset() first")
        self.steps += 1
        status = None
        if self.steps == 1:
            status = EpisodeStatus.PREPARE
        elif self._pause_left > 0:
            self._pause_left -= 1
            self.sim_time += self.profile.dt
            self._pause_duration += self.profile.dt
            status = EpisodeStatus.PAUSE
        else:
            self._pause_duration = 0.0
            self.car.step(command)
            self.sim_time += self.profile.dt
        return self._record(command, action, status)

    # ------------------------------------------------------------------ internals
    def _record(self, command: Command, action: int, fixed: EpisodeStatus | None) -> StepResult:
        track, profile, referee = self.track, self.profile, self.referee
        state = self.car.state
        rx, ry = reference_point(profile, state)
        proj = track.project_local(rx, ry, self._hint)
        self._hint = proj.segment
        wheels = track.wheels_on_track(wheel_positions(profile, state), proj.segment)
        all_on = all(wheels)
        track_heading = track.heading_at(proj)
        is_reversed = math.cos(state.yaw - track_heading) < 0.0
        lap_time = None
        if fixed is None:
            laps_before = referee.laps_done
            verdict = referee.judge(proj, state, any(wheels), is_reversed, self.sim_time)
            status, done, progress = verdict.status, verdict.done, verdict.progress
            if referee.laps_done > laps_before:
                lap_time = referee.lap_times[-1]
        else:
            status, done, progress = fixed, False, referee.follow(proj)
        if (self.rules.time_limit_s is not None and not done
                and time_is_up(self.sim_time - self.episode_start_time, self.rules.time_limit_s)):
            status, done = EpisodeStatus.TIME_UP, True
        commanded_speed = command.speed if command.speed is not None else state.speed
        params = build_params(
            x=rx,
            y=ry,
            heading_deg=math.degrees(state.yaw),
            speed=commanded_speed,
            steering_angle=command.steering_deg,
            all_wheels_on_track=all_on,
            is_offtrack=status is EpisodeStatus.OFF_TRACK,
            is_reversed=is_reversed,
            distance_from_center=abs(proj.offset),
            is_left_of_center=proj.offset > 0.0,
            progress=progress,
            steps=self.steps,
            track_length=track.length,
            track_width=track.width_at(proj),
            waypoints=self._waypoints,
            closest_waypoints=track.closest_waypoints(proj),
            projection_distance=proj.distance,
            sim_time=self.sim_time,
        )
        reward = 0.0
        if self.reward_fn is not None and fixed is None:
            reward = call_reward(self.reward_fn, params)
        self.total_reward += reward
        result = StepResult(
            episode=self.episode,
            step=self.steps,
            sim_time=self.sim_time,
            state=state,
            x=rx,
            y=ry,
            heading_deg=params["heading"],
            steering_deg=command.steering_deg,
            speed=commanded_speed,
            action=action,
            reward=reward,
            done=done,
            status=status,
            all_wheels_on_track=all_on,
            progress=progress,
            closest_waypoint=track.closest_waypoint(proj),
            lap=referee.laps_done,
            lap_time=lap_time,
            pause_duration=self._pause_duration,
            params=params,
        )
        if fixed is None and verdict.reset_pose is not None:
            self.car.reset(verdict.reset_pose)
            px, py = reference_point(profile, verdict.reset_pose)
            self._hint = track.project_local(px, py, proj.segment).segment
            self._pause_left = int(math.ceil(verdict.penalty_s / profile.dt - 1e-9))
        self.done = done
        self.last = result
        return result


# --------------------------------------------------------------------------- evaluation runner
@dataclass
class TrialResult:
    """One evaluation trial (one attempt at `rules.laps` laps)."""

    trial: int
    status: EpisodeStatus
    lap_times: list[float]
    elapsed_s: float
    start_time_s: float
    completion_pct: float
    off_track_count: int
    reset_count: int
    reversed_count: int
    immobilized_count: int
    crash_count: int
    steps: int
    total_reward: float

    @property
    def lap_time(self) -> float | None:
        """The trial's time for its laps (penalties included), None if not completed."""
        return self.elapsed_s if self.status is EpisodeStatus.LAP_COMPLETE else None


@dataclass
class EvaluationResult:
    trials: list[TrialResult]
    trace: list[StepResult] = field(repr=False)

    @property
    def lap_times(self) -> list[float | None]:
        return [t.lap_time for t in self.trials]

    @property
    def best_lap_time(self) -> float | None:
        times = [t for t in self.lap_times if t is not None]
        return min(times) if times else None

    @property
    def completion_pct(self) -> float:
        return sum(t.completion_pct for t in self.trials) / max(len(self.trials), 1)

    @property
    def off_track_count(self) -> int:
        return sum(t.off_track_count for t in self.trials)

    @property
    def reset_count(self) -> int:
        return sum(t.reset_count for t in self.trials)


def _to_command(action: Any, action_space: Any) -> tuple[Command, int]:
    if isinstance(action, Command):
        return action, -1
    if isinstance(action, tuple) and len(action) == 2 and isinstance(action[0], Command):
        return action[0], int(action[1])  # a command with the action index it came from
    if action_space is None:
        raise TypeError("policy returned a non-Command action but no action_space was given")
    index = int(action) if action_space.kind == "discrete" else -1
    return action_space.command(action), index


def run_trials(
    policy_fn: Callable[[Any], Any],
    track: Track,
    n_trials: int = 3,
    rules: RaceRules | None = None,
    *,
    profile: CarProfile = DEEPRACER,
    action_space: Any = None,
    observe: Observer | None = None,
    reward_fn: RewardFunction | None = None,
    seed: int | None = None,
    start_distance: float = 0.0,
    max_time_s: float | None = None,
    simtrace_path: str | None = None,
    metrics_path: str | None = None,
    on_reset: Callable[[int], None] | None = None,
    on_step: Callable[[StepResult, int], None] | None = None,
    start_pose: Callable[[int], tuple[float, float]] | None = None,
) -> EvaluationResult:
    """Evaluate a policy: `n_trials` episodes from the start line, as the DeepRacer console does.

    `policy_fn(observation)` returns a `Command`, or an action index / (steering, speed) for
    `action_space` (a `simulator.deepracer.ActionSpace`). Observations come from `observe(state)`
    (a camera) or are the `CarState`. Trials share one simulation clock, as AWS's metrics do.
    Without a time limit in `rules`, each trial gets `max_time_s` (default: 20x the time a lap
    at top speed takes). Optionally writes the evaluation simtrace CSV and metrics JSON.

    Hooks let a caller own the loop body without copying this bookkeeping: `on_reset(trial)`
    before each trial (0-based), `on_step(result, trial)` after every step (it may raise to stop).
    `start_pose(trial)` gives a trial its own (start distance, lateral offset to the left) in
    metres; without it every trial starts `start_distance` along the centre line.
    """
    from simulator.rules import EVALUATION_RULES
    from simulator.simtrace import evaluation_metrics, write_metrics, write_simtrace_csv

    rules = rules or EVALUATION_RULES
    limit = rules.time_limit_s or max_time_s or 20.0 * rules.laps * track.length / profile.max_speed
    session = Session(track, profile, rules, reward_fn=reward_fn, observe=observe, seed=seed)
    trials: list[TrialResult] = []
    trace: list[StepResult] = []
    clock = 0.0
    for trial in range(n_trials):
        distance, offset = (start_distance, 0.0) if start_pose is None else start_pose(trial)
        obs = session.reset(distance, offset, episode=trial, sim_time=clock)
        if on_reset is not None:
            on_reset(trial)
        start = clock
        while True:
            command, index = _to_command(policy_fn(obs), action_space)
            result = session.step(command, index)
            trace.append(result)
            if not result.done and time_is_up(result.sim_time - start, limit):
                result.status, result.done = EpisodeStatus.TIME_UP, True
            if on_step is not None:
                on_step(result, trial)
            if result.done:
                break
            obs = session.observe()
        referee = session.referee
        trials.append(
            TrialResult(
                trial=trial + 1,
                status=result.status,
                lap_times=list(referee.lap_times),
                elapsed_s=result.sim_time - start,
                start_time_s=start,
                completion_pct=100.0 if result.status is EpisodeStatus.LAP_COMPLETE else result.progress,
                off_track_count=referee.off_track_count,
                reset_count=referee.reset_count,
                reversed_count=referee.reversed_count,
                immobilized_count=referee.immobilized_count,
                crash_count=referee.crash_count,
                steps=result.step,
                total_reward=session.total_reward,
            )
        )
        clock = result.sim_time + profile.dt
    evaluation = EvaluationResult(trials=trials, trace=trace)
    if simtrace_path:
        write_simtrace_csv(simtrace_path, trace, track.length)
    if metrics_path:
        write_metrics(metrics_path, evaluation_metrics(trials))
    return evaluation
