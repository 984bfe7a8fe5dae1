"""The TF resize twin is Pillow's bilinear resize (drive_agent's) bit for bit."""

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from drive_agent.preprocessing import resize
from training.bc.tf_resize import resize_like_pillow


@pytest.mark.parametrize("size", [(66, 200), (80, 200), (75, 75), (100, 400)])
def test_twin_equals_drive_agent_resize_on_real_frames(real_sample, size):
    frames = np.stack([np.asarray(Image.open(p).convert("RGB"))[60:135]
                       for p in sorted((real_sample / "IMG").glob("*.jpg"))[::4]])
    expected = np.stack([resize(f, size) for f in frames]).astype(np.int32)
    got = tf.function(lambda x: resize_like_pillow(x, size), jit_compile=True)(
        tf.constant(frames)).numpy()
    assert np.array_equal(got, expected)


def test_twin_on_random_frames_without_xla():
    frames = np.random.default_rng(0).integers(0, 256, (2, 75, 320, 3), dtype=np.uint8)
    expected = np.stack([resize(f, (66, 200)) for f in frames]).astype(np.int32)
    assert np.array_equal(resize_like_pillow(tf.constant(frames), (66, 200)).numpy(), expected)
