"""Building blocks of the sharp-feature flags."""

from __future__ import annotations

import numpy as np

from tasoc_core.prepare.shenanigans import block_medians, expand_blocks, shenanigans_mask


def test_block_medians_equal_nanmedian_of_each_block() -> None:
    rng = np.random.default_rng(0)
    image = rng.normal(0, 10, (47, 61)).astype(np.float32)  # partial blocks at both edges
    image[rng.random(image.shape) < 0.1] = np.nan
    image[:15, :15] = np.nan  # one empty block
    got = block_medians(image, 15)
    assert got.shape == (4, 5)
    assert np.isnan(got[0, 0])
    for i in range(4):
        for j in range(5):
            if i == 0 and j == 0:
                continue
            block = image[15 * i : 15 * i + 15, 15 * j : 15 * j + 15]
            assert got[i, j] == np.float32(np.nanmedian(block))


def test_block_medians_ignore_stars() -> None:
    image = np.zeros((60, 60), np.float32)
    image[7, 7] = image[20, 40] = 1e5  # bright point sources
    assert not block_medians(image, 15).any()


def test_expand_and_mask() -> None:
    grid = np.full((4, 4), 5.0)
    np.testing.assert_allclose(expand_blocks(grid, (60, 60), 15, slice(0, 60), slice(0, 60)), 5.0)
    deviation = np.zeros((4, 4))
    assert shenanigans_mask(deviation + 39.0, (60, 60), 15, 40.0) is None
    deviation[1, 2] = -100.0  # a dark feature counts as well
    mask = shenanigans_mask(deviation, (60, 60), 15, 40.0)
    assert mask is not None
    rows, cols = np.nonzero(mask)
    # Flags surround the block centre (row 22, col 37) and stay within one block of it.
    assert mask[22, 37]
    assert rows.min() >= 15 - 1
    assert rows.max() <= 30 + 1
    assert cols.min() >= 30 - 1
    assert cols.max() <= 45 + 1
