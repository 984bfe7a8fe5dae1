"""PPO training of a DeepRacer-style model: `train(config, reward_source, out_dir, ...)`.

One iteration = `num_episodes_between_training` finished episodes of `num_envs` cars (chunks of
`chunk_steps` steps per car; after each chunk the reward sandbox scores the chunk's steps, one
batch per track), then `num_epochs` of PPO updates, then `eval_trials` greedy evaluation trials
from the start line of the first track (`simulator.episode.run_trials`, evaluation rules), the
logs (`training.rl.logs.TrainingLog`), a checkpoint and one progress event. The update runs on a
thread of its own while the cars collect the next iteration with the policy from before it (the
rollout is single-threaded Python and NumPy, TensorFlow releases the GIL, so on two cores the two
overlap); PPO's ratio is taken against the policy that acted, so its clip still bounds the step.
The iteration is evaluated, checkpointed and reported when its update has finished.

out_dir:
    training_config.json, model_metadata.json, hyperparameters.json, reward_function.py,
    progress.jsonl (every progress event, in full), checkpoints/iter-NNNN/ (weights and optimizer
    state), checkpoints/state.json (last and best iteration, counters, rng state, elapsed time),
    the logs of `training.rl.logs`, and export/ at the end (`training.rl.export`).

Calling `train` again with the same out_dir resumes after the last checkpointed iteration (a
killed worker, or a stop). `init_from` clones another run (its out_dir or one of its checkpoint
folders): the weights are loaded as `config.clone_plan` decides. `should_stop()` is polled every
chunk; on True the last finished iteration's checkpoint is kept and `Stopped` is raised.
Stop conditions: the time budget (`max_minutes`, or `max_seconds`), `target_completion_pct` of
evaluation, `term_cond_max_episodes`, `term_cond_avg_score` (mean episode reward of an iteration).
"""

from __future__ import annotations

import contextlib
import json
import math
import shutil
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from simulator.episode import EvaluationResult, StepResult, run_trials
from simulator.rules import EVALUATION_RULES, EpisodeStatus
from simulator.stopping import OnProgress, ShouldStop, Stopped
from simulator.track import Track
from training.rl.config import ConfigError, RLConfig, clone_plan
from training.rl.rollout import EpisodeRow, RewardSource, TrainingCars

#: Config fields a resumed run may change (stop conditions); anything else must match.
RESUMABLE_CHANGES = ("max_minutes", "max_seconds", "target_completion_pct", "term_cond_max_episodes",
                     "term_cond_avg_score")
#: Evaluation may take at most this share of the run's wall time (it is skipped otherwise).
EVAL_TIME_SHARE = 0.15
#: Episode rows carried by one progress event (all of them go to progress.jsonl).
EVENT_EPISODE_ROWS = 100
STATE_FILE = "state.json"


@dataclass
class RLTrainResult:
    """What a finished run produced (everything also lies in `out_dir`)."""

    out_dir: Path
    iterations: int
    episodes: int
    steps: int
    elapsed_s: float
    best_iteration: int | None
    best_eval_completion_pct: float
    best_lap_time_s: float | None
    stop_reason: str  # "time_limit", "target_completion", "max_episodes", "avg_score"
    export_dir: Path | None
    metrics: dict[str, Any] = field(default_factory=dict)


@dataclass
class RunState:
    """checkpoints/state.json."""

    last_iteration: int = -1
    best_iteration: int | None = None
    best_completion_pct: float = -1.0
    best_lap_time_s: float | None = None
    first_lap_s: float | None = None  # wall time when an evaluation trial first drove a clean lap
    episodes: int = 0
    steps: int = 0
    elapsed_s: float = 0.0
    eval_s: float = 0.0
    rng: dict[str, Any] = field(default_factory=dict)
    init_from: str | None = None
    clone_explanation: str | None = None

    @classmethod
    def load(cls, path: Path) -> RunState:
        data = json.loads(path.read_text())
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})

    def save(self, path: Path) -> None:
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(self.__dict__, indent=2))
        tmp.replace(path)


