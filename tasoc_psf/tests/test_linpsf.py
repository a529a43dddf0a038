"""linpsf on scenes with known truth: fluxes, variability, separation, errors, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from tasoc_core.data import Stars, Target, TargetData
from tasoc_core.exceptions import TargetError
from tasoc_core.plugins import get_plugin_manager
from tasoc_core.status import Status
from tasoc_psf import LinPSFPhotometry
from tasoc_psf.testing import SceneStar, prf_scene, sinusoid_amplitudes

from .conftest import PAIR_PERIODS, copy_source, pull


def linpsf(**settings):
    return LinPSFPhotometry(LinPSFPhotometry.Settings(**settings))


@pytest.fixture(scope="module")
def isolated_result(isolated):
    return linpsf().photometry(isolated.data)


def test_isolated_star_flux_and_variability_are_recovered(isolated, isolated_result):
    r, truth = isolated_result, isolated.flux[:, 0]
    assert r.status is Status.OK
    assert r.tags == frozenset()
    assert np.isfinite(r.flux).all()
    assert np.nanmedian(r.flux) / np.median(truth) == pytest.approx(1.0, abs=2e-3)
    # The 1 % sinusoid, measured against the true one (same fit, same cadences).
    got = sinusoid_amplitudes(isolated.time, r.flux, [1.3])[0]
    want = sinusoid_amplitudes(isolated.time, truth, [1.3])[0]
    assert got / want == pytest.approx(1.0, abs=0.02)
    # Faint neighbours 5-8 px away barely reach the target's pixels.
    assert r.contamination < 0.02
    # The centroid is the catalog position following the jitter.
    np.testing.assert_allclose(r.centroid, isolated.positions[0] + isolated.jitter, atol=1e-9)
    assert r.headers["PSF_NFIT"][0] == 3
    assert r.headers["PSF_PRF"][0] == "tasoc simulate (analytic)"
    assert r.aperture[r.data.stamp.shape[0] // 2, r.data.stamp.shape[1] // 2]


@pytest.mark.parametrize("aperture_correction", [True, False])
@pytest.mark.parametrize("fit_background", [True, False])
def test_errors_match_the_scatter(isolated, aperture_correction, fit_background):
    r = linpsf(aperture_correction=aperture_correction, fit_background=fit_background).photometry(
        isolated.data
    )
    p = pull(r.flux, r.flux_err, isolated.flux[:, 0])
    assert np.std(p) == pytest.approx(1.0, abs=0.2)
    assert abs(np.mean(p)) < 0.3


def test_width_fit_absorbs_focus_changes(focus_scene):
    """A ±1.2 % PRF width change the model does not know biases fixed-shape fits by ~40σ."""
    truth = focus_scene.flux[:, 0]
    fixed = linpsf(fit_width=False).photometry(focus_scene.data)
    fitted = linpsf().photometry(focus_scene.data)
    assert np.std(pull(fixed.flux, fixed.flux_err, truth)) > 5.0
    p = pull(fitted.flux, fitted.flux_err, truth)
    assert np.std(p) == pytest.approx(1.0, abs=0.2)
    # The fitted width follows the injected one (rms of 1.2 % · sin: 0.85 %).
    assert fitted.headers["PSF_WRMS"][0] == pytest.approx(0.012 / np.sqrt(2), rel=0.1)


def test_two_stars_1p5_px_apart_are_separated_where_aperture_blends_them(pair):
    """Cross-talk: the other star's sinusoid in a star's light curve, relative to its own."""
    aperture = get_plugin_manager().lookup("photometry", "aperture").cls()
    true_amp = [sinusoid_amplitudes(pair.time, pair.flux[:, k], PAIR_PERIODS)[k] for k in (0, 1)]
    for own in (0, 1):
        other = 1 - own
        data = pair.data_for(own)
        for method, limit in ((linpsf(), "separates"), (aperture, "blends")):
            r = method.photometry(data)
            amp = sinusoid_amplitudes(pair.time, r.flux, PAIR_PERIODS)
            crosstalk = amp[other] / true_amp[other]
            if limit == "separates":
                assert crosstalk < 0.05, (own, crosstalk)
                assert amp[own] / true_amp[own] == pytest.approx(1.0, abs=0.03)
                assert np.nanmedian(r.flux) / np.median(pair.flux[:, own]) == pytest.approx(
                    1.0, abs=0.01
                )
                assert "crowded" in r.tags
                assert r.status is Status.WARNING
            else:
                assert crosstalk > 0.5, (own, crosstalk)


def test_a_cadence_or_pixel_without_data_is_handled(isolated):
    images = np.array(isolated.source.read(isolated.source.max_stamp).images)
    images[10] = np.nan  # a whole frame lost
    images[:, 12, 12] = np.nan  # the target's brightest pixel, always
    images[20:30, 13, 11:14] = np.nan  # a few pixels for a while
    source = copy_source(isolated.source, images=images)
    r = linpsf().photometry(TargetData(isolated.targets[0], source))
    assert np.isnan(r.flux[10])
    assert np.isnan(r.flux_err[10])
    finite = np.isfinite(r.flux)
    assert finite.sum() == len(r.flux) - 1
    p = pull(r.flux, r.flux_err, isolated.flux[:, 0])
    assert np.std(p) == pytest.approx(1.0, abs=0.2)


def test_a_bleed_column_is_left_out(isolated):
    """A column of pixels at 40 000 e-/s next to the target (a neighbour's bleed column)."""
    images = np.array(isolated.source.read(isolated.source.max_stamp).images)
    images[:, 2:22, 15] += 4e4
    source = copy_source(isolated.source, images=images)
    data = TargetData(isolated.targets[0], source)
    truth = isolated.flux[:, 0]
    kept = linpsf(outlier_sigma=None).photometry(data)
    masked = linpsf().photometry(data)
    assert masked.headers["PSF_NMSK"][0] >= 13  # the column's pixels on the 15x15 stamp
    assert abs(np.nanmedian(kept.flux) / np.median(truth) - 1) > 0.05
    assert np.nanmedian(masked.flux) / np.median(truth) == pytest.approx(1.0, abs=3e-3)
    assert np.std(pull(masked.flux, masked.flux_err, truth)) == pytest.approx(1.0, abs=0.2)


def test_missing_prf_is_a_target_error():
    scene = prf_scene([SceneStar(0, 0, 10.0)], ncadences=20, attach_prf=False)
    with pytest.raises(TargetError, match=r"TIC 200000001 .*: no PRF model for camera 1 CCD 1: "
                                          r"no PRF model was given \(set paths.prf\)"):  # fmt: skip
        linpsf().photometry(scene.data)


def test_saturated_target_is_refused_with_the_saturated_tag():
    scene = prf_scene([SceneStar(0, 0, 6.0)], ncadences=20, noise=False)
    with pytest.raises(TargetError, match=r"TIC 200000001 .*saturated \(Tmag 6 < 6.8\)") as info:
        linpsf().photometry(scene.data)
    assert info.value.tags == {"saturated"}


def test_no_catalog_stars_is_a_target_error(isolated):
    source = copy_source(isolated.source, stars=Stars([], [], [], [], [], []))
    with pytest.raises(
        TargetError, match=r"TIC 200000001 .*: no catalog stars in or within 6.5 px"
    ):
        linpsf().photometry(TargetData(isolated.targets[0], source))


def test_target_missing_from_the_catalog_is_a_target_error(isolated):
    t = isolated.targets[0]
    stranger = Target(999, t.sector, t.camera, t.ccd, t.cadence, "ffi", t.tmag, t.ra, t.dec)
    with pytest.raises(TargetError, match=r"TIC 999 .*: the target is not among the 3 catalog"):
        linpsf().photometry(TargetData(stranger, isolated.source))


def test_all_pixels_missing_is_a_target_error(isolated):
    images = np.full(isolated.source.read(isolated.source.max_stamp).images.shape, np.nan)
    source = copy_source(isolated.source, images=images)
    with pytest.raises(TargetError, match=r"TIC 200000001 .*: linpsf could not fit any cadence"):
        linpsf().photometry(TargetData(isolated.targets[0], source))


def test_target_on_unmodelled_pixels_is_a_target_error(isolated):
    images = np.array(isolated.source.read(isolated.source.max_stamp).images)
    images[:, 2:22, 11:13] += 4e4  # a bleed column two pixels wide through the target
    source = copy_source(isolated.source, images=images)
    with pytest.raises(TargetError, match=r"of the target's light falls on pixels the PRF model"):
        linpsf().photometry(TargetData(isolated.targets[0], source))


def test_settings_are_validated_through_the_configuration():
    from tasoc_core.config import Config
    from tasoc_core.exceptions import ConfigError

    config = Config(methods={"linpsf": {"max_stars": 0}})
    with pytest.raises(ConfigError, match=r"methods.linpsf: max_stars must be at least 1, got 0"):
        config.settings_for("methods", "linpsf", LinPSFPhotometry.Settings)
    config = Config(methods={"linpsf": {"jitter_step": "big"}})
    with pytest.raises(ConfigError, match=r"methods.linpsf"):
        config.settings_for("methods", "linpsf", LinPSFPhotometry.Settings)
    ok = Config(methods={"linpsf": {"max_distance": 4.0, "outlier_sigma": None}})
    settings = ok.settings_for("methods", "linpsf", LinPSFPhotometry.Settings)
    assert settings.max_distance == 4.0
    assert settings.outlier_sigma is None
