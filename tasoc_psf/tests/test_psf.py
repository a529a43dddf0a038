"""psf (nonlinear) on scenes with known truth: positions, fluxes, separation, errors."""

from __future__ import annotations

import numpy as np
import pytest

from tasoc_core.data import TargetData
from tasoc_core.exceptions import TargetError
from tasoc_core.status import Status
from tasoc_psf import LinPSFPhotometry, PSFPhotometry
from tasoc_psf.testing import SceneStar, prf_scene, sinusoid_amplitudes

from .conftest import PAIR_PERIODS, copy_source, pull


def psf(**settings):
    return PSFPhotometry(PSFPhotometry.Settings(**settings))


@pytest.fixture(scope="module")
def misplaced():
    """A Tmag 9.5 star whose catalog position is 0.3 px off, a neighbour, focus changes."""
    stars = [SceneStar(0.0, 0.0, 9.5, amplitude=0.01, period=1.3), SceneStar(2.5, -2.0, 11.0)]
    return prf_scene(
        stars, ncadences=150, jitter_rms=0.04, focus_amplitude=0.01,
        catalog_offset=[(0.2, -0.22), (0.0, 0.0)], seed=21,
    )  # fmt: skip


def test_psf_finds_the_true_position_and_flux(misplaced):
    r = psf().photometry(misplaced.data)
    truth = misplaced.flux[:, 0]
    assert r.status is Status.OK
    assert r.headers["PSF_NPOS"][0] == 2
    assert r.headers["PSF_NCON"][0] == 0
    # The fitted centroid follows the true position (catalog error removed) with the jitter.
    error = r.centroid - (misplaced.positions[0] + misplaced.jitter)
    assert np.abs(np.median(error, axis=0)).max() < 0.01
    assert np.std(error, axis=0).max() < 0.01
    assert np.nanmedian(r.flux) / np.median(truth) == pytest.approx(1.0, abs=2e-3)
    assert np.std(pull(r.flux, r.flux_err, truth)) == pytest.approx(1.0, abs=0.2)
    got = sinusoid_amplitudes(misplaced.time, r.flux, [1.3])[0]
    want = sinusoid_amplitudes(misplaced.time, truth, [1.3])[0]
    assert got / want == pytest.approx(1.0, abs=0.02)


def test_linpsf_at_the_wrong_catalog_position_is_biased_where_psf_is_not(misplaced):
    truth = np.median(misplaced.flux[:, 0])
    lin = LinPSFPhotometry().photometry(misplaced.data)
    fitted = psf().photometry(misplaced.data)
    lin_bias = abs(np.nanmedian(lin.flux) / truth - 1)
    psf_bias = abs(np.nanmedian(fitted.flux) / truth - 1)
    assert lin_bias > 5 * psf_bias


def test_psf_separates_two_stars_1p5_px_apart(pair):
    true_amp = [sinusoid_amplitudes(pair.time, pair.flux[:, k], PAIR_PERIODS)[k] for k in (0, 1)]
    r = psf().photometry(pair.data_for(0))
    amp = sinusoid_amplitudes(pair.time, r.flux, PAIR_PERIODS)
    assert amp[1] / true_amp[1] < 0.05
    assert amp[0] / true_amp[0] == pytest.approx(1.0, abs=0.03)
    assert np.std(pull(r.flux, r.flux_err, pair.flux[:, 0])) == pytest.approx(1.0, abs=0.2)


def test_faint_stars_keep_their_catalog_position():
    stars = [SceneStar(0.0, 0.0, 16.0), SceneStar(3.0, 2.0, 11.0)]
    # 20-s cadences: the Tmag 16 target is measured to ~10 %, the neighbour to ~1 %.
    scene = prf_scene(stars, ncadences=40, cadence=20, datasource="tpf", jitter_rms=0.03, seed=22)
    r = psf().photometry(scene.data)
    assert r.headers["PSF_NFIT"][0] == 2
    assert r.headers["PSF_NPOS"][0] == 1  # only the bright neighbour is placed
    np.testing.assert_allclose(r.centroid, scene.positions[0] + scene.jitter, atol=1e-9)
    always = psf(min_position_snr=0.0).photometry(scene.data)
    assert always.headers["PSF_NPOS"][0] == 2


def test_positions_stay_within_max_shift():
    # The catalog is 0.4 px off; positions may move at most 0.15 px: they end on the bound.
    scene = prf_scene(
        [SceneStar(0.0, 0.0, 9.0)], ncadences=10, catalog_offset=[(0.4, 0.0)], seed=23
    )
    r = psf(max_shift=0.15).photometry(scene.data)
    offset = r.centroid[:, 0] - (scene.positions[0, 0] + 0.4)
    np.testing.assert_allclose(offset, -0.15, atol=1e-6)


def test_a_lost_frame_is_nan_and_the_next_one_restarts():
    scene = prf_scene([SceneStar(0.0, 0.0, 10.0)], ncadences=30, seed=24)
    full = scene.source.read(scene.source.max_stamp)
    images = np.array(full.images)
    images[5] = np.nan
    r = psf().photometry(TargetData(scene.targets[0], copy_source(scene.source, images=images)))
    assert np.isnan(r.flux[5])
    assert np.isfinite(np.delete(r.flux, 5)).all()
    assert np.nanmedian(r.flux) / np.median(scene.flux[:, 0]) == pytest.approx(1.0, abs=3e-3)


def test_missing_prf_is_a_target_error():
    scene = prf_scene([SceneStar(0, 0, 10.0)], ncadences=10, attach_prf=False)
    with pytest.raises(TargetError, match=r"TIC 200000001 .*: no PRF model for camera 1 CCD 1"):
        psf().photometry(scene.data)