@dataclass
class _Pending:
    """An iteration whose PPO update runs on the update thread (`train`'s pipeline)."""

    iteration: int
    update: Future
    rows: list[EpisodeRow]
    began_steps: int
    steps: int
    started: float
    rollout_s: float
    logs_s: float
    logged: bool
    update_s: list[float]  # the update's own duration, set by `_timed` when it ends


def _timed(fn: Callable[..., Any], arg: Any, seconds: list[float]) -> Any:
    began = time.monotonic()
    try:
        return fn(arg)
    finally:
        seconds[0] = time.monotonic() - began


def checkpoint_dir(out_dir: Path, iteration: int) -> Path:
    return out_dir / "checkpoints" / f"iter-{iteration:04d}"


def _clean(value: Any) -> Any:
    """JSON-safe floats (NaN/inf -> None), rounded to keep events small."""
    if isinstance(value, float):
        return round(value, 6) if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, np.generic):
        return _clean(value.item())
    return value


def _write_run_files(out_dir: Path, config: RLConfig, reward_source: str) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "training_config.json").write_text(config.to_json())
    (out_dir / "model_metadata.json").write_text(json.dumps(config.model_metadata().to_json(), indent=2))
    (out_dir / "hyperparameters.json").write_text(json.dumps(config.to_hyperparameters_json(), indent=2))
    (out_dir / "reward_function.py").write_text(reward_source)


def _check_resume(out_dir: Path, config: RLConfig) -> None:
    saved = RLConfig.load(out_dir / "training_config.json").to_dict()
    wanted = config.to_dict()
    for key, value in wanted.items():
        if key not in RESUMABLE_CHANGES and saved.get(key) != value:
            raise ConfigError(f"{out_dir} holds a run trained with another {key} ({saved.get(key)!r}); "
                              f"resume it with the same configuration or use a new out_dir", key)


def _resolve_clone_source(init_from: str | Path) -> tuple[RLConfig, Path]:
    """(config, checkpoint folder) of a previous run's out_dir or checkpoint folder."""
    path = Path(init_from)
    if (path / "model.weights.h5").is_file():
        run_dir, folder = path.parents[1], path
    else:
        run_dir = path
        state_file = path / "checkpoints" / STATE_FILE
        if not state_file.is_file():
            raise ConfigError(f"cannot clone from {path}: no checkpoints/state.json (not a training run)",
                              "init_from")
        state = RunState.load(state_file)
        chosen = state.best_iteration if state.best_iteration is not None else state.last_iteration
        folder = checkpoint_dir(run_dir, chosen)
    config_file = run_dir / "training_config.json"
    if not config_file.is_file() or not (folder / "model.weights.h5").is_file():
        raise ConfigError(f"cannot clone from {path}: no training_config.json or model weights", "init_from")
    return RLConfig.load(config_file), folder


class _Timer:
    """Wall time of this run, including earlier sessions of it (resume)."""

    def __init__(self, before: float) -> None:
        self.before = before
        self.began = time.monotonic()

    def __call__(self) -> float:
        return self.before + time.monotonic() - self.began


def _eval_time_limit(track: Track, config: RLConfig) -> float:
    """Trial time limit: twice a lap at the action space's top speed, at least 20 s."""
    space = config.model_metadata().action_space
    top = max(a.speed for a in space.actions) if space.kind == "discrete" else space.speed_range[1]
    return max(20.0, 2.0 * track.length / max(top, 0.1))


