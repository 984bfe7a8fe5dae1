"""The block split keeps neighbouring (near-identical) frames out of both sides."""

import numpy as np
import pytest

from tests.bc.helpers import make_dataset
from training.bc.config import TrainConfig
from training.bc.dataset_index import index_datasets, split_index
from training.bc.split import block_split, min_distance


@pytest.mark.parametrize("n, block, gap", [(1000, 50, 5), (120, 20, 2), (37, 50, 3)])
def test_no_validation_frame_has_a_training_neighbour(n, block, gap):
    train, val = block_split(n, 0.2, block, gap, seed=3)
    assert train.size and val.size
    assert not set(train) & set(val)
    assert min_distance(train, val) > gap


def test_validation_is_made_of_contiguous_blocks_of_about_the_fraction():
    train, val = block_split(1000, 0.2, 50, 5, seed=1)
    assert val.size == 200
    starts = val[np.r_[True, np.diff(val) > 1]]
    assert all(s % 50 == 0 for s in starts)


def test_split_depends_on_the_seed_only():
    a = block_split(500, 0.2, 25, 2, seed=7)
    b = block_split(500, 0.2, 25, 2, seed=7)
    c = block_split(500, 0.2, 25, 2, seed=8)
    assert np.array_equal(a[1], b[1])
    assert not np.array_equal(a[1], c[1])


def test_two_recordings_are_split_separately(real_sample, tmp_path):
    other = make_dataset(tmp_path / "b", real_sample, rows=60)
    cfg = TrainConfig(val_block_frames=20, val_gap_frames=2)
    ix = index_datasets([real_sample, other], cfg)
    train, val = split_index(ix, cfg)
    for dataset_id in (0, 1):
        mine_train = np.sort(train[ix.dataset_id[train] == dataset_id])
        mine_val = np.sort(val[ix.dataset_id[val] == dataset_id])
        assert mine_train.size and mine_val.size
        assert min_distance(mine_train, mine_val) > 2
