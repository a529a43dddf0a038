"""Masking other stars in the halo: grid DBSCAN, radial profile, catalog-marked clusters."""

from __future__ import annotations

import numpy as np
import pytest

from tasoc_halo import mask_neighbours
from tasoc_halo._masking import grid_dbscan, moffat_light, radial_profile


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


def _gaussian(rows, cols, centre, flux, sigma_row, sigma_col):
    return (
        flux
        / (2 * np.pi * sigma_row * sigma_col)
        * np.exp(
            -0.5 * (((rows - centre[0]) / sigma_row) ** 2 + ((cols - centre[1]) / sigma_col) ** 2)
        )
    )


def test_faint_stars_on_the_wings_keep_them_and_contaminating_light_is_masked():
    """An elongated PSF (the simulator's, at a CCD corner) leaves a wide excess over the
    radial profile along its long axis: one cluster touching the target. Faint catalog
    stars on it used to seed watershed basins that took most of the wings; with their
    catalog fluxes (``contrast``) only pixels where other stars may hold 5 % are masked,
    and every pixel where they truly hold 5 % or more is."""
    rows, cols = np.indices((41, 41))
    target = (20.0, 20.0)
    image = _gaussian(rows, cols, target, 2e6, 1.2, 3.0) + _gaussian(
        rows, cols, target, 1e5, 4.0, 8.0
    )
    stars_rc = np.array([[20.3, 27.6], [19.6, 12.2], [21.4, 31.1], [22.2, 16.8], [31.0, 9.0]])
    flux = np.array([60.0, 45.0, 80.0, 50.0, 4e4])
    others = sum(
        _gaussian(rows, cols, rc, f, 0.8, 0.8) for rc, f in zip(stars_rc, flux, strict=True)
    )
    image = image + others + np.random.default_rng(4).normal(0.0, 3.0, image.shape)
    core = image > 1e5
    valid = np.hypot(rows - 20, cols - 20) <= 20
    valid &= ~core
    wings = valid & (image > 500.0)
    old = mask_neighbours(image, valid, target, stars_rc, target_pixels=core)
    assert (old.mask & wings).sum() > 0.3 * wings.sum()
    light = moffat_light(stars_rc, flux, image.shape)
    new = mask_neighbours(
        image, valid, target, stars_rc, target_pixels=core, stars_light=light, contrast=0.05
    )
    assert (new.mask & wings).sum() < 0.1 * wings.sum()
    # Stars 0, 1, 3 hold < 0.5 % of their pixels; star 2, far out on the wing, 6 %.
    assert new.masked_stars == (2, 4)
    assert np.all(new.mask[valid & (others >= 0.05 * image)])
    # Without fluxes nothing changes.
    same = mask_neighbours(image, valid, target, stars_rc, target_pixels=core, contrast=0.05)
    np.testing.assert_array_equal(same.mask, old.mask)
