"""Boundary relations and the zero-point fit of the magnitude–flux relation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tasoc_core.validation import (
    contamination_upper_bound,
    ffi_mask_size_max,
    ffi_mask_size_min,
    fit_zero_point,
    flux_lower_bound,
    mask_size_bounds,
    tpf_mask_size_min,
)

TMAG = np.linspace(-2.0, 22.0, 2401)


def test_values_at_the_nodes():
    assert flux_lower_bound(9.0) == pytest.approx(12500)
    assert flux_lower_bound(13.0) == pytest.approx(59)
    assert ffi_mask_size_min(10.0) == 15
    assert ffi_mask_size_min(10.5) == 11  # 11.15 floored
    assert ffi_mask_size_max(10.0) == 130
    assert ffi_mask_size_max(14.0) == 59
    assert tpf_mask_size_min(2.7) == 130
    assert contamination_upper_bound(9.0) == pytest.approx(0.45)


def test_interpolation_is_log_linear_except_for_contamination():
    # Halfway between 9 (12500) and 12.6 (250) in Tmag: the geometric mean.
    assert flux_lower_bound(10.8) == pytest.approx(math.sqrt(12500 * 250))
    assert contamination_upper_bound(9.5) == pytest.approx((0.45 + 0.6) / 2)


def test_constant_beyond_the_end_nodes():
    assert flux_lower_bound(-1.0) == pytest.approx(8e7)
    assert flux_lower_bound(25.0) == 1.0
    assert ffi_mask_size_min(20.0) == 4
    assert ffi_mask_size_max(25.0) == 50
    assert tpf_mask_size_min(22.0) == 4
    assert contamination_upper_bound(-3.0) == pytest.approx(0.1)
    assert contamination_upper_bound(30.0) == pytest.approx(0.9)


def test_bounds_are_monotonic_and_integral():
    for relation in (flux_lower_bound, ffi_mask_size_min, ffi_mask_size_max, tpf_mask_size_min):
        values = relation(TMAG)
        assert np.all(np.diff(values) <= 0), relation.__name__
    assert np.all(np.diff(contamination_upper_bound(TMAG)) >= 0)
    for relation in (ffi_mask_size_min, ffi_mask_size_max, tpf_mask_size_min):
        values = relation(TMAG)
        np.testing.assert_array_equal(values, np.round(values))
    assert np.all(ffi_mask_size_min(TMAG) >= 4)
    assert np.all(ffi_mask_size_min(TMAG) < ffi_mask_size_max(TMAG))


def test_mask_size_bounds_choose_by_data_source():
    low, high = mask_size_bounds([10.0, 10.0], [True, False])
    assert low.tolist() == [15, 10]
    assert high[0] == 130
    assert math.isinf(high[1])


def _population(rng, n, zp, *, contaminated=0.25, outliers=0.02):
    tmag = rng.uniform(6.0, 15.0, n)
    contamination = np.clip(rng.normal(0.05, 0.03, n), 0.0, None)
    dirty = rng.random(n) < contaminated
    contamination[dirty] = rng.uniform(0.2, 0.8, dirty.sum())
    # Clean stars follow the relation (zp absorbs their few per cent of contamination and
    # the flux lost outside the aperture); blended stars get their neighbours' flux on top.
    flux = 10 ** (-0.4 * (tmag - zp)) * rng.lognormal(0.0, 0.05, n)
    flux[dirty] /= 1.0 - contamination[dirty]
    bad = rng.random(n) < outliers
    flux[bad] *= rng.uniform(0.05, 0.5, bad.sum())  # failed apertures
    return tmag, flux, contamination


@pytest.mark.parametrize(("zp", "seed"), [(20.451, 1), (20.401, 2), (20.506, 3)])
def test_zero_point_is_recovered_from_a_synthetic_population(zp, seed):
    rng = np.random.default_rng(seed)
    tmag, flux, contamination = _population(rng, 3000, zp)
    fit = fit_zero_point(tmag, flux, contamination)
    assert fit.zero_point == pytest.approx(zp, abs=0.01)
    assert fit.error < 0.01
    assert fit.n_stars == np.count_nonzero(contamination < 0.15)
    assert fit.n_bins == 18  # 6-15 mag in 0.5-mag bins
    # The bins used: their centres, the median zero point of their clean stars, whose
    # mean is the fit; every bin sits on the relation.
    np.testing.assert_allclose(fit.bin_tmag, np.arange(6.25, 15.0, 0.5))
    clean = contamination < 0.15
    for centre, point in zip(fit.bin_tmag, fit.bin_zero_points):
        sel = clean & (np.abs(tmag - centre) < 0.25)
        assert point == pytest.approx(np.median(tmag[sel] + 2.5 * np.log10(flux[sel])))
        assert point == pytest.approx(zp, abs=0.03)
    assert np.mean(fit.bin_zero_points) == pytest.approx(fit.zero_point)
    # Without the contamination cut the blended stars pull the zero point up.
    everything = fit_zero_point(tmag, flux, np.zeros_like(flux))
    assert everything.zero_point - zp > 0.02


def test_zero_point_ignores_invalid_values_and_reports_nothing_to_fit():
    rng = np.random.default_rng(4)
    tmag, flux, contamination = _population(rng, 600, 20.45, contaminated=0.0, outliers=0.0)
    flux[:50] = -3.0
    flux[50:60] = np.nan
    contamination[60:70] = np.nan
    fit = fit_zero_point(tmag, flux, contamination)
    assert fit.zero_point == pytest.approx(20.45, abs=0.01)
    assert fit.n_stars == np.count_nonzero(contamination[70:] < 0.15)
    empty = fit_zero_point(tmag, flux, np.full_like(flux, 0.5))
    assert math.isnan(empty.zero_point)
    assert (empty.n_stars, empty.n_bins) == (0, 0)
    assert empty.bin_tmag == empty.bin_zero_points == ()
    sparse = fit_zero_point(tmag[70:72], flux[70:72], contamination[70:72])
    assert math.isnan(sparse.zero_point)
    assert sparse.n_stars == 2