def train(config: RLConfig, reward_source: str, out_dir: str | Path, *,
          on_progress: OnProgress | None = None, should_stop: ShouldStop | None = None,
          init_from: str | Path | None = None, reward_factory: Callable[..., Any] | None = None,
          export: bool = True) -> RLTrainResult:
    """Train with clipped PPO until a stop condition; see the module docstring.

    `reward_factory(source, waypoints=...)` makes the reward source (default: the sandbox,
    `training.rl.sandbox.RewardSandbox`). A failing reward function raises the sandbox's
    `RewardFunctionError` (its message names the line and the step's params).
    """
    import keras

    from training.rl.networks import build_actor_critic, copy_weights
    from training.rl.ppo import PPOLearner, gae, scheduled_lr, unit_to_command

    out = Path(out_dir)
    ckpt_root = out / "checkpoints"
    state_file = ckpt_root / STATE_FILE
    resuming = state_file.is_file()
    if resuming:
        _check_resume(out, config)
        state = RunState.load(state_file)
    else:
        state = RunState()
    _write_run_files(out, config, reward_source)
    ckpt_root.mkdir(parents=True, exist_ok=True)

    keras.utils.set_random_seed(config.seed)
    model = build_actor_critic(config, seed=config.seed)
    rng = np.random.default_rng(config.seed)
    if state.rng:
        rng.bit_generator.state = state.rng
    learner = PPOLearner(model, config, rng)
    if resuming and state.last_iteration >= 0:
        learner.load(checkpoint_dir(out, state.last_iteration))
    elif init_from is not None:
        old_config, folder = _resolve_clone_source(init_from)
        plan = clone_plan(old_config, config)
        source_model = build_actor_critic(old_config)
        source_model.load_weights(folder / "model.weights.h5")
        copy_weights(source_model, model, skip_policy_head=plan.reinit_policy_head)
        learner.numpy_policy.sync(model)
        state.init_from, state.clone_explanation = str(folder), plan.explanation
        del source_model

    from training.rl.logs import TrainingLog  # B2's DeepRacer-format logs

    training_log = TrainingLog(out, resume=resuming)
    cars = TrainingCars(config, seed=config.seed + state.last_iteration + 1, episode_offset=state.episodes)
    space = cars.action_space
    to_command = None
    if space.kind == "continuous":
        ranges = (space.steering_range, space.speed_range)
        to_command = lambda a: unit_to_command(a, ranges)  # noqa: E731
    waypoints = {key: track.waypoints for key, track in cars.tracks.items()}
    if reward_factory is None:
        from training.rl.sandbox import RewardSandbox

        reward_factory = RewardSandbox
    rewards: RewardSource = reward_factory(reward_source, waypoints=waypoints)

    eval_choice = config.tracks[0]
    eval_track = cars.tracks[eval_choice.key]
    timer = _Timer(state.elapsed_s)
    budget = config.budget_s
    progress_file = out / "progress.jsonl"
    if not resuming and progress_file.exists():
        progress_file.unlink()
    stop_reason = ""
    open_episodes: dict[int, list[StepResult]] = {}
    episode_tracks: dict[int, str] = {}
    log_queue: list[tuple[list[StepResult], str]] = []
    total_steps = state.steps
    last_event: dict[str, Any] = {}

    def checkpoint(iteration: int) -> None:
        learner.save(checkpoint_dir(out, iteration))
        state.rng = dict(rng.bit_generator.state)
        state.elapsed_s = timer()
        state.save(state_file)

    def emit(event: dict[str, Any]) -> None:
        event = _clean(event)
        with progress_file.open("a") as fh:
            fh.write(json.dumps(event) + "\n")
        if on_progress is not None:
            small = dict(event)
            rows = small.get("episode_rows") or []
            small["episode_rows"] = rows[-EVENT_EPISODE_ROWS:]
            on_progress(small)

    blas = _single_threaded_blas()
    updater = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ppo-update")
    pending: _Pending | None = None

    def finish(job: _Pending) -> str:
        """Wait for `job`'s update, then evaluate, checkpoint and report its iteration; returns
        the stop reason it meets ("" for none)."""
        nonlocal last_event
        wait_started = timer()
        stats = learner.finish_update(job.update.result())
        waited = timer() - wait_started
        learner.set_lr(scheduled_lr(config, stats["lr"], stats["kl"], timer() / budget))
        # ---- greedy evaluation of the updated policy
        evaluation: EvaluationResult | None = None
        eval_started = timer()
        if config.eval_trials and (state.eval_s <= EVAL_TIME_SHARE * eval_started or state.best_iteration is None):
            evaluation = _evaluate(learner, config, eval_track, to_command)
            state.eval_s += timer() - eval_started
            if job.logged:
                training_log.write_evaluation(job.iteration, evaluation, eval_track)
        completion = evaluation.completion_pct if evaluation is not None else None
        lap_times = evaluation.lap_times if evaluation is not None else []
        best_lap = evaluation.best_lap_time if evaluation is not None else None
        if completion is not None and (
                completion > state.best_completion_pct
                or (completion == state.best_completion_pct and best_lap is not None
                    and (state.best_lap_time_s is None or best_lap < state.best_lap_time_s))):
            state.best_iteration, state.best_completion_pct = job.iteration, completion
            state.best_lap_time_s = best_lap
        clean_laps = _clean_laps(evaluation)
        if clean_laps and state.first_lap_s is None:
            state.first_lap_s = timer()
        state.last_iteration = job.iteration
        state.episodes += len(job.rows)
        state.steps = job.steps
        eval_s = timer() - eval_started
        checkpoint(job.iteration)
        _prune_checkpoints(out, state)
        # ---- progress
        elapsed = timer()
        iter_s = max(elapsed - job.started, 1e-9)
        ep_rewards = [r.reward for r in job.rows]
        event = {
            "phase": "iteration",
            "iteration": job.iteration,
            "episodes": state.episodes,
            "steps": job.steps,
            "elapsed_s": elapsed,
            "eta_s": max(budget - elapsed, 0.0),
            "percent": min(100.0, 100.0 * elapsed / budget),
            "reward_mean": float(np.mean(ep_rewards)) if ep_rewards else None,
            "reward_min": float(np.min(ep_rewards)) if ep_rewards else None,
            "reward_max": float(np.max(ep_rewards)) if ep_rewards else None,
            "progress_mean": float(np.mean([r.progress for r in job.rows])) if job.rows else None,
            "episode_rows": [r.to_dict() for r in job.rows],
            "eval_completion_pct": completion,
            "eval_lap_times": lap_times,
            "eval_clean_laps": clean_laps,
            "best_iteration": state.best_iteration,
            "best_lap_time_s": state.best_lap_time_s,
            "first_lap_s": state.first_lap_s,
            "steps_per_s": (job.steps - job.began_steps) / iter_s,
            "episodes_per_hour": 3600.0 * len(job.rows) / iter_s,
            "entropy": stats["entropy"],
            "kl": stats["kl"],
            "policy_loss": stats["policy_loss"],
            "value_loss": stats["value_loss"],
            "clip_fraction": stats["clip_fraction"],
            "lr": stats["lr"],
            # wall seconds of this iteration's phases (rollout: cars, camera, policy, rewards;
            # update: the wait for the PPO update after the next iteration's rollout, which it
            # overlaps; its own duration is update_s)
            "phase_s": {"rollout": job.rollout_s, "update": waited, "logs": job.logs_s,
                        "evaluation": eval_s, "checkpoint": max(elapsed - eval_started - eval_s, 0.0)},
            "update_s": job.update_s[0],
        }
        emit(event)
        last_event = event
        # ---- stop conditions
        if elapsed >= budget:
            return "time_limit"
        if (config.target_completion_pct is not None and completion is not None
                and completion >= config.target_completion_pct):
            return "target_completion"
        if state.episodes >= config.term_cond_max_episodes:
            return "max_episodes"
        if ep_rewards and float(np.mean(ep_rewards)) >= config.term_cond_avg_score:
            return "avg_score"
        return ""

    try:
        iteration = state.last_iteration
        while True:
            iteration += 1
            began_steps = total_steps
            iter_start = timer()
            chunks: list[Any] = []
            rows: list[EpisodeRow] = []
            while len(rows) < config.num_episodes_between_training:
                if should_stop is not None and should_stop():
                    if pending is not None:  # keep the iteration whose update is in flight
                        finish(pending)
                        pending = None
                    raise Stopped(f"stopped during iteration {iteration}; the last checkpoint is "
                                  f"iteration {state.last_iteration}")
                if timer() >= budget and (chunks or pending is not None):
                    break
                epsilon = 0.0
                if config.exploration_type == "e-greedy" and space.kind == "discrete":
                    frac = min(total_steps / max(config.epsilon_steps, 1), 1.0)
                    epsilon = 1.0 + (config.e_greedy_value - 1.0) * frac
                chunk, waiting = cars.collect(config.chunk_steps, learner, epsilon=epsilon,
                                              to_command=to_command)
                cars.fill_rewards(chunk, waiting, rewards)
                total_steps += chunk.rewards.size
                for result, key in zip(chunk.results, chunk.track_keys, strict=True):
                    open_episodes.setdefault(result.episode, []).append(result)
                    episode_tracks[result.episode] = key
                for row in chunk.episodes:
                    log_queue.append((open_episodes.pop(row.episode), episode_tracks.pop(row.episode)))
                rows.extend(chunk.episodes)
                chunks.append(chunk)
            if not chunks:
                break
            rollout_s = timer() - iter_start
            # ---- the previous iteration: its update has been running during this rollout
            if pending is not None:
                stop_reason = finish(pending)
                pending = None
                if stop_reason and stop_reason != "time_limit":
                    break  # this iteration's steps are not trained on
            # ---- PPO update on everything collected this iteration, on the update thread
            # while the next iteration's steps are collected with the policy from before it
            # (PPO's ratio is taken against the policy that acted, so the clip still holds)
            last_values = learner.act(cars.obs, greedy=True).values
            obs = np.concatenate([c.obs for c in chunks])
            actions = np.concatenate([c.actions for c in chunks])
            logp = np.concatenate([c.logp for c in chunks])
            values = np.concatenate([c.values for c in chunks])
            reward_arr = np.concatenate([c.rewards for c in chunks])
            dones = np.concatenate([c.dones for c in chunks])
            adv, returns = gae(reward_arr, values, dones, last_values, config.discount_factor, config.gae_lambda)
            flat = lambda a: a.reshape(-1, *a.shape[2:])  # noqa: E731
            prepared = learner.prepare_update(flat(obs), flat(actions), flat(logp), flat(adv), flat(returns))
            del obs, chunks
            update_s = [0.0]
            future = updater.submit(_timed, learner.run_update, prepared, update_s)
            del prepared
            # ---- logs of every episode finished in this iteration (at least
            # num_episodes_between_training; the cars finish episodes together, so sometimes more).
            # Holding the surplus back for later iterations would grow without bound.
            logs_started = timer()
            logged, log_queue = log_queue, []
            if logged:
                training_log.write_iteration(iteration, [steps for steps, _ in logged],
                                             [cars.tracks[key] for _, key in logged])
            pending = _Pending(iteration, future, rows, began_steps, total_steps, iter_start, rollout_s,
                               timer() - logs_started, bool(logged), update_s)
            if stop_reason:
                break
        if pending is not None:
            stop_reason = finish(pending) or stop_reason
            pending = None
    finally:
        if pending is not None:  # an error or a stop: let the update end before anything else
            pending.update.cancel()
            with contextlib.suppress(Exception):
                pending.update.result()
        updater.shutdown(wait=True)
        if blas is not None:
            blas.restore_original_limits()
        close = getattr(rewards, "close", None)
        if close is not None:
            close()

    export_dir = None
    if export and state.last_iteration >= 0:
        best = state.best_iteration if state.best_iteration is not None else state.last_iteration
        learner.model.load_weights(checkpoint_dir(out, best) / "model.weights.h5")
        export_dir = _export(learner.model, config, out, state)
    outcome = RLTrainResult(
        out_dir=out, iterations=state.last_iteration + 1, episodes=state.episodes, steps=state.steps,
        elapsed_s=state.elapsed_s, best_iteration=state.best_iteration,
        best_eval_completion_pct=max(state.best_completion_pct, 0.0), best_lap_time_s=state.best_lap_time_s,
        stop_reason=stop_reason or "time_limit", export_dir=export_dir,
        metrics={"first_lap_s": state.first_lap_s, "steps_per_s": state.steps / max(state.elapsed_s, 1e-9),
                 "eval_completion_pct": last_event.get("eval_completion_pct"),
                 "eval_lap_times": last_event.get("eval_lap_times") or []})
    emit({"phase": "done", "iteration": state.last_iteration, "episodes": state.episodes, "steps": state.steps,
          "elapsed_s": state.elapsed_s, "percent": 100.0, "eta_s": 0.0, "stop_reason": outcome.stop_reason,
          "best_iteration": state.best_iteration, "best_eval_completion_pct": outcome.best_eval_completion_pct,
          "best_lap_time_s": state.best_lap_time_s, "first_lap_s": state.first_lap_s,
          "export_dir": str(export_dir) if export_dir else None})
    return outcome


