"""Saturated pixels found by the iterative TV-min rule (paper 003 §5.2) on synthetic truth."""

from __future__ import annotations

import numpy as np
import pytest

from tasoc_halo import find_saturated
from tasoc_halo.testing import bleed_columns, mag_to_flux, saturated_target

from .conftest import good_cadences


def region_pixels(synth, radius: float = 20.0):
    """Candidate pixels of the halo region, as the method builds them."""
    data = synth.data
    r0, c0 = data.position_in_stamp
    rows, cols = np.indices(data.stamp.shape)
    region = np.hypot(rows - r0, cols - c0) <= radius
    good = good_cadences(data)
    pix = data.images[good][:, region].astype(float)
    keep = pix.mean(axis=0) > 0
    segments = (np.arange(len(data.time)) >= len(data.time) // 2).astype(int)[good]
    # How often each pixel sat at its full well, from the truth.
    at_well = np.zeros(region.sum())
    if synth.ever_saturated.any():
        frac = _saturated_fraction(synth)
        at_well = frac[region]
    return pix[:, keep], at_well[keep], segments


def _saturated_fraction(synth) -> np.ndarray:
    """Fraction of the good cadences on which each stamp pixel is at its full well."""
    data = synth.data
    good = good_cadences(data)
    # Noise-free recomputation is not available; the recorded values are within noise of the
    # well (8 e-/s at 1e5 e-/s), so 'at the well' is ≥ well − 5 σ.
    images = data.images[good]
    return np.mean(images >= synth.full_well[None] - 40.0, axis=0)


@pytest.mark.parametrize("tmag", [3.0, 5.0])
def test_saturated_pixels_are_discarded_and_unsaturated_kept(tmag):
    synth = saturated_target(tmag=tmag, shape=(25, 45), ncadences=600, seed=21)
    pixels, at_well, segments = region_pixels(synth)
    scan = find_saturated(pixels, expected_flux=float(mag_to_flux(tmag)), segments=segments)
    # Every pixel at full well on more than 5 % of the cadences is found…
    assert np.all(scan.saturated[at_well > 0.05])
    # …and nothing that never reached it is discarded.
    assert not np.any(scan.saturated[at_well == 0])
    assert scan.n_saturated == scan.saturated.sum() >= (at_well > 0.05).sum()
    assert scan.full_well == pytest.approx(1e5, rel=0.03)


def test_the_scan_alone_finds_the_jump():
    """Without the plateau shortcut the scatter jumps once the last flat pixel is gone."""
    synth = saturated_target(tmag=3.0, shape=(25, 45), ncadences=600, seed=22)
    pixels, at_well, segments = region_pixels(synth)
    scan = find_saturated(
        pixels, expected_flux=float(mag_to_flux(3.0)), segments=segments, min_plateau=10**9
    )
    assert scan.n_plateau == 0
    assert scan.scan_start == 0
    assert scan.jump > 10.0
    assert np.all(scan.saturated[at_well > 0.05])
    assert not np.any(scan.saturated[at_well == 0])
    # The scatter is flat before the jump and after it: one step, where the rule puts it.
    k = scan.n_saturated - scan.scan_start
    assert scan.scatter[k] > 10 * scan.scatter[k - 1]
    assert np.all(scan.scatter[k:] > 0.5 * scan.scatter[k])


def test_scan_finds_what_an_uneven_plateau_misses():
    """Full wells differing by 5 % rms: the plateau catches a few pixels, the scan the rest."""
    synth = saturated_target(
        tmag=3.0, shape=(25, 45), ncadences=600, full_well_scatter=0.05, seed=23
    )
    pixels, at_well, segments = region_pixels(synth)
    scan = find_saturated(pixels, expected_flux=float(mag_to_flux(3.0)), segments=segments)
    assert scan.n_plateau < 0.5 * (at_well > 0.05).sum()
    assert np.all(scan.saturated[at_well > 0.05])
    assert not np.any(scan.saturated[at_well == 0])


@pytest.mark.parametrize(("tmag", "amplitude"), [(7.0, 0.0), (7.0, 0.01), (10.0, 0.0)])
def test_unsaturated_stars_keep_all_pixels(tmag, amplitude):
    """The jitter-sensitive core of an unsaturated star makes the scatter jump too, but its
    pixels do not share a full-well ceiling, so nothing is discarded."""
    synth = saturated_target(tmag=tmag, shape=(25, 45), ncadences=600, amplitude=amplitude, seed=24)
    assert not synth.ever_saturated.any()
    pixels, _, segments = region_pixels(synth)
    scan = find_saturated(pixels, expected_flux=float(mag_to_flux(tmag)), segments=segments)
    assert scan.n_saturated == 0
    assert np.isnan(scan.full_well)


def test_scan_range_is_bounded_by_what_can_remain():
    synth = saturated_target(tmag=3.0, shape=(25, 45), ncadences=300, seed=25)
    pixels, _, segments = region_pixels(synth)
    scan = find_saturated(
        pixels, expected_flux=float(mag_to_flux(3.0)), segments=segments, min_pixels=850
    )
    assert scan.scan_stop <= pixels.shape[1] - 850


def test_bleed_conserves_charge_and_reports_what_runs_off():
    image = np.ones((3, 12, 4))
    image[:, 6, 1] = [3.5e5, 5e5, 2e6]  # the last one overflows the 12-row column
    image[:, 6, 2] = 5e4  # below the well: untouched
    well = np.full((12, 4), 1e5)
    bled, lost = bleed_columns(image, well)
    assert np.all(bled <= well)
    np.testing.assert_allclose(bled.sum(axis=1) + lost, image.sum(axis=1), rtol=1e-12)
    np.testing.assert_array_equal(lost[:2], 0.0)
    assert lost[2, 1] == pytest.approx(2e6 + 11 - 12 * 1e5)
    np.testing.assert_array_equal(bled[:, :, [0, 2, 3]], image[:, :, [0, 2, 3]])
    # The 2.5e5 e-/s of excess spreads equally up and down the column, filling pixels to
    # the well before moving on.
    column = bled[0, :, 1]
    np.testing.assert_allclose(column[5:8], 1e5)
    assert column[4] == pytest.approx(1.0 + 1.25e5 - (1e5 - 1.0))
    assert column[8] == pytest.approx(column[4])
    np.testing.assert_array_equal(column[[0, 1, 2, 3, 9, 10, 11]], 1.0)
