"""The TF colour conversion twin equals drive_agent's on every real sample frame (<= 1 level)."""

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from drive_agent.preprocessing import convert_color, resize
from training.bc import tf_color


@pytest.mark.parametrize("color_space", ["yuv", "gray", "rgb"])
def test_twin_matches_drive_agent_on_all_real_frames(real_sample, color_space):
    frames = np.stack([resize(np.asarray(Image.open(p).convert("RGB"))[60:135], (66, 200))
                       for p in sorted((real_sample / "IMG").glob("*.jpg"))])
    expected = np.stack([convert_color(f, color_space) for f in frames]).astype(np.float32)
    got = tf.function(lambda x: tf_color.convert_color(x, color_space), jit_compile=True)(
        tf.constant(frames)).numpy()
    assert got.shape == expected.shape
    diff = np.abs(got - expected)
    assert diff.max() <= 1.0
    assert (diff > 0).mean() < 1e-3  # only values on a rounding boundary may differ
