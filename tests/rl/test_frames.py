"""Training frames resized in batches (training.rl.frames) are bit-for-bit Pillow's, which the
drive agent's preprocessing uses at race time."""

import numpy as np
import pytest

from drive_agent.preprocessing import preprocess, resize
from simulator.camera import DeepRacerCamera
from simulator.track import load_track
from training.rl.config import RLConfig
from training.rl.frames import PillowBilinear, pillow_coefficients
from training.rl.rollout import FrameEncoder, preprocessing_spec


def _frames(shape, n=12, seed=0):
    rng = np.random.default_rng(seed)
    frames = rng.integers(0, 256, (n, *shape), dtype=np.uint8)
    frames[:3] = (frames[:3] > 127) * np.uint8(255)  # hard edges: rounding is tested at 0 and 255
    frames[3:5] = np.linspace(0, 255, shape[1]).astype(np.uint8)  # ramps
    frames[5] = 255
    return frames


@pytest.mark.parametrize(("source", "target"), [
    ((120, 160), (60, 80)),  # the default: DeepRacer's frame halved
    ((120, 160), (40, 53)),  # uneven factors: no regular run of weights
    ((120, 160), (30, 40)),
    ((120, 160), (120, 80)),  # one axis only
    ((37, 51), (80, 100)),  # enlarging
])
def test_batched_resize_is_pillows_bit_for_bit(source, target):
    frames = _frames(source)
    ours = PillowBilinear(source, target)(frames)
    pillow = np.stack([resize(f[:, :, None], target)[:, :, 0] for f in frames])
    assert ours.dtype == np.uint8 and ours.shape == (len(frames), *target)
    np.testing.assert_array_equal(ours, pillow)


def test_coefficients_are_normalised_fixed_point_weights():
    index, weight = pillow_coefficients(160, 80)
    assert index.shape == weight.shape and index.shape[0] == 80
    sums = weight.sum(axis=1)
    assert np.all(np.abs(sums - (1 << 22)) <= weight.shape[1])  # each row sums to one in 22-bit fixed point
    assert list(weight[10][weight[10] > 0]) == [1 << 19, 3 << 19, 3 << 19, 1 << 19]  # 1/8 3/8 3/8 1/8
    assert list(index[10][weight[10] > 0]) == [19, 20, 21, 22]


def test_resize_refuses_frames_of_another_size():
    with pytest.raises(ValueError, match="expected uint8 frames"):
        PillowBilinear((120, 160), (60, 80))(np.zeros((2, 60, 80), np.uint8))


def test_encoder_batch_equals_the_drive_agents_preprocessing_of_camera_frames():
    cfg = RLConfig()
    track = load_track("reinvent_base")
    camera = DeepRacerCamera(track)
    frames = np.stack([camera.render(*track.pose_at(d, off)) for d, off in ((0.5, 0.0), (4.0, 0.2), (9.0, -0.3))])
    encoder = FrameEncoder(cfg)
    batch = encoder.batch(frames)
    driving = np.stack([preprocess(f, preprocessing_spec(cfg, scale="none"), dtype=np.uint8)[:, :, 0]
                        for f in frames])
    np.testing.assert_array_equal(batch, driving)
    np.testing.assert_array_equal(batch[1], encoder(frames[1]))


def test_full_size_frames_pass_through_unchanged():
    encoder = FrameEncoder(RLConfig(network="deepracer_shallow", downscale=1))
    frames = _frames((120, 160), n=6)
    out = encoder.batch(frames)
    np.testing.assert_array_equal(out, frames)
    assert not np.shares_memory(out, frames)
