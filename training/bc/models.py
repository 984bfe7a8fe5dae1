"""Model builders: NVIDIA PilotNet and seed 000's Inception v3 transfer-learning model.

Both take preprocessed frames with values 0..255 (model card scale "none") and normalise inside
the network, so the exported TFLite file needs no extra arithmetic on the car.
"""

from __future__ import annotations

from pathlib import Path

import keras
from keras import layers

from training.bc.config import TrainConfig

PILOTNET_PARAMS_66x200 = 252_219


def _regularizer(cfg: TrainConfig):
    return keras.regularizers.L2(cfg.l2) if cfg.l2 > 0 else None


def build_pilotnet(cfg: TrainConfig) -> keras.Model:
    """PilotNet: normalise, conv 24/36/48 5x5 stride 2, conv 64/64 3x3, dense 100/50/10/1."""
    reg = _regularizer(cfg)
    act = cfg.activation
    inputs = keras.Input(shape=cfg.input_shape, name="image")
    x = layers.Rescaling(1.0 / 127.5, offset=-1.0, name="normalise")(inputs)
    for i, (filters, size, stride) in enumerate(
            [(24, 5, 2), (36, 5, 2), (48, 5, 2), (64, 3, 1), (64, 3, 1)], start=1):
        x = layers.Conv2D(filters, size, strides=stride, activation=act, kernel_regularizer=reg,
                          name=f"conv{i}")(x)
    x = layers.Flatten(name="flatten")(x)
    for units in (100, 50, 10):
        x = layers.Dense(units, activation=act, kernel_regularizer=reg, name=f"dense{units}")(x)
    outputs = layers.Dense(1, name="steering")(x)
    return keras.Model(inputs, outputs, name="pilotnet")


PILOTNET_CONV_LAYERS = tuple(f"conv{i}" for i in range(1, 6))


# --- Inception v3 transfer learning -----------------------------------------------------------

def build_inception_prefix(cfg: TrainConfig, weights_path: str | Path | None) -> keras.Model:
    """The first layers of InceptionV3 (through `cfg.inception_cut`), frozen, with its weights.

    `weights_path` is an InceptionV3 weights file (Keras' ImageNet "notop" .h5, or a
    `.weights.h5` saved from `keras.applications.InceptionV3`); None leaves random weights
    (only sensible in tests). Nothing is ever downloaded. The prefix takes 0..255 RGB and
    applies Inception's own -1..1 scaling itself.
    """
    height, width, _ = cfg.input_shape
    base = keras.applications.InceptionV3(include_top=False, weights=None,
                                          input_shape=(height, width, 3))
    if weights_path is not None:
        path = Path(weights_path)
        if not path.is_file():
            raise FileNotFoundError(f"Inception v3 weights file not found: {path}")
        base.load_weights(str(path))
    cut = cfg.inception_cut
    if isinstance(cut, int):
        if cut >= len(base.layers):
            raise ValueError(f"inception_cut {cut} is beyond InceptionV3's "
                             f"{len(base.layers)} layers")
        cut_layer = base.layers[cut]
    else:
        try:
            cut_layer = base.get_layer(cut)
        except ValueError as exc:
            raise ValueError(f"InceptionV3 has no layer named {cut!r}") from exc
    inputs = keras.Input(shape=(height, width, 3), name="image")
    trunk = keras.Model(base.input, cut_layer.output, name="inception_trunk")
    trunk.trainable = False
    x = layers.Rescaling(1.0 / 127.5, offset=-1.0, name="inception_scale")(inputs)
    features = trunk(x, training=False)
    prefix = keras.Model(inputs, features, name="inception_prefix")
    prefix.trainable = False
    return prefix


def build_transfer_head(feature_shape: tuple[int, ...], cfg: TrainConfig) -> keras.Model:
    """Seed 000's trainable head: 1x1 conv, then two dense layers, on bottleneck features."""
    reg = _regularizer(cfg)
    inputs = keras.Input(shape=feature_shape, name="features")
    x = layers.Conv2D(cfg.head_conv_filters, 1, activation=cfg.activation,
                      kernel_regularizer=reg, name="head_conv1x1")(inputs)
    x = layers.Flatten(name="head_flatten")(x)
    x = layers.Dense(cfg.head_dense_units, activation=cfg.activation, kernel_regularizer=reg,
                     name="head_dense")(x)
    outputs = layers.Dense(1, name="steering")(x)
    return keras.Model(inputs, outputs, name="transfer_head")


def join_transfer_model(prefix: keras.Model, head: keras.Model) -> keras.Model:
    """Image -> steering: the frozen prefix followed by the trained head (what gets exported)."""
    inputs = keras.Input(shape=prefix.input_shape[1:], name="image")
    outputs = head(prefix(inputs, training=False))
    return keras.Model(inputs, outputs, name="inception_transfer")


def build_model(cfg: TrainConfig, inception_weights: str | Path | None = None) -> keras.Model:
    """The full image -> steering model for `cfg` (uncompiled)."""
    if cfg.architecture == "pilotnet":
        return build_pilotnet(cfg)
    prefix = build_inception_prefix(cfg, inception_weights or cfg.inception_weights)
    head = build_transfer_head(tuple(prefix.output_shape[1:]), cfg)
    return join_transfer_model(prefix, head)


def make_optimizer(cfg: TrainConfig) -> keras.optimizers.Optimizer:
    if cfg.optimizer == "adam":
        return keras.optimizers.Adam(cfg.learning_rate)
    if cfg.optimizer == "sgd":
        return keras.optimizers.SGD(cfg.learning_rate, momentum=0.9)
    return keras.optimizers.RMSprop(cfg.learning_rate)


def compile_model(model: keras.Model, cfg: TrainConfig) -> keras.Model:
    model.compile(optimizer=make_optimizer(cfg), loss=cfg.loss, metrics=["mae"])
    return model
