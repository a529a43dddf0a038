"""Masking other stars in the halo: grid DBSCAN, radial profile, catalog-marked clusters."""

from __future__ import annotations

import numpy as np
import pytest

from tasoc_halo import mask_neighbours
from tasoc_halo._masking import grid_dbscan, radial_profile


def test_dbscan_masks_clusters_and_drops_lone_pixels():
    hot = np.zeros((20, 20), dtype=bool)
    hot[2:5, 2:5] = True  # a neighbouring star: one cluster
    hot[10:13, 14:16] = True  # another
    hot[18, 1] = True  # a lone hot pixel: noise
    labels = grid_dbscan(hot, min_samples=4)
    assert len(set(labels[hot]) - {0}) == 2
    assert labels[3, 3] != labels[11, 15]
    assert labels[18, 1] == 0


def test_radial_profile_is_the_median_per_ring_and_fills_gaps():
    rows, cols = np.indices((21, 21))
    distance = np.hypot(rows - 10, cols - 10)
    image = 1000.0 / (1.0 + distance)
    image[10, 15] = 1e6  # one outlier in ring 5 does not move its median
    valid = np.ones_like(image, dtype=bool)
    valid[distance.astype(int) == 3] = False  # an empty ring is interpolated
    profile = radial_profile(image, distance, valid)
    ring5 = distance.astype(int) == 5
    assert profile[ring5][0] == np.median(image[ring5])
    assert profile[ring5][0] == pytest.approx(np.median(image[ring5 & (image < 1e5)]), rel=0.05)
    ring3 = profile[distance.astype(int) == 3][0]
    assert profile[distance.astype(int) == 4][0] < ring3 < profile[distance.astype(int) == 2][0]


def _mask_for(synth):
    data = synth.data
    r0, c0 = data.position_in_stamp
    rows, cols = np.indices(data.stamp.shape)
    region = np.hypot(rows - r0, cols - c0) <= 20
    image = np.median(data.images, axis=0)
    others = data.stars.starid != data.target.starid
    stars_rc = np.column_stack(
        [data.stars.row[others] - data.stamp.row_min, data.stars.col[others] - data.stamp.col_min]
    )
    result = mask_neighbours(
        image, region & ~synth.ever_saturated, (r0, c0), stars_rc,
        target_pixels=synth.ever_saturated,
    )  # fmt: skip
    return result, region


def test_visible_neighbours_are_masked_and_the_halo_is_not(crowded_star):
    result, region = _mask_for(crowded_star)
    footprints = crowded_star.neighbour_footprints
    # Stars 0-2 (Tmag 8–9.5) stand out of the halo: their pixels are masked.
    for i in range(3):
        inside = footprints[i] & region & ~crowded_star.ever_saturated
        assert inside.sum() >= 3
        assert np.all(result.mask[inside])
    assert result.masked_stars == (0, 1, 2)
    # The Tmag 14 star is lost in the halo's noise: nothing is masked for it.
    assert not footprints[3].any()
    # Most of the halo stays usable, including the wings along the bleed columns.
    usable = region & ~crowded_star.ever_saturated
    assert (usable & ~result.mask).sum() > 0.8 * usable.sum()
    bleed_rim = region & ~crowded_star.ever_saturated & np.roll(crowded_star.ever_saturated, 1, 0)
    assert not np.any(result.mask & bleed_rim & ~np.any(footprints[:3], axis=0))


def test_no_other_stars_means_no_mask(bright_star):
    result, _ = _mask_for(bright_star)
    assert not result.mask.any()
    assert result.masked_stars == ()


def test_a_neighbour_without_excess_is_not_masked():
    image = np.full((21, 21), 100.0) + np.random.default_rng(1).normal(0, 1, (21, 21))
    valid = np.ones_like(image, dtype=bool)
    result = mask_neighbours(image, valid, (10.0, 10.0), np.array([[4.0, 4.0]]))
    assert not result.mask.any()
    image[3:6, 3:6] += 50.0
    result = mask_neighbours(image, valid, (10.0, 10.0), np.array([[4.0, 4.0]]), dilation=0)
    assert result.masked_stars == (0,)
    assert result.mask[3:6, 3:6].all()
    assert result.mask.sum() == 9
