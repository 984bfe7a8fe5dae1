"""Preprocessing exactness against hand-computed crops, resizes and colour conversions.

Its speed (best of 200 Udacity YUV frames, target under 1 ms) is a figure of bench/agent_latency.py."""

from __future__ import annotations

import numpy as np
import pytest

from drive_agent.model_card import PreprocessingSpec
from drive_agent.preprocessing import convert_color, preprocess


def test_crop_only_keeps_the_middle_rows() -> None:
    frame = np.repeat(np.arange(10, dtype=np.uint8)[:, None, None], 4, axis=1).repeat(3, axis=2)
    out = preprocess(frame, PreprocessingSpec(crop_top=3, crop_bottom=2), dtype=np.uint8)
    assert out.shape == (5, 4, 3)
    assert out[:, 0, 0].tolist() == [3, 4, 5, 6, 7]


def test_halving_resize_uses_a_triangle_filter() -> None:
    # A horizontal ramp 0, 8, 16, ... shrunk 8 -> 4 columns: Pillow's bilinear filter at scale 2
    # weighs the four nearest columns 1/8, 3/8, 3/8, 1/8 (edge: taps renormalised to 3/7, 3/7, 1/7).
    ramp = (np.arange(8) * 8).astype(np.uint8)
    frame = np.broadcast_to(ramp[None, :, None], (4, 8, 3)).copy()
    out = preprocess(frame, PreprocessingSpec(resize=(4, 4)), dtype=np.uint8)
    expected_inner = [16 * i + 4 for i in (1, 2)]          # (8(2i-1) + 3*8(2i) + 3*8(2i+1) + 8(2i+2)) / 8
    assert out[0, 1:3, 0].tolist() == expected_inner
    assert out[0, 0, 0] == round((0 * 3 + 8 * 3 + 16 * 1) / 7)  # 40/7 = 5.71 -> 6
    assert (out == out[:1]).all()  # rows are identical: the vertical direction was constant


def test_yuv_matches_hand_computed_bt601_values() -> None:
    pixels = np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255], [128, 128, 128], [10, 200, 30]]], np.uint8)
    yuv = convert_color(pixels, "yuv")

    def by_hand(r: int, g: int, b: int) -> list[int]:
        y = round(0.299 * r + 0.587 * g + 0.114 * b)
        u = round((b - y) * 0.492 + 128)
        v = round((r - y) * 0.877 + 128)
        return [min(255, max(0, c)) for c in (y, u, v)]

    assert yuv[0].tolist() == [by_hand(*p) for p in pixels[0].tolist()]
    assert yuv[0, 0].tolist() == [76, 91, 255]   # red: V clips
    assert yuv[0, 3].tolist() == [128, 128, 128]  # grey has no colour


def test_gray_is_luma_with_one_channel() -> None:
    out = convert_color(np.array([[[255, 0, 0], [0, 0, 255]]], np.uint8), "gray")
    assert out.shape == (1, 2, 1)
    assert out[0, :, 0].tolist() == [76, 29]


def test_full_pipeline_crop_resize_yuv_and_scales() -> None:
    frame = np.zeros((160, 320, 3), np.uint8)
    frame[:60] = (255, 255, 255)   # sky: cropped away
    frame[60:135] = (0, 0, 255)    # road: pure blue
    frame[135:] = (255, 0, 0)      # bonnet: cropped away
    spec = PreprocessingSpec(crop_top=60, crop_bottom=25, resize=(66, 200), color_space="yuv")
    out = preprocess(frame, spec)
    assert out.shape == (66, 200, 3) and out.dtype == np.float32
    assert np.all(out == np.array([29, 239, 103], np.float32))  # blue: (29, .492*226+128=239.2, .877*-29+128=102.6)
    sym = preprocess(frame, PreprocessingSpec(60, 25, (66, 200), "yuv", "symmetric"))
    np.testing.assert_allclose(sym, out / 127.5 - 1, atol=1e-6)
    unit = preprocess(frame, PreprocessingSpec(60, 25, (66, 200), "yuv", "unit"))
    np.testing.assert_allclose(unit, out / 255, atol=1e-6)


def test_grayscale_frames_pass_through_gray_specs() -> None:
    frame = np.full((120, 160), 77, np.uint8)
    out = preprocess(frame, PreprocessingSpec(crop_top=20, color_space="gray"), dtype=np.uint8)
    assert out.shape == (100, 160, 1) and (out == 77).all()


@pytest.mark.parametrize("frame, spec, message", [
    (np.zeros((10, 10, 3), np.float32), PreprocessingSpec(), "uint8"),
    (np.zeros((10, 10, 3), np.uint8), PreprocessingSpec(crop_top=6, crop_bottom=4), "cannot crop"),
    (np.zeros((10, 10), np.uint8), PreprocessingSpec(color_space="yuv"), "needs a 3-channel"),
])
def test_bad_inputs_raise_value_error(frame, spec, message) -> None:
    with pytest.raises(ValueError, match=message):
        preprocess(frame, spec)

