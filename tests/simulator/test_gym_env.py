"""The gymnasium environment: API conformance, seeding, vector env, camera observations."""

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from simulator.gym_env import ENV_ID, DeepRacerEnv, make_vector_env

CONTINUOUS = {
    "action_space": {"speed": {"low": 0.5, "high": 2.0}, "steering_angle": {"low": -30, "high": 30}},
    "action_space_type": "continuous",
    "training_algorithm": "sac",
}


@pytest.mark.parametrize("metadata", [None, CONTINUOUS], ids=["discrete", "continuous"])
def test_check_env(metadata):
    env = DeepRacerEnv("pitlane_loop", model_metadata=metadata, observation="state")
    check_env(env, skip_render_check=True)
    env.close()


def test_registered_and_spaces():
    env = gym.make(ENV_ID, track="pitlane_hairpin", observation="state")
    assert env.action_space == gym.spaces.Discrete(10)  # console default space
    obs, info = env.reset(seed=1)
    assert env.observation_space.contains(obs) and info["episode"] == 0
    env.close()
    cont = DeepRacerEnv(model_metadata=CONTINUOUS, observation="state")
    assert cont.action_space.shape == (2,) and cont.action_space.low[1] == pytest.approx(0.5)


def rollout(env, seed, n=120):
    obs, _ = env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    out = [obs]
    for _ in range(n):
        obs, reward, terminated, truncated, info = env.step(int(rng.integers(env.action_space.n)))
        out.append(np.append(obs, reward))
        if terminated or truncated:
            obs, _ = env.reset()
    return np.concatenate(out)


def test_seeding_is_deterministic():
    kwargs = dict(track="pitlane_loop", observation="state", steering_noise_deg=2.0, speed_noise=0.1)
    a = rollout(DeepRacerEnv(**kwargs), seed=3)
    b = rollout(DeepRacerEnv(**kwargs), seed=3)
    c = rollout(DeepRacerEnv(**kwargs), seed=4)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_episode_ends_off_track_and_starts_round_robin():
    env = DeepRacerEnv("pitlane_loop", observation="state")
    starts = []
    for _ in range(3):
        _, info = env.reset()
        starts.append(info["start_distance"])
        for _ in range(500):
            _, _, terminated, truncated, info = env.step(7)  # 15 degrees left at 0.8 m/s
            if terminated or truncated:
                break
        assert terminated and info["status"] == "off_track"
    assert starts == pytest.approx([0.0, 0.05 * env.track.length, 0.1 * env.track.length])


def test_vector_env_over_tracks():
    env = make_vector_env(["pitlane_loop", "pitlane_figure8", "pitlane_loop"], seed=0, observation="state")
    obs, _ = env.reset(seed=0)
    assert obs.shape == (3, 8)
    for _ in range(30):
        obs, rewards, terminated, truncated, _ = env.step(np.array([4, 5, 4]))
    assert rewards.shape == (3,)
    np.testing.assert_allclose(obs[0], obs[2])  # same track, same actions
    assert not np.allclose(obs[0], obs[1])
    env.close()


def test_camera_observation():
    env = DeepRacerEnv("pitlane_loop", observation="camera", render_mode="rgb_array")
    obs, _ = env.reset(seed=0)
    assert obs.shape == (120, 160) and obs.dtype == np.uint8 and obs.std() > 1
    obs2, *_ = env.step(4)
    assert env.observation_space.contains(obs2)
    assert env.render().shape == (120, 160, 3)


def test_bad_reward_fails_the_step():
    env = DeepRacerEnv("pitlane_loop", observation="state", reward_fn=lambda p: float("nan"))
    env.reset(seed=0)
    env.step(4)  # prepare step: the reward function is not called
    with pytest.raises(ValueError, match="finite"):
        env.step(4)
