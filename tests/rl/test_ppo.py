"""training.rl PPO pieces: GAE, the NumPy acting twin, the update's direction, the observation
pipeline (the drive agent's preprocessing), weight copies for clones and the exported policy."""

from __future__ import annotations

import numpy as np
import pytest

from drive_agent.preprocessing import preprocess
from simulator.camera import DeepRacerCamera
from simulator.track import load_track
from training.rl.config import RLConfig
from training.rl.rollout import FrameEncoder, preprocessing_spec

CONTINUOUS = {"speed": {"low": 1.0, "high": 3.0}, "steering_angle": {"low": -30.0, "high": 30.0}}


def test_gae_matches_a_hand_computation():
    from training.rl.ppo import gae

    rewards = np.array([[1.0], [0.0], [2.0]], dtype=np.float32)
    values = np.array([[0.5], [0.2], [0.1]], dtype=np.float32)
    dones = np.array([[False], [True], [False]])
    adv, ret = gae(rewards, values, dones, np.array([0.3], np.float32), gamma=0.9, lam=0.8)
    d2 = 2.0 + 0.9 * 0.3 - 0.1  # bootstraps the unfinished episode
    d1 = 0.0 - 0.2  # the episode ended after step 1: no bootstrap
    d0 = 1.0 + 0.9 * 0.2 - 0.5
    assert adv[:, 0] == pytest.approx([d0 + 0.9 * 0.8 * d1, d1, d2], rel=1e-6)
    assert ret[:, 0] == pytest.approx(adv[:, 0] + values[:, 0], rel=1e-6)


@pytest.mark.parametrize(("network", "downscale", "space"), [
    ("small", 2, None), ("deepracer_shallow", 1, None), ("small", 2, CONTINUOUS)])
def test_numpy_policy_agrees_with_the_keras_model(network, downscale, space):
    from training.rl.networks import NumpyPolicy, build_actor_critic, count_parameters

    extra = {"action_space": space, "action_space_type": "continuous"} if space else {}
    cfg = RLConfig(network=network, downscale=downscale, stack_size=2, **extra)
    model = build_actor_critic(cfg, seed=1)
    x = np.random.default_rng(0).random((5, *cfg.input_shape)).astype(np.float32)
    keras_out = [o.numpy() for o in model(x)]
    numpy_out = NumpyPolicy(model, cfg)(x)
    assert len(keras_out) == len(numpy_out) == (3 if space else 2)
    for k, n in zip(keras_out, numpy_out, strict=True):
        np.testing.assert_allclose(n, k, rtol=1e-4, atol=1e-5)
    if network == "small" and downscale == 2:
        assert 150_000 < count_parameters(model) < 300_000  # "about 0.2 M parameters"


def test_training_frames_are_the_drive_agents_preprocessing():
    cfg = RLConfig()
    track = load_track("reinvent_base")
    frame = DeepRacerCamera(track).render(*track.pose_at(3.0, 0.05))
    encoded = FrameEncoder(cfg)(frame)
    driving = preprocess(frame, preprocessing_spec(cfg))  # what the exported model gets: 0..1
    assert encoded.dtype == np.uint8 and encoded.shape == (60, 80) and driving.shape == (60, 80, 1)
    np.testing.assert_allclose(encoded.astype(np.float32) * np.float32(1 / 255), driving[:, :, 0], atol=1e-6)


def _learner(cfg, seed=0):
    from training.rl.networks import build_actor_critic
    from training.rl.ppo import PPOLearner

    return PPOLearner(build_actor_critic(cfg, seed=seed), cfg, np.random.default_rng(seed))


