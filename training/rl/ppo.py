"""Clipped PPO on an actor-critic Keras model: acting, GAE and the update, as tf.functions.

`PPOLearner.act` runs the network once for a batch of cars (one compiled call per step of all
cars); sampling happens in NumPy with a seeded generator so that a resumed run continues the
same random stream. `PPOLearner.update` runs every epoch and minibatch of an iteration inside
one compiled function (no Python between minibatches): the clipped surrogate, a value loss
(Huber or mean squared error, DeepRacer's `loss_type`), an entropy bonus (`beta_entropy`),
advantages normalised over the iteration, gradients clipped to a global norm of 0.5.
`scheduled_lr` moves the learning rate between updates (`RLConfig.lr_schedule`); it lives in the
optimizer's variables, so a checkpoint carries it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from training.rl.config import RLConfig
from training.rl.networks import NumpyPolicy

VALUE_COEF = 0.5
MAX_GRAD_NORM = 0.5
_LOG_2PI = math.log(2.0 * math.pi)
#: The "kl" schedule's step: the rate is divided or multiplied by this when an update's KL is
#: above twice or below half the target (the rule rl_games and Brax use), within
#: [lr * KL_LR_FLOOR, lr].
KL_LR_STEP = 1.5
KL_LR_FLOOR = 0.01
#: The "linear" schedule ends at this fraction of `lr`.
LINEAR_LR_END = 0.1


def scheduled_lr(config: RLConfig, current: float, kl: float, fraction: float) -> float:
    """The learning rate for the next update, after an update at `current` whose mean KL
    divergence was `kl`, `fraction` (0..1) of the way through the run's time limit."""
    if config.lr_schedule == "linear":
        return config.lr * (1.0 - (1.0 - LINEAR_LR_END) * min(max(fraction, 0.0), 1.0))
    if config.lr_schedule == "kl" and math.isfinite(kl):
        if kl > 2.0 * config.kl_target:
            current /= KL_LR_STEP
        elif kl < 0.5 * config.kl_target:
            current *= KL_LR_STEP
        return min(max(current, config.lr * KL_LR_FLOOR), config.lr)
    return config.lr if config.lr_schedule == "constant" else current


@dataclass
class ActOutput:
    actions: np.ndarray  # int64 (n,) discrete indices, or float32 (n, 2) unit-space samples
    logp: np.ndarray  # float32 (n,)
    values: np.ndarray  # float32 (n,)


def gae(rewards: np.ndarray, values: np.ndarray, dones: np.ndarray, last_values: np.ndarray,
        gamma: float, lam: float) -> tuple[np.ndarray, np.ndarray]:
    """Generalised advantage estimation over time-major (T, n) arrays. `dones[t]` ends the episode
    after step t (no bootstrap past it); `last_values` (n,) bootstraps unfinished episodes.
    Returns (advantages, returns)."""
    steps = rewards.shape[0]
    adv = np.zeros_like(rewards, dtype=np.float32)
    running = np.zeros(rewards.shape[1], dtype=np.float32)
    next_values = last_values.astype(np.float32)
    for t in range(steps - 1, -1, -1):
        alive = 1.0 - dones[t].astype(np.float32)
        delta = rewards[t] + gamma * next_values * alive - values[t]
        running = delta + gamma * lam * alive * running
        adv[t] = running
        next_values = values[t]
    return adv, adv + values


