"""Inception v3 transfer learning: weights from a file (never downloaded), bottleneck cache."""

import json

import keras
import numpy as np
import pytest

from tests.bc.helpers import tiny_config
from training.bc import bottleneck
from training.bc.dataset_index import index_datasets, recording
from training.bc.models import build_inception_prefix


def _inception_config(**overrides):
    base = dict(architecture="inception_transfer", color_space="rgb", resize=(75, 75),
                inception_cut="mixed0", head_conv_filters=8, head_dense_units=8,
                saliency_samples=2, saliency_gif_frames=3, epochs=1)
    base.update(overrides)
    return tiny_config(**base)


@pytest.fixture(scope="module")
def weights_file(tmp_path_factory):
    """Random-initialised InceptionV3 weights saved the way a user would upload them."""
    keras.utils.set_random_seed(5)
    model = keras.applications.InceptionV3(include_top=False, weights=None,
                                           input_shape=(75, 75, 3))
    path = tmp_path_factory.mktemp("weights") / "inception_v3_notop.weights.h5"
    model.save_weights(path)
    return path, model


def test_prefix_loads_the_weights_file_and_is_frozen(weights_file):
    path, source = weights_file
    prefix = build_inception_prefix(_inception_config(), path)
    assert not prefix.trainable and prefix.trainable_weights == []
    conv = source.layers[1]  # the first convolution (auto-generated names differ per model)
    loaded = prefix.get_layer("inception_trunk").layers[1]
    assert type(loaded).__name__ == "Conv2D"
    assert np.array_equal(loaded.get_weights()[0], conv.get_weights()[0])
    assert prefix.output_shape[-1] == 256  # mixed0


def test_cut_by_index_and_errors(weights_file):
    path, source = weights_file
    prefix = build_inception_prefix(_inception_config(inception_cut=12), path)
    assert prefix.output_shape[1:] == source.layers[12].output.shape[1:]
    with pytest.raises(ValueError, match="no layer named"):
        build_inception_prefix(_inception_config(inception_cut="mixed99"), path)
    with pytest.raises(FileNotFoundError, match="weights file not found"):
        build_inception_prefix(_inception_config(), path.with_name("missing.h5"))


def test_bottleneck_features_are_cached_and_reused(weights_file, real_sample, tmp_path):
    path, _ = weights_file
    cfg = _inception_config(mirror=True)
    prefix = build_inception_prefix(cfg, path)
    rec = recording(index_datasets([real_sample], cfg), 0)
    digest = bottleneck.file_digest(path)
    first, file1, reused1 = bottleneck.cached_features(rec, prefix, cfg, tmp_path, digest)
    mtime = file1.stat().st_mtime_ns
    again, file2, reused2 = bottleneck.cached_features(rec, prefix, cfg, tmp_path, digest)
    assert (reused1, reused2) == (False, True) and file1 == file2
    assert file2.stat().st_mtime_ns == mtime
    assert first.shape == (2, 120, *prefix.output_shape[1:])  # plain + mirrored views
    assert np.array_equal(np.asarray(first[0, :3]), np.asarray(again[0, :3]))
    assert not np.array_equal(np.asarray(first[0, 0]), np.asarray(first[1, 0]))
    other_cut = _inception_config(mirror=True, inception_cut=12)
    _, file3, reused3 = bottleneck.cached_features(
        rec, build_inception_prefix(other_cut, path), other_cut, tmp_path, digest)
    assert not reused3 and file3 != file1


def test_transfer_training_exports_a_whole_image_model(weights_file, real_sample, tmp_path):
    from training.bc.train import train

    path, _ = weights_file
    # Cut after layer 12 (seed 000's low-latency cut): the smallest prefix keeps the test quick.
    cfg = _inception_config(inception_weights=str(path), side_cameras=True, inception_cut=12)
    result = train([real_sample], cfg, tmp_path / "run", cache_dir=tmp_path / "cache")
    assert result.epochs_completed == cfg.epochs
    assert len(list((tmp_path / "cache").glob("bottleneck_*.npy"))) == 1
    model = keras.models.load_model(result.out_dir / "model.keras")
    assert model.input_shape == (None, 75, 75, 3) and model.output_shape == (None, 1)
    card = json.loads((result.out_dir / "model_card.json").read_text())
    assert card["tflite"]["input_shape"] == [1, 75, 75, 3]
    assert (result.out_dir / "heatmaps" / "frame_000.png").is_file()