def test_updates_make_advantageous_actions_likelier_within_the_clip():
    cfg = RLConfig(batch_size=32, num_epochs=3, lr=1e-3)
    learner = _learner(cfg)
    obs = np.random.default_rng(0).integers(0, 255, (128, *cfg.input_shape), dtype=np.uint8)

    def prob_of_3():
        logits = learner.numpy_policy(obs.astype(np.float32) / 255.0)[0]
        p = np.exp(logits - logits.max(axis=1, keepdims=True))
        return float((p / p.sum(axis=1, keepdims=True))[:, 3].mean())

    probs = [prob_of_3()]
    for _ in range(6):
        out = learner.act(obs)
        advantages = np.where(out.actions == 3, 1.0, -1.0).astype(np.float32)
        stats = learner.update(obs, out.actions, out.logp, advantages, out.values + 1.0)
        probs.append(prob_of_3())  # the NumPy twin was synced after the update
    assert {"policy_loss", "value_loss", "entropy", "kl", "clip_fraction"} <= set(stats)
    assert stats["minibatches"] == 3 * 128 // 32
    assert probs[0] == pytest.approx(0.1, abs=0.03)  # ten actions, a fresh policy head
    assert all(b > a for a, b in zip(probs, probs[1:], strict=False))
    assert probs[1] / probs[0] < 1.6  # the clipped surrogate keeps one update's step small
    assert probs[-1] > 0.3
    assert (learner.act(obs, greedy=True).actions == 3).mean() > 0.9


def test_continuous_actions_map_onto_the_ranges_like_the_drive_agent():
    from drive_agent.model_card import parse_model_card
    from drive_agent.runtime import decode_output
    from training.rl.ppo import unit_to_command

    card = parse_model_card({"kind": "continuous_actions", "input": {"width": 160, "height": 120, "channels": 1},
                             "preprocessing": {"color_space": "gray"}, "action_space": CONTINUOUS,
                             "tflite": {}})
    for unit in ([-1.0, -1.0], [0.25, 0.5], [1.0, 1.0], [3.0, -2.0]):
        steer, speed = unit_to_command(np.array([unit]), ((-30.0, 30.0), (1.0, 3.0)))[0]
        prediction = decode_output(np.array(unit, np.float32), card)
        assert steer == pytest.approx(prediction.steering_deg) and speed == pytest.approx(prediction.speed)


def test_copy_weights_can_leave_the_policy_head_out():
    from training.rl.networks import build_actor_critic, copy_weights

    old_cfg = RLConfig()
    new_cfg = old_cfg.replace(action_space=old_cfg.action_space[:6])
    old, new = build_actor_critic(old_cfg, seed=1), build_actor_critic(new_cfg, seed=2)
    copied = copy_weights(old, new, skip_policy_head=True)
    assert set(copied) == {"trunk_conv1", "trunk_conv2", "trunk_conv3", "trunk_dense", "value_head"}
    np.testing.assert_array_equal(new.get_layer("trunk_dense").get_weights()[0],
                                  old.get_layer("trunk_dense").get_weights()[0])
    assert new.get_layer("policy_head").get_weights()[0].shape[1] == 6
    with pytest.raises(ValueError, match="weight shapes differ"):
        copy_weights(old, new, skip_policy_head=False)


def test_exported_policy_gives_probabilities_or_the_unit_action():
    from training.rl.networks import build_actor_critic, policy_for_export

    x = np.random.default_rng(0).random((1, 60, 80, 1)).astype(np.float32)
    cfg = RLConfig()
    model = build_actor_critic(cfg, seed=0)
    probs = policy_for_export(model, cfg)(x).numpy()
    logits = model(x)[0].numpy()
    assert probs.shape == (1, 10) and probs.sum() == pytest.approx(1.0, abs=1e-5)
    assert probs.argmax() == logits.argmax()
    ccfg = cfg.replace(action_space=CONTINUOUS, action_space_type="continuous")
    cmodel = build_actor_critic(ccfg, seed=0)
    action = policy_for_export(cmodel, ccfg)(x).numpy()
    assert action.shape == (1, 2) and np.all(np.abs(action) <= 1.0)
    np.testing.assert_allclose(action, cmodel(x)[0].numpy(), atol=1e-6)


