"""Light-curve diagnostics against analytic cases."""

from __future__ import annotations

import math

import attrs
import numpy as np
import pytest

from tasoc_core.exceptions import TargetError
from tasoc_core.families import PhotometryResult
from tasoc_core.flags import TESS_QUALITY
from tasoc_core.photometry import (
    DIAGNOSTIC_COLUMNS,
    compute_diagnostics,
    ptp_mdv,
    rms_timescale,
    variability,
)

# Median of |x| for x ~ N(0, 2σ²), in units of σ: the expected PTP-MDV of white noise.
PTP_WHITE = math.sqrt(2.0) * 0.6744897501960817


def _result(data, flux, flux_err=None, **fields) -> PhotometryResult:
    if flux_err is None:
        flux_err = np.full(len(flux), 1.0)
    return PhotometryResult(data=data, flux=flux, flux_err=flux_err, **fields)


@pytest.mark.parametrize("cadence", [1800, 600, 120])
def test_rms_hour_of_white_noise_is_sigma_over_sqrt_points_per_hour(cadence):
    rng = np.random.default_rng(cadence)
    per_hour = 3600 // cadence
    nbins = 10_000
    time = 1000.0 + np.arange(nbins * per_hour) * cadence / 86400.0
    sigma = 1e-3
    rms = rms_timescale(time, rng.normal(0.0, sigma, time.size), 3600.0)
    expected = sigma / math.sqrt(per_hour)
    # 1.4826 MAD of 10 000 bin means has a relative standard error of ~1.2 %.
    assert rms == pytest.approx(expected, rel=0.04)


def test_rms_hour_ignores_nan_and_needs_two_bins():
    time = np.arange(10) * 1800 / 86400.0
    assert math.isnan(rms_timescale(time[:2], np.array([1.0, 2.0])))  # one bin only
    # Two cadences per bin, the second NaN: the bin means are 1, 2, 3, 4, 5 (MAD 1).
    flux = np.where(np.arange(10) % 2 == 0, np.arange(10) / 2 + 1.0, np.nan)
    assert rms_timescale(time, flux) == pytest.approx(1.4826 * 1.0, rel=1e-3)


def test_ptp_of_white_noise_and_a_linear_trend_does_not_inflate_it():
    rng = np.random.default_rng(5)
    n, sigma = 20_000, 1e-3
    noise = rng.normal(0.0, sigma, n)
    trend = np.linspace(-0.025, 0.025, n)  # 5 % drift: 200× the white-noise variance
    flat = ptp_mdv(noise)
    assert flat == pytest.approx(PTP_WHITE * sigma, rel=0.03)
    assert ptp_mdv(noise + trend) == pytest.approx(flat, rel=0.01)
    assert np.var(noise + trend) > 100 * np.var(noise)


def test_ptp_ignores_pairs_with_nan():
    assert ptp_mdv(np.array([0.0, 1.0, np.nan, 5.0, 5.5])) == pytest.approx(0.75)
    assert math.isnan(ptp_mdv(np.array([1.0, np.nan])))


def test_variability_of_a_pure_cubic_with_right_errors_is_one():
    rng = np.random.default_rng(2)
    time = 1325.0 + np.arange(1300) / 48.0
    x = (time - time.mean()) / 10.0
    sigma = 2e-4
    rel = 0.01 * (x**3 - 0.5 * x**2 + 0.3 * x) + rng.normal(0.0, sigma, time.size)
    value = variability(time, rel, np.full(time.size, sigma))
    assert value == pytest.approx(1.0, abs=0.05)
    # The same errors with a 1 % two-day sinusoid added: clearly variable.
    sine = rel + 0.01 * np.sin(2 * np.pi * time / 2.0)
    assert variability(time, sine, np.full(time.size, sigma)) > 10


def test_variability_is_nan_when_undetermined():
    assert math.isnan(variability(np.arange(4.0), np.zeros(4), np.ones(4)))
    assert math.isnan(variability(np.full(10, 3.0), np.zeros(10), np.ones(10)))  # no time span


