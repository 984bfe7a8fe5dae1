"""Evaluation of a model in our simulator, through the very same control loop that races.

`run_sim_evaluation` is what the evaluation job calls in-process: camera frame -> `DriveLoop.step`
-> car command -> `simulator.episode.Session.step`, for `n_trials` trials under the race rules,
writing DeepRacer's evaluation sim-trace CSV and metrics JSON through `simulator.simtrace` in
deepracer-for-cloud's layout (`model/model_metadata.json` beside `evaluation-{stamp}/`), which
deepracer-utils' `DeepRacerLog` reads.

A simulator is deterministic: N trials of one model are N copies of one lap. `TrialVariation`
gives each trial, from one recorded seed, its own start (a little along the lap and across the
track), steering noise and lighting, so "3 of 3 laps" says something; the same seed drives the
same laps again.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from drive_agent.loop import Command, DriveLoop
from drive_agent.model_card import load_model_card
from drive_agent.runtime import TFLiteModel
from drive_agent.speed import DEEPRACER_SET_SPEED_MS, UDACITY_SET_SPEED_MPH, PISpeedControl, target_speed
from simulator.episode import EvaluationResult as TrialsResult
from simulator.stopping import ShouldStop, Stopped

ProgressCallback = Callable[[float, str], None]
StepCallback = Callable[[Any, np.ndarray, Command], None]

#: Step statuses after which the car is reset and held still (DeepRacer's names).
_HELD_STATUSES = frozenset({"off_track", "reversed", "immobilized", "pause"})


#: What `TrialVariation` varies, at its strength 1 (the default).
START_ALONG_FRACTION = 0.01  # start up to 1 % of the lap before or after the line
START_ACROSS_FRACTION = 0.2  # and up to 20 % of the half-width left or right of the centre line
STEERING_NOISE_FRACTION = 0.03  # steering noise: 3 % of the car's steering lock (standard deviation)
LIGHTING = "lighting"  # the camera's light level and tint (simulator.appearance, lighting only)


@dataclass(frozen=True)
class TrialVariation:
    """Seeded trial-to-trial variation of an evaluation: each trial draws its own start position,
    steering noise and lighting from (seed, trial), so trials differ and the same seed repeats."""

    seed: int
    start: bool = True
    steering_noise: bool = True
    lighting: bool = True

    def rng(self, trial: int, what: str) -> np.random.Generator:
        """An independent, reproducible stream for one trial and one kind of variation."""
        salt = {"start": 1, "steering": 2, LIGHTING: 3}[what]
        return np.random.default_rng([self.seed & 0xFFFFFFFF, trial, salt])

    def start_pose(self, track: Any, trial: int, base_distance: float = 0.0) -> tuple[float, float]:
        """(distance along the lap, offset to the left) in metres where `trial` starts."""
        if not self.start:
            return base_distance, 0.0
        along, across = self.rng(trial, "start").uniform(-1.0, 1.0, 2)
        half_width = float(track.widths[0]) / 2.0
        return ((base_distance + along * START_ALONG_FRACTION * track.length) % track.length,
                float(across * START_ACROSS_FRACTION * half_width))

    def lighting_seed(self, trial: int) -> int | None:
        return int(self.rng(trial, LIGHTING).integers(0, 2**31)) if self.lighting else None

    def to_json(self) -> dict[str, Any]:
        """What the evaluation records (summary.json, the site's summary)."""
        return {"seed": self.seed, "start": self.start, "steering_noise": self.steering_noise,
                "lighting": self.lighting, "start_along_pct": 100 * START_ALONG_FRACTION,
                "start_across_pct_of_half_width": 100 * START_ACROSS_FRACTION,
                "steering_noise_pct_of_lock": 100 * STEERING_NOISE_FRACTION}


def new_seed() -> int:
    """A fresh seed for `--vary` without `--seed` (printed and recorded, so the run can be repeated)."""
    return int(np.random.default_rng().integers(0, 2**31))


def model_metadata(card: Any, set_speed_ms: float | None = None) -> dict[str, Any]:
    """model_metadata.json for a model card, as deepracer-utils reads it (action space, sensor,
    network, version). An action model writes its own action space; a steering model (behavioural
    cloning) is written as a continuous space: its steering range, and the speed its speed
    controller drives at (`set_speed_ms`, m/s), and says what it is in `pitlane_model_kind`."""
    from simulator.car import DEEPRACER, UDACITY

    space = card.action_space
    profile = UDACITY if card.input.camera.startswith("udacity") else DEEPRACER
    if space is not None and space.is_discrete:
        action_space: Any = [{"steering_angle": a.steering_angle, "speed": a.speed, "index": i}
                             for i, a in enumerate(space.actions)]
        kind = "discrete"
    elif space is not None:
        action_space = {"steering_angle": {"low": space.steering_range.low, "high": space.steering_range.high},
                        "speed": {"low": space.speed_range.low, "high": space.speed_range.high}}
        kind = "continuous"
    else:
        speed = round(set_speed_ms if set_speed_ms is not None else profile.max_speed, 4)
        action_space = {"steering_angle": {"low": -profile.max_steering_deg, "high": profile.max_steering_deg},
                        "speed": {"low": 0.0, "high": speed}}
        kind = "continuous"
    config = card.training.get("config") or {}
    network = str(config.get("network") or config.get("neural_network") or "DEEP_CONVOLUTIONAL_NETWORK_SHALLOW")
    return {
        "action_space": action_space,
        "sensor": ["FRONT_FACING_CAMERA"],
        "neural_network": network,
        "version": "5",
        "training_algorithm": "clipped_ppo" if card.kind != "regression_steering" else "behavioural_cloning",
        "action_space_type": kind,
        "pitlane_model_kind": card.kind,
    }


@dataclass
class EvaluationResult(TrialsResult):
    """The simulator's trial results (`trials`, `trace`, lap times, completion...) plus what the
    agent adds: the model's kind, the track, the control loop's latency summary and where the
    DeepRacer-format files went."""

    model_kind: str = ""
    track: str = ""
    latency: dict[str, Any] = field(default_factory=dict)
    variation: TrialVariation | None = None
    simtrace_path: Path | None = None
    metrics_path: Path | None = None
    folder: Path | None = None  # evaluation-{stamp}/ in the out_dir, when files were written

    def trace_arrays(self) -> dict[str, np.ndarray]:
        """Per-step columns for plots: trial, time, x, y, speed (m/s), steering (deg, + = left)."""
        return {
            "trial": np.array([s.episode for s in self.trace], dtype=np.int32),
            "time": np.array([s.sim_time for s in self.trace]),
            "x": np.array([s.state.x for s in self.trace]),
            "y": np.array([s.state.y for s in self.trace]),
            "speed": np.array([s.state.speed for s in self.trace]),
            "steering_deg": np.array([s.steering_deg for s in self.trace]),
        }


def summarise(result: EvaluationResult, penalty_s: float) -> dict[str, Any]:
    """JSON-ready figures of an evaluation: one row per trial (the lap table, league laps) and the
    totals. `raw_lap_time` leaves out the `penalty_s` added for each reset."""
    from simulator.rules import METRICS_STATUS
    from simulator.simtrace import completion_percentage

    trials: list[dict[str, Any]] = []
    for t in result.trials:
        lap_time = t.lap_time
        trials.append({
            "trial": t.trial, "status": t.status.value, "result": METRICS_STATUS[t.status], "lap_time": lap_time,
            "lap_times": list(t.lap_times),
            "raw_lap_time": None if lap_time is None else max(lap_time - t.reset_count * penalty_s, 1e-3),
            "completion_pct": round(t.completion_pct, 2), "off_track_count": t.off_track_count,
            "completion_percentage": completion_percentage(t.completion_pct),  # metrics.json's number
            "reset_count": t.reset_count, "elapsed_s": round(t.elapsed_s, 3), "steps": t.steps,
        })
    laps = [t["lap_time"] for t in trials if t["lap_time"] is not None]
    return {
        "trials": trials,
        "completed_laps": len(laps),
        "best_lap_time": min(laps) if laps else None,
        "mean_lap_time": sum(laps) / len(laps) if laps else None,
        "completion_pct": round(result.completion_pct, 2),
        "completion_percentage": completion_percentage(result.completion_pct),
        "off_track_count": result.off_track_count,
        "reset_count": result.reset_count,
        "steps": len(result.trace),
        "latency_ms": {k: v for k, v in result.latency.items() if k != "stages"},
        "variation": result.variation.to_json() if result.variation is not None else None,
    }


class SimDriver:
    """Binds a DriveLoop to a simulated car and camera: the card's camera picks the car profile
    (udacity_center -> the Udacity car, speeds in mph for the PI controller; deepracer_front ->
    the DeepRacer car, m/s)."""

    def __init__(self, loop: DriveLoop, track: Any, variation: TrialVariation | None = None) -> None:
        from simulator.appearance import Randomisation
        from simulator.camera import UDACITY_CENTER, DeepRacerCamera, UdacityCameras
        from simulator.car import DEEPRACER, MPH, UDACITY

        self.loop = loop
        self.variation = variation
        self.udacity = loop.card.input.camera.startswith("udacity")
        self.profile = UDACITY if self.udacity else DEEPRACER
        self.speed_unit = MPH if self.udacity else 1.0
        self._noise_rng: np.random.Generator | None = None
        # Lighting only: the light level and tint change, the track's colours and textures do not.
        light = (Randomisation(seed=variation.seed, lighting=True, colours=False, textures=False, noise=False,
                               shadows=False) if variation is not None and variation.lighting else None)
        self.camera: Any
        if self.udacity:
            self.camera = UdacityCameras(track, randomisation=light, specs=(UDACITY_CENTER,))
            self.render = lambda s: self.camera.render(s.x, s.y, s.yaw)["center"]
        else:
            self.camera = DeepRacerCamera(track, randomisation=light)
            self.render = lambda s: self.camera.render(s.x, s.y, s.yaw)

    def start_trial(self, trial: int) -> None:
        """Draw trial `trial`'s lighting and steering-noise stream (no-op without variation)."""
        variation = self.variation
        if variation is None:
            return
        seed = variation.lighting_seed(trial)
        if seed is not None:
            self.camera.randomise(seed)
        self._noise_rng = variation.rng(trial, "steering") if variation.steering_noise else None

    def _noisy(self, command: Any) -> Any:
        """The command with this trial's steering noise added (within the steering lock)."""
        if self._noise_rng is None:
            return command
        lock = self.profile.max_steering_deg
        steering = command.steering_deg + float(self._noise_rng.normal(0.0, STEERING_NOISE_FRACTION * lock))
        return command._replace(steering_deg=min(max(steering, -lock), lock))

    def decide(self, state: Any) -> tuple[np.ndarray, Command, Any, int]:
        """Render the camera at the car's pose, run the loop, and turn its command into a
        simulator command (+ the action index for the sim-trace)."""
        from simulator.car import Command as CarCommand

        timer = self.loop.stats.frame()
        frame = self.render(state)
        timer.lap("render")
        command = self.loop.step(frame, state.speed / self.speed_unit, timer)
        timer.done()
        pred = command.prediction
        if pred.steering_deg is not None and pred.speed is not None:
            # Action models speak DeepRacer: degrees (+ = left) and a commanded speed.
            car_command = CarCommand(steering_deg=pred.steering_deg, speed=pred.speed * self.loop.throttle_scale)
            index = -1 if pred.action_index is None else pred.action_index
        elif self.udacity:
            # Steering models speak Udacity: normalised steering (x 25 degrees), + = right.
            car_command = CarCommand.udacity(command.steering, throttle=max(command.throttle, 0.0),
                                             brake=max(-command.throttle, 0.0))
            index = -1
        else:
            # A steering model on the DeepRacer car: that car's controller holds a commanded speed
            # (as DeepRacer's does), so the speed policy's target is the command, not a throttle
            # from PI gains tuned for a full-size car in mph.
            policy = self.loop.speed
            speed = target_speed(policy.set_speed, policy.min_speed, pred)
            car_command = CarCommand(steering_deg=-command.steering * self.profile.max_steering_deg,
                                     speed=speed * self.loop.throttle_scale)
            index = -1
        return frame, command, self._noisy(car_command), index


def make_loop(model: TFLiteModel | DriveLoop | str | Path, throttle_scale: float = 1.0,
              set_speed: float | None = None) -> DriveLoop:
    """A DriveLoop for `model`: an existing loop, a loaded model, or a .tflite path with its
    model_card.json beside it."""
    if isinstance(model, DriveLoop):
        return model
    if not isinstance(model, TFLiteModel):
        path = Path(model)
        model = TFLiteModel(path, load_model_card(path.with_name("model_card.json")))
    udacity = model.card.input.camera.startswith("udacity")
    default = UDACITY_SET_SPEED_MPH if udacity else DEEPRACER_SET_SPEED_MS
    return DriveLoop(model, PISpeedControl(set_speed=set_speed or default), throttle_scale=throttle_scale)


def run_sim_evaluation(model: TFLiteModel | DriveLoop | str | Path, track: Any, n_trials: int = 3,
                       rules: Any = None, on_progress: ProgressCallback | None = None,
                       should_stop: ShouldStop | None = None, *, out_dir: str | Path | None = None,
                       throttle_scale: float = 1.0, set_speed: float | None = None, seed: int | None = 0,
                       start_distance: float = 0.0, max_time_s: float | None = None,
                       on_step: StepCallback | None = None, variation: TrialVariation | None = None,
                       stamp: str | None = None) -> EvaluationResult:
    """Evaluate `model` on `track` (a name, .npy path or Track) for `n_trials` trials.

    `rules` defaults to `simulator.rules.EVALUATION_RULES` (reset + 2 s penalty off track).
    `on_progress(pct, message)` is called about every 1 % (monotonic, 100 at the end); `should_stop()` is polled
    every step
    and True raises `simulator.stopping.Stopped` (an exception it raises itself propagates unchanged).
    `out_dir` becomes a deepracer-for-cloud model folder (`simulator.simtrace.write_evaluation_folder`):
    `model/model_metadata.json` (`model_metadata`) and `evaluation-{stamp}/` (`stamp`: yyyymmddHHMMSS,
    default now, UTC) with `evaluation-simtrace/0-iteration.csv`, `metrics.json` and `summary.json`
    (`summarise` of the result, with the track, the model's kind and the files' paths).
    `variation` (`TrialVariation`) gives each trial its seeded start, steering noise and lighting.
    Each trial is limited to `rules.time_limit_s`, else `max_time_s`, else 20x the time a lap at
    the car's top speed takes. `on_step(step_result, frame, command)` sees every step.
    """
    from simulator.episode import run_trials
    from simulator.rules import EVALUATION_RULES
    from simulator.track import load_track

    loop = make_loop(model, throttle_scale, set_speed)
    track = load_track(track) if isinstance(track, (str, Path)) else track
    rules = rules or EVALUATION_RULES
    driver = SimDriver(loop, track, variation)
    last: dict[str, Any] = {}
    reported = {"pct": -1.0}

    def policy(state: Any) -> tuple[Any, int]:
        if should_stop is not None and should_stop():
            raise Stopped(f"stopped in trial {last.get('trial', 0) + 1} of {n_trials}")
        last["frame"], last["command"], car_command, index = driver.decide(state)
        return car_command, index

    def on_reset(trial: int) -> None:
        last["trial"] = trial
        driver.start_trial(trial)
        loop.reset()

    def after_step(result: Any, trial: int) -> None:
        if getattr(result.status, "value", result.status) in _HELD_STATUSES:
            # The car was put back (off track, reversed, immobilised) and is held for the
            # penalty: the speed controller must not wind up against a car that cannot move.
            loop.reset()
        if on_step is not None:
            on_step(result, last["frame"], last["command"])
        if on_progress is not None:
            # Monotonic for the job's progress bar: lap progress within a trial (it can drop
            # after an off-track reset), and the whole trial's share once it is over.
            done_share = 1.0 if result.done else min(result.progress, 100.0) / 100.0
            pct = 100.0 * (trial + done_share) / n_trials
            if pct - reported["pct"] >= 1.0 or (result.done and pct > reported["pct"]):
                reported["pct"] = pct
                on_progress(pct, f"trial {trial + 1}/{n_trials}: {result.progress:.0f} % of the lap")

    base = run_trials(policy, track, n_trials, rules, profile=driver.profile, seed=seed,
                      start_distance=start_distance, max_time_s=max_time_s, on_reset=on_reset,
                      on_step=after_step,
                      start_pose=(None if variation is None else
                                  lambda trial: variation.start_pose(track, trial, start_distance)))
    trials, trace = base.trials, base.trace
    evaluation = EvaluationResult(model_kind=loop.card.kind, track=track.name, trials=trials, trace=trace,
                                  latency=loop.stats.summary(), variation=variation)
    if out_dir is not None:
        from simulator.simtrace import evaluation_metrics, evaluation_stamp, write_evaluation_folder

        set_speed_ms = loop.speed.set_speed * driver.speed_unit
        place = write_evaluation_folder(out_dir, stamp or evaluation_stamp(), trace, track.length,
                                        evaluation_metrics(trials), model_metadata(loop.card, set_speed_ms))
        evaluation.folder, evaluation.simtrace_path = place.folder, place.simtrace
        evaluation.metrics_path = place.metrics
        summary = {"track": evaluation.track, "model_kind": evaluation.model_kind,
                   **summarise(evaluation, rules.off_track_penalty_s),
                   "latency": evaluation.latency,  # with the per-stage figures the stored summary leaves out
                   "simtrace_path": str(place.simtrace), "metrics_path": str(place.metrics),
                   "model_metadata_path": str(place.model_metadata)}
        (place.folder / "summary.json").write_text(json.dumps(summary, indent=1))
    return evaluation
