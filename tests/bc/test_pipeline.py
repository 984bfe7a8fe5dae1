"""The tf.data pipeline: same pixels as drive_agent.preprocessing, streamed from disk."""

import os
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from drive_agent.preprocessing import preprocess
from tests.bc.helpers import make_dataset, tiny_config
from training.bc import data


def _reference(paths, cfg):
    spec = data.preprocessing_spec(cfg)
    return np.stack([preprocess(np.asarray(Image.open(p).convert("RGB")), spec) for p in paths])


def test_pipeline_agrees_with_drive_agent_preprocessing(real_sample):
    for color_space in ("yuv", "rgb", "gray"):
        cfg = tiny_config(color_space=color_space, batch_size=8)
        split = data.prepare([real_sample], cfg)
        batch = next(iter(data.image_dataset(split.val_paths[:8], cfg))).numpy()
        assert batch.shape == (8, 66, 200, cfg.channels)
        assert np.abs(batch - _reference(split.val_paths[:8], cfg)).max() <= 1.0


def test_training_batches_have_the_model_shape_and_augmented_labels(real_sample):
    cfg = tiny_config(side_cameras=True, shift_px=30, batch_size=32)
    split = data.prepare([real_sample], cfg)
    pipeline = data.training_dataset(split.train_paths, split.train_angles, cfg)
    assert [spec.shape.as_list() for spec in pipeline.element_spec] == [[None, 66, 200, 3], [None, 1]]
    images, angles = next(iter(pipeline))
    assert images.shape == (32, 66, 200, 3) and angles.shape == (32, 1)
    assert images.dtype.name == "float32" and 0.0 <= float(np.min(images)) <= 255.0
    base = set(np.round(split.train_angles, 4)) | set(np.round(-split.train_angles, 4))
    assert not set(np.round(angles.numpy().ravel(), 4)) <= base  # shifts changed some labels


def test_validation_pipeline_is_ordered_and_unaugmented(real_sample):
    cfg = tiny_config(shift_px=40, brightness=0.5, shadow_probability=1.0)
    split = data.prepare([real_sample], cfg)
    batches = list(data.validation_dataset(split.val_paths, split.val_angles, cfg))
    angles = np.concatenate([y.numpy().ravel() for _, y in batches])
    assert np.allclose(angles, split.val_angles)
    first = batches[0][0].numpy()
    assert np.abs(first - _reference(split.val_paths[:len(first)], cfg)).max() <= 1.0


def test_pipeline_streams_files_lazily(real_sample, tmp_path):
    """Building the pipeline reads no image: a file replaced afterwards is what comes out."""
    ds_dir = make_dataset(tmp_path / "ds", real_sample, rows=40)
    cfg = tiny_config(batch_size=4, mirror=False, brightness=0.0, shadow_probability=0.0,
                      shift_px=0)
    split = data.prepare([ds_dir], cfg)
    pipeline = data.image_dataset(split.val_paths[:4], cfg)
    target = split.val_paths[0]
    Image.new("RGB", (320, 160), (255, 255, 255)).save(target, quality=100)
    first = next(iter(pipeline)).numpy()[0]
    assert np.all(first[:, :, 0] >= 254)  # luma of a white frame
    spec = pipeline.element_spec
    assert spec.shape.as_list() == [None, 66, 200, 3]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice is Linux's")
def test_training_pipeline_thread_yields_to_the_model(real_sample):
    """The thread decoding training batches runs at PIPELINE_NICE (the model threads at 0)."""
    cfg = tiny_config(batch_size=8)
    split = data.prepare([real_sample], cfg)
    batches = iter(data.training_dataset(split.train_paths, split.train_angles, cfg))
    next(batches)
    nices = [int(Path(f"/proc/self/task/{tid}/stat").read_text().rsplit(")", 1)[1].split()[16])
             for tid in os.listdir("/proc/self/task")]
    assert data.PIPELINE_NICE in nices
    assert os.getpriority(os.PRIO_PROCESS, 0) == 0  # this (the model's) thread is untouched


@pytest.mark.parametrize("frame_cache", [True, False])
def test_training_frames_are_drive_agent_frames_or_their_mirror_images(real_sample, tmp_path, frame_cache):
    """Unlit, unshifted training images are exactly what the car would see, or its mirror image
    with the steering negated (mirroring model-sized frames is exact), from the cache or not."""
    ds_dir = make_dataset(tmp_path / "ds", real_sample, rows=40)
    cfg = tiny_config(batch_size=16, mirror=True, brightness=0.0, shadow_probability=0.0,
                      shift_px=0, side_cameras=True)
    split = data.prepare([ds_dir], cfg)
    reference = _reference(split.train_paths, cfg)
    angles = split.train_angles
    images, labels = next(iter(data.training_dataset(split.train_paths, angles, cfg,
                                                     frame_cache=frame_cache)))
    mirrored = 0
    for image, label in zip(images.numpy(), labels.numpy()[:, 0], strict=True):
        plain = [i for i in range(len(reference)) if np.abs(image - reference[i]).max() <= 1.0]
        flipped = [i for i in range(len(reference))
                   if np.abs(image - reference[i][:, ::-1]).max() <= 1.0]
        assert plain or flipped
        if plain:
            assert label == pytest.approx(angles[plain[0]])
        else:
            assert label == pytest.approx(-angles[flipped[0]])
            mirrored += 1
    assert 0 < mirrored < 16
