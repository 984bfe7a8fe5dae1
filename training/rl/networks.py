"""Actor-critic networks for PPO on the DeepRacer camera, and the policy a model card drives.

Both networks read a grey frame stack (H, W, stack_size) scaled 0..1, the output of
`drive_agent.preprocessing` for the card's preprocessing, through a convolutional trunk shared
by two heads: `policy_head` (logits of the discrete actions, or the tanh-squashed mean of
(steering, speed) in -1..1 for a continuous space, with a state-independent `log_std`) and
`value_head`. Layer names are stable (`trunk_*`, `policy_head`, `value_head`, `log_std`) because
cloning copies weights by name.

- "small": about 0.2 M parameters at 80x60 (conv 16 8x8/4, conv 32 4x4/2, conv 32 3x3/1,
  dense 256): cheap enough that PPO's updates keep up with the simulator on two cores.
- "deepracer_shallow": DeepRacer's shallow network (conv 32 8x8/4, conv 64 4x4/2, conv 64 3x3/1,
  dense 512), as the console trains it.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import tensorflow as tf

from training.rl.config import RLConfig

TRUNKS: dict[str, tuple[tuple[tuple[int, int, int], ...], int]] = {
    # (filters, kernel, stride) per convolution, dense units
    "small": (((16, 8, 4), (32, 4, 2), (32, 3, 1)), 256),
    "deepracer_shallow": (((32, 8, 4), (64, 4, 2), (64, 3, 1)), 512),
}
POLICY_HEAD = "policy_head"
VALUE_HEAD = "value_head"
LOG_STD = "log_std"
INITIAL_LOG_STD = -0.5


@keras.saving.register_keras_serializable(package="pitlane_rl")
class LogStd(keras.layers.Layer):
    """A state-independent log standard deviation per action dimension (continuous spaces)."""

    def __init__(self, size: int = 2, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.size = size

    def build(self, input_shape: Any) -> None:
        self.log_std = self.add_weight(name="value", shape=(self.size,),
                                       initializer=keras.initializers.Constant(INITIAL_LOG_STD))

    def call(self, inputs: Any) -> Any:
        return tf.zeros_like(inputs[:, :1]) + self.log_std

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "size": self.size}


def action_outputs(config: RLConfig) -> int:
    """Size of the policy head: the number of discrete actions, or 2 (steering, speed)."""
    space = config.model_metadata().action_space
    return space.n if space.kind == "discrete" else 2


def build_actor_critic(config: RLConfig, seed: int | None = None) -> keras.Model:
    """The PPO network for `config`: input float32 (H, W, stack) 0..1; outputs
    [policy (logits or mean), value] plus log_std for a continuous space."""
    if seed is not None:
        keras.utils.set_random_seed(seed)
    convs, units = TRUNKS[config.network]
    inputs = keras.Input(config.input_shape, name="frames")
    x = inputs
    for i, (filters, kernel, stride) in enumerate(convs):
        x = keras.layers.Conv2D(filters, kernel, strides=stride, activation="relu",
                                name=f"trunk_conv{i + 1}")(x)
    x = keras.layers.Flatten(name="trunk_flatten")(x)
    x = keras.layers.Dense(units, activation="relu", name="trunk_dense")(x)
    n = action_outputs(config)
    small = keras.initializers.Orthogonal(gain=0.01)
    value = keras.layers.Dense(1, name=VALUE_HEAD, kernel_initializer=keras.initializers.Orthogonal(1.0))(x)
    if config.action_space_type == "discrete":
        policy = keras.layers.Dense(n, name=POLICY_HEAD, kernel_initializer=small)(x)
        return keras.Model(inputs, [policy, value], name=f"ppo_{config.network}")
    mean = keras.layers.Dense(n, activation="tanh", name=POLICY_HEAD, kernel_initializer=small)(x)
    log_std = LogStd(n, name=LOG_STD)(mean)
    return keras.Model(inputs, [mean, value, log_std], name=f"ppo_{config.network}")


def policy_for_export(model: keras.Model, config: RLConfig) -> keras.Model:
    """The driving model: float32 [1, H, W, stack] 0..1 -> discrete action probabilities [1, n]
    (softmax of the logits) or the continuous action [1, 2] = (steering, speed) in -1..1, which
    `drive_agent.runtime.decode_output` maps linearly onto the action space's ranges."""
    inputs = keras.Input(config.input_shape, batch_size=1, name="frames")
    outputs = model(inputs)
    policy = outputs[0]
    if config.action_space_type == "discrete":
        policy = keras.layers.Softmax(name="action_probabilities")(policy)
    else:
        policy = keras.layers.Identity(name="action")(policy)
    return keras.Model(inputs, policy, name="policy")


