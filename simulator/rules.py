"""Race rules: laps, progress, off-track resets with penalties, reversed / immobilised cars, time up.

The referee (`RaceReferee`) watches one car through one episode and says, after every step, what
DeepRacer would log: the episode status (named exactly as DeepRacer names them), whether the
episode is over, the lap progress and the lap times. It does not move the car; when the rules call
for a reset it returns the pose to put the car back at, and the session applies it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from enum import Enum

from simulator.car import CarProfile, CarState
from simulator.track import Projection, Track


class EpisodeStatus(str, Enum):
    """Episode statuses exactly as DeepRacer writes them in SIM_TRACE_LOG."""

    PREPARE = "prepare"
    IN_PROGRESS = "in_progress"
    OFF_TRACK = "off_track"
    LAP_COMPLETE = "lap_complete"
    CRASHED = "crashed"
    PAUSE = "pause"
    REVERSED = "reversed"
    TIME_UP = "time_up"
    IMMOBILIZED = "immobilized"
    PARK = "park"


#: How DeepRacer's metrics JSON spells the final status of an episode.
METRICS_STATUS = {
    EpisodeStatus.LAP_COMPLETE: "Lap complete",
    EpisodeStatus.OFF_TRACK: "Off track",
    EpisodeStatus.CRASHED: "Crashed",
    EpisodeStatus.REVERSED: "Reversed",
    EpisodeStatus.TIME_UP: "Time up",
    EpisodeStatus.IMMOBILIZED: "Immobilized",
    EpisodeStatus.IN_PROGRESS: "In progress",
    EpisodeStatus.PREPARE: "Prepare",
    EpisodeStatus.PAUSE: "Pause",
    EpisodeStatus.PARK: "Park",
}


@dataclass(frozen=True)
class RaceRules:
    """Penalties and limits. Defaults follow the DeepRacer simapp; see the presets below.

    reset_on_off_track: evaluation/race behaviour (put the car back, add the penalty, go on);
        False is training behaviour (the episode ends off track).
    max_resets: with resets on, the episode ends after this many (None = unlimited).
    reversed_distance_m / immobilized_*: both are measured in metres of the track's own scale;
        None means "a multiple of the car's length" (3 lengths backwards; under a quarter of a
        length of movement in `immobilized_s`).
    """

    laps: int = 1
    reset_on_off_track: bool = False
    off_track_penalty_s: float = 2.0
    reversed_penalty_s: float = 2.0
    immobilized_penalty_s: float = 2.0
    max_resets: int | None = None
    reset_behind_m: float = 0.0
    time_limit_s: float | None = None
    reversed_distance_m: float | None = None
    immobilized_s: float = 2.0
    immobilized_distance_m: float | None = None

    def __post_init__(self) -> None:
        if self.laps < 1:
            raise ValueError("laps must be >= 1")
        for name in ("off_track_penalty_s", "reversed_penalty_s", "immobilized_penalty_s", "immobilized_s"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0")
        if self.time_limit_s is not None and self.time_limit_s <= 0:
            raise ValueError("time_limit_s must be positive")


#: Float drift (seconds) tolerated when a trial's elapsed time meets its limit: the shared clock adds
#: dt step by step, so a trial started later reads a few ulps short after the same number of steps
#: (900 steps from 60.067 s give 59.99999999999 s) and would run one step longer than the first.
CLOCK_TOLERANCE_S = 1e-6


def time_is_up(elapsed_s: float, limit_s: float) -> bool:
    """Whether `elapsed_s` of simulated time has reached `limit_s` (see CLOCK_TOLERANCE_S)."""
    return elapsed_s >= limit_s - CLOCK_TOLERANCE_S


TRAINING_RULES = RaceRules()
EVALUATION_RULES = RaceRules(reset_on_off_track=True, off_track_penalty_s=2.0)
#: deepracer-for-cloud's evaluation default (DR_EVAL_OFF_TRACK_PENALTY=5.0).
DRFC_EVALUATION_RULES = replace(EVALUATION_RULES, off_track_penalty_s=5.0)


@dataclass
class Verdict:
    """The referee's ruling on one step."""

    status: EpisodeStatus
    done: bool
    progress: float  # % of the current lap, 0-100
    lap_completed: bool = False
    reset_pose: CarState | None = None  # where to put the car back (with a penalty pause)
    penalty_s: float = 0.0