def test_diagnostics_of_a_measured_star(make_data, photometry):
    data = make_data(ncadences=480)
    result = photometry(data)
    diag = compute_diagnostics(result)
    flux = result.flux
    rel = flux / np.median(flux) - 1.0
    assert diag.mean_flux == pytest.approx(np.median(flux))
    assert diag.variance == pytest.approx(np.var(rel, ddof=1))
    assert diag.ptp == pytest.approx(ptp_mdv(rel))
    assert diag.rms_hour == pytest.approx(rms_timescale(data.time, rel))
    # Pixel noise 2 e-/s per pixel on 21 pixels: σ = 2·√21 e-/s; 2 cadences per hour.
    sigma = 2.0 * math.sqrt(np.count_nonzero(result.aperture)) / diag.mean_flux
    assert diag.rms_hour == pytest.approx(sigma / math.sqrt(2), rel=0.15)
    assert diag.variability == pytest.approx(1.0, abs=0.15)
    assert diag.mask_size == np.count_nonzero(result.aperture)
    assert diag.pos_row == pytest.approx(812.3, abs=0.05)
    assert diag.pos_column == pytest.approx(1033.6, abs=0.05)
    assert diag.edge_flux == 0.0
    assert (diag.stamp_height, diag.stamp_width, diag.stamp_resizes) == (15, 15, 0)
    assert diag.contamination == 0.02
    assert diag.num_good == 480
    assert diag.errors is None
    assert diag.minimal_mask is False
    row = diag.as_row()
    assert list(row)[: len(DIAGNOSTIC_COLUMNS)] == list(DIAGNOSTIC_COLUMNS)
    assert row["ap_radius"] == 2.5


def test_flagged_cadences_are_left_out(make_data):
    n = 100
    quality = np.zeros(n, dtype=np.int32)
    quality[10:20] = TESS_QUALITY["Desat"]  # in the default bitmask
    quality[30:40] = TESS_QUALITY["Straylight"]  # not in the default bitmask
    data = make_data(ncadences=n, quality=quality)
    flux = np.full(n, 100.0)
    flux[10:20] = 1e6
    flux[30:40] = 101.0
    diag = compute_diagnostics(_result(data, flux))
    assert diag.num_good == 90
    assert diag.mean_flux == 100.0
    assert diag.variance == pytest.approx(np.var(np.r_[np.zeros(80), np.full(10, 0.01)], ddof=1))


def test_all_nan_light_curve_is_a_target_error(make_data):
    data = make_data(ncadences=20)
    with pytest.raises(TargetError, match=r"TIC 123456789 .*light curve is all NaN"):
        compute_diagnostics(_result(data, np.full(20, np.nan)))
    with pytest.raises(TargetError, match="uncertainties are all NaN"):
        compute_diagnostics(_result(data, np.ones(20), np.full(20, np.nan)))
    quality = np.full(20, TESS_QUALITY["ManualExclude"], dtype=np.int32)
    quality[:5] = 0
    flagged = make_data(ncadences=20, quality=quality)
    flux = np.where(np.arange(20) < 5, np.nan, 1.0)
    with pytest.raises(TargetError, match="no cadence with a finite flux passes"):
        compute_diagnostics(_result(flagged, flux))


def test_zero_mean_flux_gives_nan_relative_diagnostics(make_data):
    data = make_data(ncadences=20)
    diag = compute_diagnostics(_result(data, np.zeros(20)))
    assert diag.mean_flux == 0.0
    assert all(math.isnan(v) for v in (diag.variance, diag.rms_hour, diag.ptp, diag.variability))


def test_edge_flux_sums_the_sum_image_on_aperture_border_pixels(make_data):
    data = make_data(ncadences=20)
    aperture = np.zeros(data.stamp.shape, dtype=bool)
    aperture[0, 3:6] = True  # on the bottom border
    aperture[4:7, -1] = True  # on the right border
    aperture[7, 7] = True  # inside
    diag = compute_diagnostics(_result(data, np.ones(20), aperture=aperture))
    expected = data.sumimage[0, 3:6].sum() + data.sumimage[4:7, -1].sum()
    assert diag.edge_flux == pytest.approx(expected)
    assert diag.mask_size == 7


def test_no_aperture_no_centroid(make_data):
    data = make_data(ncadences=20)
    diag = compute_diagnostics(_result(data, np.ones(20)))
    assert diag.mask_size is None
    assert math.isnan(diag.edge_flux)
    assert math.isnan(diag.contamination)
    assert (diag.pos_row, diag.pos_column) == pytest.approx(data.position)


def test_resized_stamp_warnings_tags_and_extra(make_data):
    data = make_data(ncadences=20).resized(up=2, right=4)
    result = _result(
        data,
        np.ones(20),
        warnings=("first", "second"),
        tags={"minimal-aperture"},
        diagnostics={"n_iter": np.int64(3)},
    )
    diag = compute_diagnostics(result)
    assert (diag.stamp_height, diag.stamp_width, diag.stamp_resizes) == (17, 19, 1)
    assert diag.errors == "first\nsecond"
    assert diag.minimal_mask is True
    assert diag.extra == {"n_iter": 3.0}


def test_bad_method_diagnostics_are_target_errors(make_data):
    data = make_data(ncadences=20)
    clash = _result(data, np.ones(20), diagnostics={"mean_flux": 1.0})
    with pytest.raises(TargetError, match="'mean_flux' has the name of a standard diagnostic"):
        compute_diagnostics(clash)
    text = attrs.evolve(clash, diagnostics={"note": "hello"})
    with pytest.raises(TargetError, match="'note' is not a number: 'hello'"):
        compute_diagnostics(text)