def copy_weights(source: keras.Model, target: keras.Model, *, skip_policy_head: bool) -> list[str]:
    """Copy layer weights by name from `source` into `target` (shapes must agree); the policy
    head and log_std are skipped when `skip_policy_head`. Returns the names copied."""
    copied = []
    by_name = {layer.name: layer for layer in source.layers if layer.weights}
    for layer in target.layers:
        if not layer.weights or layer.name not in by_name:
            continue
        if skip_policy_head and layer.name in (POLICY_HEAD, LOG_STD):
            continue
        weights = by_name[layer.name].get_weights()
        if [w.shape for w in weights] != [np.shape(w) for w in layer.get_weights()]:
            raise ValueError(f"layer {layer.name}: weight shapes differ between the models")
        layer.set_weights(weights)
        copied.append(layer.name)
    return copied


def count_parameters(model: keras.Model) -> int:
    return int(sum(np.prod(w.shape) for w in model.trainable_weights))


class NumpyPolicy:
    """The actor-critic's forward pass in NumPy, for acting: a handful of small matrix products
    per batch of cars, without TensorFlow's per-call dispatch (which costs more than the maths
    at batch 8). `sync(model)` copies the Keras weights after each update; outputs agree with
    `model(x)` to float32 rounding (tests/rl/test_ppo.py)."""

    def __init__(self, model: keras.Model, config: RLConfig) -> None:
        self.convs = TRUNKS[config.network][0]
        self.discrete = config.action_space_type == "discrete"
        self.sync(model)

    def sync(self, model: keras.Model) -> None:
        self.conv_weights = []
        for i, (_filters, kernel, _stride) in enumerate(self.convs):
            w, b = model.get_layer(f"trunk_conv{i + 1}").get_weights()
            # (kh, kw, cin, cout) -> (kh * kw * cin, cout), matching the window layout below
            self.conv_weights.append((np.ascontiguousarray(w.reshape(-1, w.shape[3])), b))
            assert w.shape[0] == kernel
        self.dense = model.get_layer("trunk_dense").get_weights()
        self.policy = model.get_layer(POLICY_HEAD).get_weights()
        self.value = model.get_layer(VALUE_HEAD).get_weights()
        self.log_std = model.get_layer(LOG_STD).get_weights()[0] if not self.discrete else None

    def __call__(self, x: np.ndarray) -> tuple[np.ndarray, ...]:
        """x float32 (n, H, W, C) 0..1 -> (policy, value (n, 1)[, log_std (n, 2)])."""
        h = np.ascontiguousarray(x, dtype=np.float32)
        for (_filters, kernel, stride), (w, b) in zip(self.convs, self.conv_weights, strict=True):
            n, height, width, channels = h.shape
            ho, wo = (height - kernel) // stride + 1, (width - kernel) // stride + 1
            sn, sh, sw, sc = h.strides
            windows = np.lib.stride_tricks.as_strided(  # (n, Ho, Wo, kh, kw, C), a view
                h, (n, ho, wo, kernel, kernel, channels), (sn, sh * stride, sw * stride, sh, sw, sc))
            h = windows.reshape(n * ho * wo, -1) @ w
            h += b
            np.maximum(h, 0.0, out=h)
            h = h.reshape(n, ho, wo, -1)
        h = h.reshape(len(h), -1) @ self.dense[0] + self.dense[1]
        np.maximum(h, 0.0, out=h)
        policy = h @ self.policy[0] + self.policy[1]
        value = h @ self.value[0] + self.value[1]
        if self.discrete:
            return policy, value
        assert self.log_std is not None
        return np.tanh(policy), value, np.broadcast_to(self.log_std, policy.shape)