@dataclass
class RaceReferee:
    """Applies `RaceRules` to one car on one track, step after step."""

    track: Track
    profile: CarProfile
    rules: RaceRules = field(default_factory=RaceRules)

    def __post_init__(self) -> None:
        length = self.profile.length
        self._reversed_limit = self.rules.reversed_distance_m or 3.0 * length
        self._immobile_limit = self.rules.immobilized_distance_m or 0.25 * length
        self.start(0.0, CarState(0.0, 0.0, 0.0), 0.0)

    def start(self, start_distance: float, state: CarState, sim_time: float) -> None:
        """Begin an episode with the car origin at `start_distance` metres along the lap."""
        self.start_distance = start_distance % self.track.length
        self._last_distance = self.start_distance
        self.travelled = 0.0  # signed metres along the track since the start
        self._best = 0.0
        self.lap_start_travelled = 0.0
        self.lap_start_time = sim_time
        self.episode_start_time = sim_time
        self.laps_done = 0
        self.lap_times: list[float] = []
        self.off_track_count = 0
        self.reversed_count = 0
        self.immobilized_count = 0
        self.crash_count = 0
        self.reset_count = 0
        self.penalty_time = 0.0
        self._anchor = (state.x, state.y)
        self._anchor_time = sim_time

    def progress(self) -> float:
        """Progress of the current lap, percent (0-100)."""
        lap = (self.travelled - self.lap_start_travelled) / self.track.length * 100.0
        return min(max(lap, 0.0), 100.0)

    def follow(self, proj: Projection) -> float:
        """Track the car's signed distance along the lap (no rulings); returns the lap progress %."""
        length = self.track.length
        delta = proj.distance - self._last_distance
        if delta > length / 2.0:
            delta -= length
        elif delta < -length / 2.0:
            delta += length
        self._last_distance = proj.distance
        self.travelled += delta
        if self.travelled > self._best:
            self._best = self.travelled
        return self.progress()

    def judge(
        self,
        proj: Projection,
        state: CarState,
        any_wheel_on_track: bool,
        is_reversed: bool,
        sim_time: float,
    ) -> Verdict:
        """Rule on the step that just brought the car to `state` (projection `proj`)."""
        self.follow(proj)
        length = self.track.length
        rules = self.rules

        if self.travelled - self.lap_start_travelled >= length:
            self.lap_times.append(sim_time - self.lap_start_time)
            self.laps_done += 1
            self.lap_start_travelled += length
            self.lap_start_time = sim_time
            done = self.laps_done >= rules.laps
            status = EpisodeStatus.LAP_COMPLETE if done else EpisodeStatus.IN_PROGRESS
            return Verdict(status, done, 100.0 if done else self.progress(), lap_completed=True)

        if not any_wheel_on_track:
            self.off_track_count += 1
            return self._fault(EpisodeStatus.OFF_TRACK, proj, sim_time, rules.off_track_penalty_s)
        if is_reversed and self._best - self.travelled > self._reversed_limit:
            self.reversed_count += 1
            return self._fault(EpisodeStatus.REVERSED, proj, sim_time, rules.reversed_penalty_s)
        if math.hypot(state.x - self._anchor[0], state.y - self._anchor[1]) > self._immobile_limit:
            self._anchor = (state.x, state.y)
            self._anchor_time = sim_time
        elif sim_time - self._anchor_time > rules.immobilized_s:
            self.immobilized_count += 1
            return self._fault(EpisodeStatus.IMMOBILIZED, proj, sim_time, rules.immobilized_penalty_s)
        # The limit is per episode: trials share one clock, as AWS's metrics do.
        if rules.time_limit_s is not None and time_is_up(sim_time - self.episode_start_time, rules.time_limit_s):
            return Verdict(EpisodeStatus.TIME_UP, True, self.progress())
        return Verdict(EpisodeStatus.IN_PROGRESS, False, self.progress())

    def _fault(self, status: EpisodeStatus, proj: Projection, sim_time: float, penalty: float) -> Verdict:
        """End the episode, or (with resets on) put the car back on the centre line."""
        rules = self.rules
        can_reset = rules.reset_on_off_track and (
            rules.max_resets is None or self.reset_count < rules.max_resets
        )
        if not can_reset:
            return Verdict(status, True, self.progress())
        self.reset_count += 1
        self.penalty_time += penalty
        # Back on the centre line where the car left it (optionally a little behind), at rest.
        ref_distance = proj.distance - rules.reset_behind_m
        x, y, heading = self.track.pose_at(ref_distance - self.profile.xy_ahead)
        self.travelled -= rules.reset_behind_m
        if status is EpisodeStatus.REVERSED:
            self._best = self.travelled  # forgive the backwards stretch once reset
        self._last_distance = ref_distance % self.track.length
        self._anchor = (x, y)
        self._anchor_time = sim_time + penalty
        return Verdict(status, False, self.progress(), reset_pose=CarState(x, y, heading), penalty_s=penalty)
