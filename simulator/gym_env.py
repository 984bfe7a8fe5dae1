"""A gymnasium environment for DeepRacer-style reinforcement learning on our tracks.

Registered as `Pitlane/DeepRacer-v0`. Actions come from a model_metadata.json action space
(discrete index, or continuous [steering_deg, speed]); observations are the DeepRacer front camera
(`simulator.camera.DeepRacerCamera`, 120x160 grayscale) or, for fast tests and baselines, a small
state vector; the reward is a DeepRacer reward function of `params`. Episodes follow DeepRacer's
training: round-robin start positions, the first step is 'prepare', off track ends the episode.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.vector import SyncVectorEnv

from simulator.camera import DeepRacerCamera
from simulator.car import DEEPRACER, CarProfile, CarState
from simulator.deepracer import ActionSpace, RewardFunction, parse_model_metadata
from simulator.episode import Session, round_robin_start
from simulator.rules import TRAINING_RULES, EpisodeStatus, RaceRules
from simulator.track import Track, load_track

ENV_ID = "Pitlane/DeepRacer-v0"
STATE_FEATURES = ("x", "y", "sin_yaw", "cos_yaw", "speed", "steering", "progress", "offset")
_TRUNCATING = {EpisodeStatus.TIME_UP}


def follow_center_line(params: dict[str, Any]) -> float:
    """The console's first example reward: stay close to the centre line."""
    width = params["track_width"]
    distance = params["distance_from_center"]
    if distance <= 0.1 * width:
        return 1.0
    if distance <= 0.25 * width:
        return 0.5
    if distance <= 0.5 * width:
        return 0.1
    return 1e-3


class DeepRacerEnv(gym.Env):
    """One car on one track; see the module docstring."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 15}

    def __init__(
        self,
        track: Track | str = "pitlane_loop",
        model_metadata: dict | str | None = None,
        reward_fn: RewardFunction | None = None,
        observation: str = "camera",
        rules: RaceRules = TRAINING_RULES,
        profile: CarProfile = DEEPRACER,
        max_steps: int | None = None,
        round_robin: bool = True,
        steering_noise_deg: float = 0.0,
        speed_noise: float = 0.0,
        render_mode: str | None = None,
    ) -> None:
        self.track = load_track(track) if isinstance(track, str) else track
        self.model_metadata = parse_model_metadata(model_metadata or {})
        self.actions: ActionSpace = self.model_metadata.action_space
        self.reward_fn = reward_fn or follow_center_line
        if observation not in ("camera", "state"):
            raise ValueError("observation must be 'camera' or 'state'")
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"unsupported render_mode {render_mode!r}")
        self.observation_mode = observation
        self.render_mode = render_mode
        self.max_steps = max_steps or int(20 * self.track.length / profile.max_speed * profile.action_hz)
        self.round_robin = round_robin
        self._camera: DeepRacerCamera | None = None
        if observation == "camera" or render_mode == "rgb_array":
            self._camera = DeepRacerCamera(self.track)
        self.session = Session(
            self.track,
            profile,
            rules,
            reward_fn=self.reward_fn,
            steering_noise_deg=steering_noise_deg,
            speed_noise=speed_noise,
        )
        if self.actions.kind == "discrete":
            self.action_space = spaces.Discrete(self.actions.n)
        else:
            low = np.array([self.actions.steering_range[0], self.actions.speed_range[0]], dtype=np.float32)
            high = np.array([self.actions.steering_range[1], self.actions.speed_range[1]], dtype=np.float32)
            self.action_space = spaces.Box(low, high, dtype=np.float32)
        if observation == "camera":
            self.observation_space = spaces.Box(0, 255, (120, 160), dtype=np.uint8)
        else:
            self.observation_space = spaces.Box(-np.inf, np.inf, (len(STATE_FEATURES),), dtype=np.float32)
        self._episodes = 0

    def _observe(self, state: CarState) -> np.ndarray:
        if self._camera is not None and self.observation_mode == "camera":
            return self._camera.render(state.x, state.y, state.yaw)
        last = self.session.last
        params = last.params if last is not None else None
        progress = last.progress if last is not None else 0.0
        offset = params["distance_from_center"] if params is not None else 0.0
        if params is not None and not params["is_left_of_center"]:
            offset = -offset
        return np.array(
            [state.x, state.y, math.sin(state.yaw), math.cos(state.yaw), state.speed, state.steering,
             progress / 100.0, offset],
            dtype=np.float32,
        )

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        if seed is not None:
            self._episodes = 0
            self.session.seed(int(self.np_random.integers(0, 2**31 - 1)))
        options = options or {}
        if "start_distance" in options:
            start = float(options["start_distance"])
        elif self.round_robin:
            start = round_robin_start(self.track, self._episodes)
        else:
            start = 0.0
        self.session.reset(start, offset=float(options.get("offset", 0.0)), episode=self._episodes)
        self._episodes += 1
        return self._observe(self.session.state), {"episode": self.session.episode, "start_distance": start}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        if self.actions.kind == "discrete":
            index = int(action)
            command = self.actions.command(index)
        else:
            index = -1
            command = self.actions.command(np.asarray(action, dtype=np.float64))
        result = self.session.step(command, index)
        truncated = not result.done and result.step >= self.max_steps
        terminated = result.done and result.status not in _TRUNCATING
        truncated = truncated or (result.done and result.status in _TRUNCATING)
        if truncated and not result.done:
            self.session.done = True
        info = {
            "status": result.status.value,
            "progress": result.progress,
            "lap_time": result.lap_time,
            "steps": result.step,
            "params": result.params,
        }
        return self._observe(result.state), result.reward, terminated, truncated, info

    def render(self) -> np.ndarray | None:
        if self.render_mode != "rgb_array" or self._camera is None:
            return None
        state = self.session.state
        frame = self._camera.render(state.x, state.y, state.yaw)
        return np.repeat(frame[:, :, None], 3, axis=2) if frame.ndim == 2 else frame


def make_vector_env(
    tracks: Sequence[Track | str],
    seed: int | None = None,
    **kwargs: Any,
) -> SyncVectorEnv:
    """One environment per entry of `tracks` (repeat a track for several cars on it), stepped
    together; `kwargs` go to every `DeepRacerEnv`. Seeds each sub-environment `seed + i`."""
    env = SyncVectorEnv([functools.partial(DeepRacerEnv, track=t, **kwargs) for t in tracks])
    if seed is not None:
        env.reset(seed=seed)
    return env


if ENV_ID not in gym.registry:
    gym.register(id=ENV_ID, entry_point="simulator.gym_env:DeepRacerEnv")