def _clean_laps(evaluation: EvaluationResult | None) -> int:
    """Evaluation trials that completed the lap without leaving the track (no penalty, no reset):
    the console counts a lap with resets as complete; a clean lap is what `first_lap_s` waits for."""
    if evaluation is None:
        return 0
    return sum(1 for t in evaluation.trials if t.status is EpisodeStatus.LAP_COMPLETE
               and t.off_track_count == 0 and t.reset_count == 0 and t.crash_count == 0)


def _evaluate(learner: Any, config: RLConfig, track: Track, to_command: Any) -> EvaluationResult:
    """`eval_trials` greedy trials from the start line under the evaluation rules."""
    from simulator.camera import DeepRacerCamera
    from training.rl.rollout import FrameEncoder

    camera = DeepRacerCamera(track)
    encode = FrameEncoder(config)
    h, w, s = config.input_shape
    stack = np.zeros((1, h, w, s), dtype=np.uint8)
    fresh = [True]

    def observe(car_state: Any) -> np.ndarray:
        frame = encode(camera.render(car_state.x, car_state.y, car_state.yaw))
        if fresh[0]:
            stack[0] = frame[:, :, None]
            fresh[0] = False
        else:
            stack[0, :, :, :-1] = stack[0, :, :, 1:]
            stack[0, :, :, -1] = frame
        return stack

    def reset(_trial: int) -> None:
        fresh[0] = True

    def policy(obs: np.ndarray) -> Any:
        action = learner.act(obs, greedy=True).actions
        return int(action[0]) if to_command is None else to_command(action)[0]

    space = config.model_metadata().action_space
    return run_trials(policy, track, n_trials=config.eval_trials, rules=EVALUATION_RULES, action_space=space,
                      observe=observe, max_time_s=_eval_time_limit(track, config), on_reset=reset)


def _single_threaded_blas() -> Any:
    """Acting is many tiny matrix products: BLAS threads only contend (on a busy two-core worker a
    batch took 76 ms with them, 4 ms without)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - installed with scikit-learn
        return None
    return threadpool_limits(limits=1, user_api="blas")


def _prune_checkpoints(out: Path, state: RunState, keep: int = 3) -> None:
    """Keep the best and the last `keep` iterations' checkpoints."""
    folders = sorted((out / "checkpoints").glob("iter-*"))
    wanted = {checkpoint_dir(out, i).name for i in range(state.last_iteration - keep + 1, state.last_iteration + 1)}
    if state.best_iteration is not None:
        wanted.add(checkpoint_dir(out, state.best_iteration).name)
    for folder in folders:
        if folder.name not in wanted:
            shutil.rmtree(folder, ignore_errors=True)


def _export(model: Any, config: RLConfig, out: Path, state: RunState) -> Path:
    """export/ (TFLite + model card + DeepRacer's files) from the driving policy."""
    from training.rl.export import export_model
    from training.rl.networks import policy_for_export

    return export_model(policy_for_export(model, config), config, out, best_iteration=state.best_iteration)
