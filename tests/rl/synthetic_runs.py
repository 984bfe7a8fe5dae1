"""Synthetic training runs for the log, analysis and export tests: real `Session` steps, no trainer.

A pure-pursuit driver picks the nearest action of a discrete action space, so episodes look like a
policy's: some complete the lap, the others steer off after a while (their ends differ per episode).
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

from simulator.car import DEEPRACER, Command
from simulator.deepracer import ActionSpace, DiscreteAction, ModelMetadata
from simulator.episode import EvaluationResult, Session, StepResult, round_robin_start, run_trials
from simulator.rules import TRAINING_RULES
from simulator.track import Track

#: A discrete space: steering -30..30 in 5-degree steps x speeds 1 and 2 m/s.
ACTIONS = ActionSpace(kind="discrete", actions=tuple(
    DiscreteAction(float(s), v) for s in range(-30, 31, 5) for v in (1.0, 2.0)))
STRAIGHT_FAST = 13  # (0 degrees, 2 m/s)
METADATA = ModelMetadata(action_space=ACTIONS)
HYPERPARAMETERS = {"batch_size": 64, "beta_entropy": 0.01, "discount_factor": 0.99, "e_greedy_value": 0.05,
                   "epsilon_steps": 10000, "exploration_type": "categorical", "loss_type": "huber",
                   "lr": 0.0003, "num_episodes_between_training": 4, "num_epochs": 10,
                   "stack_size": 1, "term_cond_avg_score": 350.0, "term_cond_max_episodes": 1000}


def reward(params: dict) -> float:
    return 1.0 - params["distance_from_center"] / params["track_width"]


def pursuit(track: Track, state, speed: float = 2.0, look: float = 0.6) -> Command:
    p = track.project_local(state.x, state.y, None)
    tx, ty, _ = track.pose_at(p.distance + look)
    alpha = (math.atan2(ty - state.y, tx - state.x) - state.yaw + math.pi) % (2 * math.pi) - math.pi
    steer = math.degrees(math.atan2(2 * DEEPRACER.wheelbase * math.sin(alpha), look))
    return Command(max(-30.0, min(30.0, steer)), speed)


def nearest_action(command: Command) -> int:
    return min(range(ACTIONS.n), key=lambda i: abs(ACTIONS.actions[i].steering_angle - command.steering_deg)
               + 20 * abs(ACTIONS.actions[i].speed - (command.speed or 0.0)))


def episode(session: Session, track: Track, number: int, crash_after: int | None) -> list[StepResult]:
    """One training episode from DeepRacer's round-robin start; drives straight on after
    `crash_after` steps until it leaves the track (None: drives the lap)."""
    session.reset(round_robin_start(track, number), episode=number, sim_time=session.sim_time + 1 / 15)
    steps: list[StepResult] = []
    while True:
        if crash_after is not None and session.steps >= crash_after:
            index = STRAIGHT_FAST  # off at the next bend
        else:
            index = nearest_action(pursuit(track, session.state, speed=1.0))
        steps.append(session.step(ACTIONS.command(index), index))
        if steps[-1].done:
            return steps


def iterations(track: Track, n_iterations: int = 3, per_iteration: int = 4) -> list[list[list[StepResult]]]:
    """`n_iterations` x `per_iteration` episodes; in iteration k, k+1 of them drive the whole lap."""
    session = Session(track, rules=replace(TRAINING_RULES, time_limit_s=60.0), reward_fn=reward)
    out = []
    number = 0
    for k in range(n_iterations):
        batch = []
        for i in range(per_iteration):
            crash = None if i <= k else 15 + 7 * i + 3 * k
            batch.append(episode(session, track, number, crash))
            number += 1
        out.append(batch)
    return out


def evaluation(track: Track, n_trials: int = 2, speed: float = 1.5) -> EvaluationResult:
    def policy(state):
        index = nearest_action(pursuit(track, state, speed=speed))
        return ACTIONS.command(index), index

    return run_trials(policy, track, n_trials=n_trials, reward_fn=reward)


def write_run_files(out_dir: Path) -> None:
    """The files the trainer writes beside the logs (model metadata, hyperparameters, reward)."""
    import json

    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "model_metadata.json").write_text(json.dumps(METADATA.to_json()))
    (out_dir / "hyperparameters.json").write_text(json.dumps(HYPERPARAMETERS))
    (out_dir / "reward_function.py").write_text(
        "def reward_function(params):\n"
        "    return 1.0 - params['distance_from_center'] / params['track_width']\n")