class PPOLearner:
    """Acts with and trains one actor-critic model (see `training.rl.networks`)."""

    def __init__(self, model: keras.Model, config: RLConfig, rng: np.random.Generator) -> None:
        self.model = model
        self.config = config
        self.discrete = config.action_space_type == "discrete"
        self.n_actions = model.outputs[0].shape[-1]
        self.rng = rng
        self.optimizer = keras.optimizers.Adam(learning_rate=config.lr, epsilon=1e-5)
        self.optimizer.build(model.trainable_variables)
        self.huber = config.loss_type == "huber"
        self.numpy_policy = NumpyPolicy(model, config)
        spec = tf.TensorSpec((None, *config.input_shape), tf.uint8)
        action_spec = tf.TensorSpec((None,), tf.int64) if self.discrete else tf.TensorSpec((None, 2), tf.float32)
        vec = tf.TensorSpec((None,), tf.float32)
        self._update_fn = tf.function(
            self._update_graph,
            input_signature=[spec, action_spec, vec, vec, vec, tf.TensorSpec((None, None), tf.int32)])

    # ------------------------------------------------------------------ acting
    def act(self, obs: np.ndarray, greedy: bool = False, epsilon: float = 0.0) -> ActOutput:
        """Choose actions for a batch of uint8 observations (n, H, W, stack), with the NumPy
        twin of the network (`training.rl.networks.NumpyPolicy`)."""
        outputs = self.numpy_policy(obs.astype(np.float32) * np.float32(1.0 / 255.0))
        values = outputs[1][:, 0].astype(np.float32)
        if self.discrete:
            logits = outputs[0].astype(np.float64)
            logits -= logits.max(axis=1, keepdims=True)
            logp_all = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
            if greedy:
                actions = logp_all.argmax(axis=1)
            else:
                u = self.rng.random((len(obs), 1))
                actions = (np.exp(logp_all).cumsum(axis=1) < u).sum(axis=1)
                actions = np.minimum(actions, self.n_actions - 1)
                if epsilon > 0.0:
                    explore = self.rng.random(len(obs)) < epsilon
                    actions = np.where(explore, self.rng.integers(0, self.n_actions, len(obs)), actions)
            logp = logp_all[np.arange(len(obs)), actions].astype(np.float32)
            return ActOutput(actions.astype(np.int64), logp, values)
        mean, log_std = outputs[0].astype(np.float32), outputs[2].astype(np.float32)
        if greedy:
            sample = mean
        else:
            sample = (mean + np.exp(log_std) * self.rng.standard_normal(mean.shape)).astype(np.float32)
        logp = (-0.5 * (((sample - mean) / np.exp(log_std)) ** 2 + 2 * log_std + _LOG_2PI)).sum(axis=1)
        return ActOutput(sample, logp.astype(np.float32), values)

    # ------------------------------------------------------------------ learning
    def _update_graph(self, obs: tf.Tensor, actions: tf.Tensor, logp_old: tf.Tensor, adv: tf.Tensor,
                      returns: tf.Tensor, batches: tf.Tensor) -> dict[str, tf.Tensor]:
        clip = self.config.clip_epsilon
        beta = self.config.beta_entropy
        variables = self.model.trainable_variables
        totals = tf.zeros(6, tf.float32)
        count = tf.shape(batches)[0]
        for i in tf.range(count):
            idx = batches[i]
            x = tf.cast(tf.gather(obs, idx), tf.float32) * (1.0 / 255.0)
            a = tf.gather(actions, idx)
            old = tf.gather(logp_old, idx)
            advantage = tf.gather(adv, idx)
            target = tf.gather(returns, idx)
            with tf.GradientTape() as tape:
                outputs = self.model(x, training=True)
                value = outputs[1][:, 0]
                if self.discrete:
                    logp_all = tf.nn.log_softmax(outputs[0])
                    logp = tf.gather(logp_all, a, batch_dims=1)
                    entropy = -tf.reduce_sum(tf.exp(logp_all) * logp_all, axis=1)
                else:
                    mean, log_std = outputs[0], outputs[2]
                    z = (a - mean) / tf.exp(log_std)
                    logp = tf.reduce_sum(-0.5 * (z * z + 2.0 * log_std + _LOG_2PI), axis=1)
                    entropy = tf.reduce_sum(log_std + 0.5 * (1.0 + _LOG_2PI), axis=1)
                ratio = tf.exp(logp - old)
                surrogate = tf.minimum(ratio * advantage,
                                       tf.clip_by_value(ratio, 1.0 - clip, 1.0 + clip) * advantage)
                policy_loss = -tf.reduce_mean(surrogate)
                error = target - value
                if self.huber:
                    absolute = tf.abs(error)
                    quadratic = tf.minimum(absolute, 1.0)
                    value_loss = tf.reduce_mean(0.5 * quadratic * quadratic + (absolute - quadratic))
                else:
                    value_loss = tf.reduce_mean(0.5 * error * error)
                mean_entropy = tf.reduce_mean(entropy)
                loss = policy_loss + VALUE_COEF * value_loss - beta * mean_entropy
            grads = tape.gradient(loss, variables)
            grads, _ = tf.clip_by_global_norm(grads, MAX_GRAD_NORM)
            self.optimizer.apply_gradients(zip(grads, variables, strict=True))
            kl = tf.reduce_mean(old - logp)
            clipped = tf.reduce_mean(tf.cast(tf.abs(ratio - 1.0) > clip, tf.float32))
            totals += tf.stack([policy_loss, value_loss, mean_entropy, kl, clipped, loss])
        totals /= tf.cast(tf.maximum(count, 1), tf.float32)
        return {"policy_loss": totals[0], "value_loss": totals[1], "entropy": totals[2], "kl": totals[3],
                "clip_fraction": totals[4], "loss": totals[5]}

    def update(self, obs: np.ndarray, actions: np.ndarray, logp_old: np.ndarray, advantages: np.ndarray,
               returns: np.ndarray) -> dict[str, float]:
        """`num_epochs` passes of minibatches of `batch_size` over one iteration's samples."""
        return self.finish_update(self.run_update(self.prepare_update(obs, actions, logp_old, advantages, returns)))

    def prepare_update(self, obs: np.ndarray, actions: np.ndarray, logp_old: np.ndarray,
                       advantages: np.ndarray, returns: np.ndarray) -> tuple[Any, ...]:
        """The update's inputs, with advantages normalised over the iteration and the minibatch
        order drawn from the learner's generator (on the caller's thread: `act` shares it)."""
        n = len(obs)
        batch = min(self.config.batch_size, n)
        per_epoch = max(n // batch, 1)
        adv = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
        order = np.stack([self.rng.permutation(n)[:per_epoch * batch].reshape(per_epoch, batch)
                          for _ in range(self.config.num_epochs)]).reshape(-1, batch).astype(np.int32)
        return (obs, actions, np.asarray(logp_old, np.float32), adv.astype(np.float32),
                np.asarray(returns, np.float32), order)

    def run_update(self, prepared: tuple[Any, ...]) -> dict[str, Any]:
        """Train the Keras model on `prepare_update`'s inputs. Touches only the model and its
        optimizer (not the NumPy twin that `act` uses), so it may run on another thread while
        the caller keeps acting with the policy from before the update."""
        obs, actions, logp_old, adv, returns, order = prepared
        stats = self._update_fn(tf.constant(obs), tf.constant(actions), tf.constant(logp_old),
                                tf.constant(adv), tf.constant(returns), tf.constant(order))
        out: dict[str, Any] = {k: float(v.numpy()) for k, v in stats.items()}
        out["minibatches"] = int(order.shape[0])
        return out

    def finish_update(self, stats: dict[str, Any]) -> dict[str, float]:
        """Act with the updated weights from now on (on the acting thread)."""
        self.numpy_policy.sync(self.model)
        stats["lr"] = self.lr
        return stats

    @property
    def lr(self) -> float:
        """The learning rate the next update uses."""
        return float(self.optimizer.learning_rate)

    def set_lr(self, value: float) -> None:
        """Change the learning rate of the next update (not while one runs)."""
        self.optimizer.learning_rate.assign(value)

    # ------------------------------------------------------------------ checkpoints
    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.model.save_weights(folder / "model.weights.h5")
        np.savez(folder / "optimizer.npz", *[v.numpy() for v in self.optimizer.variables])

    def load(self, folder: Path, optimizer: bool = True) -> None:
        self.model.load_weights(folder / "model.weights.h5")
        self.numpy_policy.sync(self.model)
        opt_file = folder / "optimizer.npz"
        if optimizer and opt_file.is_file():
            with np.load(opt_file) as saved:
                values = [saved[f"arr_{i}"] for i in range(len(saved.files))]
            if len(values) == len(self.optimizer.variables) and all(
                    tuple(v.shape) == tuple(s.shape) for v, s in zip(self.optimizer.variables, values, strict=True)):
                for var, value in zip(self.optimizer.variables, values, strict=True):
                    var.assign(value)


def unit_to_command(sample: np.ndarray, low_high: tuple[tuple[float, float], tuple[float, float]]) -> np.ndarray:
    """Continuous samples in -1..1 (n, 2) -> (steering_deg, speed), as
    `drive_agent.runtime.decode_output` maps the exported model's output."""
    clipped = np.clip(sample, -1.0, 1.0)
    (s_lo, s_hi), (v_lo, v_hi) = low_high
    steer = s_lo + (clipped[:, 0] + 1.0) * 0.5 * (s_hi - s_lo)
    speed = v_lo + (clipped[:, 1] + 1.0) * 0.5 * (v_hi - v_lo)
    return np.stack([steer, speed], axis=1)


def describe(stats: dict[str, Any]) -> str:
    return " ".join(f"{k} {v:.4g}" for k, v in stats.items() if isinstance(v, float))
