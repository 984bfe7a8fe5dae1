"""Saliency maps: shapes, non-constant maps, and the PNG/GIF files of a run."""

import numpy as np
from PIL import Image

from training.bc import saliency
from training.bc.config import TrainConfig
from training.bc.models import build_pilotnet


def _frames(n=3):
    rng = np.random.default_rng(1)
    frames = rng.uniform(0, 255, size=(n, 66, 200, 3)).astype("float32")
    frames[:, 30:40, 80:120] = 255.0  # a bright patch the network can react to
    return frames


def test_visual_backprop_gives_one_varied_map_per_frame():
    model = build_pilotnet(TrainConfig())
    maps = saliency.visual_backprop(model, _frames())
    assert maps.shape == (3, 66, 200)
    assert maps.min() >= 0.0 and maps.max() <= 1.0
    assert all(m.std() > 0.01 for m in maps)


def test_grad_cam_on_the_transfer_layout():
    import keras

    cfg = TrainConfig(architecture="inception_transfer", color_space="rgb", resize=(75, 75))
    feature_model = keras.Sequential([keras.Input((75, 75, 3)),
                                      keras.layers.Conv2D(4, 5, strides=4, activation="relu")])
    head = keras.Sequential([keras.Input(feature_model.output_shape[1:]),
                             keras.layers.Flatten(), keras.layers.Dense(1)])
    maps = saliency.grad_cam(feature_model, head, np.random.default_rng(0).uniform(
        0, 255, (2, 75, 75, 3)).astype("float32"))
    assert maps.shape == (2, 75, 75) and maps.std() > 0.0
    assert cfg.input_shape == (75, 75, 3)


def test_overlay_blends_colour_where_hot():
    frame = np.full((10, 20, 3), 128, np.uint8)
    heat = np.zeros((10, 20))
    heat[:, 10:] = 1.0
    out = saliency.overlay(frame, heat)
    assert np.array_equal(out[:, :10], frame[:, :10])
    assert not np.array_equal(out[:, 10:], frame[:, 10:])


def test_run_writes_png_overlays_and_an_animated_gif(trained_run):
    result, cfg, _ = trained_run
    heat_dir = result.out_dir / "heatmaps"
    pngs = sorted(heat_dir.glob("frame_*.png"))
    assert len(pngs) == cfg.saliency_samples
    with Image.open(pngs[0]) as png:
        assert png.size == (400, 132)
        assert np.asarray(png.convert("RGB")).std() > 5
    with Image.open(heat_dir / "sequence.gif") as gif:
        assert gif.n_frames == cfg.saliency_gif_frames
    assert result.artifacts["heatmaps"]["gif"] == "heatmaps/sequence.gif"
