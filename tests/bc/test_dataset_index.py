"""Indexing recordings: the real 120-row sample, both log layouts, bad rows, smoothing."""

import numpy as np

from tests.bc.helpers import make_dataset
from training.bc.config import TrainConfig
from training.bc.dataset_index import index_dataset, index_datasets
from training.bc.smoothing import exponential_forward_backward, gaussian, smooth_steering


def test_real_sample_ingests_all_120_rows(real_sample):
    ix = index_dataset(real_sample)
    assert len(ix) == 120
    assert ix.skipped_rows == []
    for column in (ix.center, ix.left, ix.right):
        assert all(p.startswith(str(real_sample / "IMG")) for p in column)
    assert np.isclose(ix.steering_raw[0], -0.3578973)
    assert ix.throttle.max() <= 1.0 and ix.speed.max() > 20


def test_header_with_relative_paths_layout(real_sample, tmp_path):
    ds = make_dataset(tmp_path / "ds", real_sample, rows=10, header=True, relative=True)
    ix = index_dataset(ds)
    assert len(ix) == 10 and ix.skipped_rows == []
    assert ix.center[0].startswith(str(ds / "IMG"))


def test_bad_rows_are_skipped_with_reasons(real_sample, tmp_path):
    ds = make_dataset(tmp_path / "ds", real_sample, rows=5)
    log = ds / "driving_log.csv"
    lines = log.read_text().splitlines()
    lines.append(lines[0].replace("center_", "center_missing_"))
    lines.append("a, b, c, nan, 1, 0, 3")
    lines.append("only, three, fields")
    lines.append(lines[1].replace("0, 1, 0,", "7.5, 1, 0,"))
    log.write_text("\n".join(lines) + "\n")
    ix = index_dataset(ds)
    assert len(ix) == 5
    reasons = " | ".join(ix.skipped_rows)
    assert "not in IMG/" in reasons and "not finite" in reasons
    assert "got 3" in reasons and "outside -1..1" in reasons


def test_scientific_notation_parses(real_sample, tmp_path):
    ds = make_dataset(tmp_path / "ds", real_sample, rows=3)
    log = ds / "driving_log.csv"
    first, *rest = log.read_text().splitlines()
    cells = first.split(", ")
    cells[3] = "7.843922E-05"
    log.write_text("\n".join([", ".join(cells), *rest]) + "\n")
    assert np.isclose(index_dataset(ds).steering_raw[0], 7.843922e-05)


def test_smoothing_is_applied_per_recording(real_sample):
    cfg = TrainConfig(smoothing="gaussian", smoothing_sigma=3.0)
    ix = index_datasets([real_sample], cfg)
    assert np.allclose(ix.steering, gaussian(ix.steering_raw, 3.0), atol=1e-6)
    assert np.std(np.diff(ix.steering)) < np.std(np.diff(ix.steering_raw))


def test_smoothers_keep_constants_and_lengths_and_have_no_lag():
    flat = np.full(30, 0.25)
    assert np.allclose(exponential_forward_backward(flat, 0.3), flat)
    assert np.allclose(gaussian(flat, 3.0), flat)
    spike = np.zeros(41)
    spike[20] = 1.0
    for smoothed in (exponential_forward_backward(spike, 0.3), gaussian(spike, 3.0)):
        assert smoothed.shape == spike.shape
        assert smoothed.max() < 0.5
        assert int(np.argmax(smoothed)) == 20  # zero phase: the peak stays put
    assert np.array_equal(smooth_steering(spike, "none"), spike)
