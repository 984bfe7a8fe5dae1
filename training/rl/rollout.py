"""Vectorised training cars: several `simulator.episode.Session`s stepped together, camera frames
preprocessed as the drive agent does, rewards asked for in batches afterwards.

The simulator's dynamics do not depend on the reward, so cars are stepped with no reward
function and each step's `params` are kept; after a chunk of steps the reward source (the
sandbox) scores all of them in one batch per track, and the rewards are written back into the
`StepResult`s (what the training simtrace logs). As on AWS, the 'prepare' step (and a penalty
'pause') gets reward 0 without calling the reward function.

Observations are `drive_agent.preprocessing.preprocess` of the DeepRacer front camera with the
model card's preprocessing (grey, resized to 80x60 when downscaled), kept as uint8; the network
scales them to 0..1 exactly as the card's "unit" scale does. With `stack_size` > 1 the newest
frame is last and a new episode starts with the first frame repeated.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from drive_agent.model_card import PreprocessingSpec
from drive_agent.preprocessing import preprocess
from simulator.appearance import Randomisation
from simulator.camera import DEEPRACER_FRONT, CameraRig
from simulator.car import DEEPRACER, CarProfile
from simulator.deepracer import ActionSpace
from simulator.episode import Session, StepResult, round_robin_start
from simulator.render_texture import TrackTexture, texture_for
from simulator.rules import TRAINING_RULES, EpisodeStatus
from simulator.track import Track, load_track
from training.rl.config import CAMERA_HEIGHT, CAMERA_WIDTH, RLConfig, TrackChoice
from training.rl.frames import PillowBilinear

#: Steps whose reward DeepRacer never asks the reward function for.
UNREWARDED = (EpisodeStatus.PREPARE, EpisodeStatus.PAUSE)
#: Actuator noise with domain randomisation (standard deviations).
RANDOM_STEERING_NOISE_DEG = 2.0
RANDOM_SPEED_NOISE = 0.05


class RewardSource(Protocol):
    """What scores a batch of steps: `training.rl.sandbox.RewardSandbox` in production."""

    def rewards(self, track_key: str, params_batch: Sequence[dict[str, Any]]) -> np.ndarray: ...


def preprocessing_spec(config: RLConfig, scale: str = "unit") -> PreprocessingSpec:
    card = config.preprocessing_card()
    resize = tuple(card["resize"]) if card["resize"] else None
    return PreprocessingSpec(crop_top=card["crop_top"], crop_bottom=card["crop_bottom"],
                             resize=resize, color_space=card["color_space"], scale=scale)


class FrameEncoder:
    """Camera frame (120, 160) uint8 -> the network's uint8 frame (h, w) through the drive
    agent's preprocessing (scale left to the network: x / 255 is the card's "unit" scale).

    `batch` encodes several cars' frames at once; for the grey, uncropped DeepRacer frame it
    uses `training.rl.frames.PillowBilinear`, bit-for-bit Pillow's resize at about half of
    Pillow's cost per frame (a single frame, as evaluation asks, goes through Pillow: cheaper
    alone)."""

    def __init__(self, config: RLConfig) -> None:
        self.spec = dataclasses.replace(preprocessing_spec(config), scale="none")
        self.size = (CAMERA_HEIGHT, CAMERA_WIDTH)
        fast = self.spec.crop_top == 0 and self.spec.crop_bottom == 0 and self.spec.color_space == "gray"
        target = tuple(self.spec.resize) if self.spec.resize is not None else self.size
        self._resize = PillowBilinear(self.size, (int(target[0]), int(target[1]))) if fast else None

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        return preprocess(frame, self.spec, dtype=np.uint8)[:, :, 0]

    def batch(self, frames: np.ndarray) -> np.ndarray:
        """(k, 120, 160) uint8 -> (k, h, w) uint8."""
        if self._resize is not None:
            return self._resize(frames)
        return np.stack([self(f) for f in frames]) if len(frames) else frames


@dataclass
class EpisodeRow:
    """One finished training episode (what on_progress reports per episode)."""

    episode: int
    track: str
    reward: float
    progress: float
    steps: int
    status: str
    lap_time: float | None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class Chunk:
    """Time-major (T, n) arrays of one chunk of steps of every car."""

    obs: np.ndarray  # uint8 (T, n, H, W, stack)
    actions: np.ndarray  # (T, n) int64 or (T, n, 2) float32
    logp: np.ndarray  # float32 (T, n)
    values: np.ndarray  # float32 (T, n)
    rewards: np.ndarray  # float32 (T, n)
    dones: np.ndarray  # bool (T, n): the episode ended after this step
    results: list[StepResult] = field(default_factory=list)  # step-major, car-minor
    track_keys: list[str] = field(default_factory=list)  # the track of each result
    episodes: list[EpisodeRow] = field(default_factory=list)


@dataclass
class _Car:
    session: Session
    rig: CameraRig
    track: TrackChoice
    steps: int = 0


class TrainingCars:
    """`config.num_envs` cars, each episode on the next track of `config.tracks` (round robin)
    from the next round-robin start of that track."""

    def __init__(self, config: RLConfig, profile: CarProfile = DEEPRACER, seed: int = 0,
                 episode_offset: int = 0) -> None:
        self.config = config
        self.profile = profile
        self.action_space: ActionSpace = config.model_metadata().action_space
        self.encode = FrameEncoder(config)
        self.tracks: dict[str, Track] = {c.key: load_track(c.name, reverse=c.reverse) for c in config.tracks}
        self._textures: dict[str, TrackTexture] = {k: texture_for(t) for k, t in self.tracks.items()}
        self._rng = np.random.default_rng(seed)
        self._cars: dict[tuple[int, str], _Car] = {}
        self.episodes_started = episode_offset  # global episode numbering (continues on resume)
        self._track_episodes: dict[str, int] = dict.fromkeys(self.tracks, 0)
        self._episode_rewards: dict[int, float] = {}
        self.n = config.num_envs
        h, w, s = config.input_shape
        self.obs = np.zeros((self.n, h, w, s), dtype=np.uint8)
        self._frames = np.empty((self.n, CAMERA_HEIGHT, CAMERA_WIDTH), dtype=np.uint8)
        self.current: list[_Car] = [self._start_episode(i) for i in range(self.n)]
        cap = config.max_episode_steps
        self.max_steps = {k: cap or int(20 * t.length / profile.max_speed * profile.action_hz)
                          for k, t in self.tracks.items()}

    def _car(self, index: int, choice: TrackChoice) -> _Car:
        key = (index, choice.key)
        car = self._cars.get(key)
        if car is None:
            randomise = self.config.domain_randomization
            session = Session(self.tracks[choice.key], self.profile, TRAINING_RULES,
                              seed=int(self._rng.integers(2**31 - 1)),
                              steering_noise_deg=RANDOM_STEERING_NOISE_DEG if randomise else 0.0,
                              speed_noise=RANDOM_SPEED_NOISE if randomise else 0.0)
            randomisation = Randomisation(seed=int(self._rng.integers(2**31 - 1))) if randomise else None
            rig = CameraRig(self.tracks[choice.key], (DEEPRACER_FRONT,), randomisation,
                            texture=self._textures[choice.key])
            car = self._cars[key] = _Car(session, rig, choice)
        return car

    def _start_episode(self, index: int) -> _Car:
        tracks = self.config.tracks
        episode = self.episodes_started
        self.episodes_started += 1
        choice = tracks[episode % len(tracks)]
        car = self._car(index, choice)
        track = self.tracks[choice.key]
        start = round_robin_start(track, self._track_episodes[choice.key])
        self._track_episodes[choice.key] += 1
        if self.config.domain_randomization:
            car.rig.randomise()
        car.session.reset(start, episode=episode)
        car.steps = 0
        frame = self.encode(self._render(car))
        self.obs[index] = frame[:, :, None]
        return car

    @staticmethod
    def _render(car: _Car) -> np.ndarray:
        state = car.session.state
        return car.rig.render_all(state.x, state.y, state.yaw)[0, :, :, 0]

    def commands(self, actions: np.ndarray) -> list[Any]:
        space = self.action_space
        if space.kind == "discrete":
            return [(space.command(int(a)), int(a)) for a in actions]
        return [(space.command(a), -1) for a in actions]

    def collect(self, steps: int, policy: Any, epsilon: float = 0.0,
                to_command: Any = None) -> tuple[Chunk, dict[str, list[tuple[int, int, dict[str, Any]]]]]:
        """Step every car `steps` times with `policy.act`; returns the chunk (rewards still 0)
        and, per track key, the (t, car, params) of the steps the reward function must score."""
        n, (h, w, s) = self.n, self.config.input_shape
        obs = np.empty((steps, n, h, w, s), dtype=np.uint8)
        discrete = self.action_space.kind == "discrete"
        actions = np.empty((steps, n), dtype=np.int64) if discrete else np.empty((steps, n, 2), np.float32)
        logp = np.empty((steps, n), dtype=np.float32)
        values = np.empty((steps, n), dtype=np.float32)
        dones = np.zeros((steps, n), dtype=bool)
        pending: dict[str, list[tuple[int, int, dict[str, Any]]]] = {}
        chunk = Chunk(obs, actions, logp, values, np.zeros((steps, n), np.float32), dones)
        for t in range(steps):
            obs[t] = self.obs
            out = policy.act(self.obs, epsilon=epsilon)
            actions[t], logp[t], values[t] = out.actions, out.logp, out.values
            env_actions = out.actions if to_command is None else to_command(out.actions)
            live: list[int] = []
            for i, (command, index) in enumerate(self.commands(env_actions)):
                car = self.current[i]
                result = car.session.step(command, index)
                car.steps += 1
                chunk.results.append(result)
                chunk.track_keys.append(car.track.key)
                if result.status not in UNREWARDED and result.params is not None:
                    pending.setdefault(car.track.key, []).append((t, i, result.params))
                truncated = not result.done and car.steps >= self.max_steps[car.track.key]
                if result.done or truncated:
                    dones[t, i] = True
                    chunk.episodes.append(EpisodeRow(
                        episode=result.episode, track=car.track.key, reward=0.0,
                        progress=100.0 if result.status is EpisodeStatus.LAP_COMPLETE else result.progress,
                        steps=result.step, status=result.status.value if result.done else "time_up",
                        lap_time=result.lap_time))
                    self.current[i] = self._start_episode(i)
                else:
                    self._frames[len(live)] = self._render(car)
                    live.append(i)
            if live:  # every running car's next frame, encoded in one batch
                encoded = self.encode.batch(self._frames[:len(live)])
                rows = np.asarray(live)
                for c in range(s - 1):  # one channel at a time: 5x cheaper than a strided block copy
                    self.obs[rows, :, :, c] = self.obs[rows, :, :, c + 1]
                self.obs[rows, :, :, -1] = encoded
        return chunk, pending

    def fill_rewards(self, chunk: Chunk, pending: dict[str, list[tuple[int, int, dict[str, Any]]]],
                     source: RewardSource) -> None:
        """Score the chunk's pending steps in one batch per track and write the rewards back
        (chunk arrays, StepResults, and the totals of the episodes that finished)."""
        n = chunk.rewards.shape[1]
        for key, items in pending.items():
            rewards = np.asarray(source.rewards(key, [p for _, _, p in items]), dtype=np.float64)
            if rewards.shape != (len(items),):
                raise ValueError(f"reward source answered {rewards.shape} rewards for {len(items)} steps")
            for (t, i, _), reward in zip(items, rewards, strict=True):
                chunk.rewards[t, i] = reward
                chunk.results[t * n + i].reward = float(reward)
        for result in chunk.results:
            self._episode_rewards[result.episode] = self._episode_rewards.get(result.episode, 0.0) + result.reward
        for row in chunk.episodes:
            row.reward = self._episode_rewards.pop(row.episode, 0.0)
