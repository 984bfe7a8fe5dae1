"""Model builders: PilotNet's exact size and the transfer head's shape."""

import numpy as np

from training.bc.config import TrainConfig
from training.bc.models import PILOTNET_PARAMS_66x200, build_pilotnet, build_transfer_head, compile_model


def test_pilotnet_has_252219_parameters_at_66x200x3():
    model = build_pilotnet(TrainConfig())
    assert model.count_params() == PILOTNET_PARAMS_66x200 == 252_219
    assert model.output_shape == (None, 1)


def test_pilotnet_normalises_inside_and_trains_a_step():
    cfg = TrainConfig(l2=1e-3, optimizer="sgd", loss="mse")
    model = compile_model(build_pilotnet(cfg), cfg)
    x = np.random.default_rng(0).uniform(0, 255, size=(4, 66, 200, 3)).astype("float32")
    loss = model.train_on_batch(x, np.zeros((4, 1), "float32"))
    assert np.isfinite(np.asarray(loss)).all()


def test_transfer_head_is_1x1_conv_then_two_dense_layers():
    cfg = TrainConfig(architecture="inception_transfer", color_space="rgb", resize=(80, 200),
                      head_conv_filters=8, head_dense_units=16)
    head = build_transfer_head((4, 10, 64), cfg)
    kinds = [type(layer).__name__ for layer in head.layers[1:]]
    assert kinds == ["Conv2D", "Flatten", "Dense", "Dense"]
    assert head.get_layer("head_conv1x1").kernel_size == (1, 1)
    assert head.count_params() == (64 * 8 + 8) + (4 * 10 * 8 * 16 + 16) + 17