def test_constant_schedule_keeps_deepracers_rate():
    from training.rl.ppo import scheduled_lr

    cfg = RLConfig(lr=3e-4)
    assert scheduled_lr(cfg, 3e-4, kl=0.5, fraction=0.9) == 3e-4


def test_linear_schedule_falls_to_a_tenth_at_the_time_limit():
    from training.rl.ppo import scheduled_lr

    cfg = RLConfig(lr=3e-4, lr_schedule="linear")
    assert scheduled_lr(cfg, 3e-4, kl=0.0, fraction=0.0) == pytest.approx(3e-4)
    assert scheduled_lr(cfg, 3e-4, kl=0.0, fraction=0.5) == pytest.approx(1.65e-4)
    assert scheduled_lr(cfg, 3e-4, kl=0.0, fraction=1.0) == pytest.approx(3e-5)
    assert scheduled_lr(cfg, 3e-4, kl=0.0, fraction=1.7) == pytest.approx(3e-5)  # a resumed overrun


def test_kl_schedule_steers_the_rate_towards_the_target_within_bounds():
    from training.rl.ppo import scheduled_lr

    cfg = RLConfig(lr=3e-4, lr_schedule="kl", kl_target=0.01)
    assert scheduled_lr(cfg, 3e-4, kl=0.05, fraction=0.1) == pytest.approx(2e-4)  # too big a step
    assert scheduled_lr(cfg, 1e-4, kl=0.001, fraction=0.1) == pytest.approx(1.5e-4)  # too timid
    assert scheduled_lr(cfg, 1e-4, kl=0.012, fraction=0.1) == pytest.approx(1e-4)  # near the target
    assert scheduled_lr(cfg, 3e-4, kl=0.001, fraction=0.1) == pytest.approx(3e-4)  # never above lr
    assert scheduled_lr(cfg, 3e-6, kl=1.0, fraction=0.1) == pytest.approx(3e-6)  # never below lr / 100
    assert scheduled_lr(cfg, 1e-4, kl=float("nan"), fraction=0.1) == pytest.approx(1e-4)


def test_the_learning_rate_travels_with_the_checkpoint(tmp_path):
    cfg = RLConfig(lr=3e-4, lr_schedule="kl")
    learner = _learner(cfg)
    learner.set_lr(1.25e-4)
    assert learner.lr == pytest.approx(1.25e-4)
    learner.save(tmp_path / "ckpt")
    again = _learner(cfg)
    assert again.lr == pytest.approx(3e-4)
    again.load(tmp_path / "ckpt")
    assert again.lr == pytest.approx(1.25e-4)


def test_stacked_frames_shift_by_one_and_restart_with_the_first_frame_repeated():
    from training.rl.ppo import ActOutput
    from training.rl.rollout import TrainingCars

    cfg = RLConfig(stack_size=3, num_envs=4)
    cars = TrainingCars(cfg, seed=3)

    class Policy:  # hard left at full speed: some cars leave the track within the chunk
        def act(self, obs, epsilon=0.0):
            n = len(obs)
            return ActOutput(np.zeros(n, np.int64), np.zeros(n, np.float32), np.zeros(n, np.float32))

    chunk, _ = cars.collect(40, Policy())
    obs, dones = chunk.obs, chunk.dones
    assert dones.any() and not dones.all()
    for t in range(len(obs) - 1):
        for i in range(cfg.num_envs):
            if dones[t, i]:  # a new episode: its first frame in every slot
                assert all(np.array_equal(obs[t + 1, i, :, :, c], obs[t + 1, i, :, :, 2]) for c in range(2))
            else:  # the oldest frame drops out, the newest is last
                np.testing.assert_array_equal(obs[t + 1, i, :, :, :2], obs[t, i, :, :, 1:])
    assert not np.array_equal(obs[-1, :, :, :, 0], obs[-1, :, :, :, 2])  # the cars moved
