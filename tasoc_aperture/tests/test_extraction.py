"""Exact tests of the vectorised aperture sums."""

from __future__ import annotations

import numpy as np
import pytest

from tasoc_aperture import extract_light_curve


def cubes(t: int = 6) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(2)
    images = rng.uniform(-1.0, 10.0, (t, 4, 5)).astype(np.float32)
    err = rng.uniform(0.5, 2.0, (t, 4, 5)).astype(np.float32)
    bkg = rng.uniform(1.0, 3.0, (t, 4, 5)).astype(np.float32)
    return images, err, bkg


def test_sums_errors_background_and_centroid_against_a_loop():
    images, err, bkg = cubes()
    aperture = np.zeros((4, 5), dtype=bool)
    aperture[1:3, 1:4] = True
    aperture[0, 0] = True
    lc = extract_light_curve(images, err, bkg, aperture, origin=(100, 200))
    for t in range(images.shape[0]):
        pix = images[t][aperture].astype(float)
        assert lc.flux[t] == pytest.approx(pix.sum(), rel=1e-6)
        assert lc.flux_err[t] == pytest.approx(np.sqrt(np.sum(err[t][aperture] ** 2.0)), rel=1e-6)
        assert lc.background[t] == pytest.approx(bkg[t][aperture].sum(), rel=1e-6)
        rows, cols = np.nonzero(aperture)
        w = np.clip(pix, 0, None)
        assert lc.centroid[t, 0] == pytest.approx(100 + np.sum(w * rows) / w.sum(), rel=1e-9)
        assert lc.centroid[t, 1] == pytest.approx(200 + np.sum(w * cols) / w.sum(), rel=1e-9)


def test_missing_pixels_make_the_cadence_missing():
    images, err, bkg = cubes()
    aperture = np.zeros((4, 5), dtype=bool)
    aperture[1:3, 1:3] = True
    images[1, 1, 1] = np.nan  # one aperture pixel lost
    images[2] = np.nan  # whole frame lost
    images[3, 1:3, 1:3] = 0.0  # aperture written as zeros
    err[4, 2, 2] = np.nan  # no uncertainty for one pixel
    images[5, 0, 0] = np.nan  # outside the aperture: harmless
    lc = extract_light_curve(images, err, bkg, aperture)
    assert np.isfinite(lc.flux).tolist() == [True, False, False, False, False, True]
    for column in (lc.flux_err, lc.background):
        assert np.isfinite(column).tolist() == [True, False, False, False, False, True]
    assert np.isfinite(lc.centroid).all(axis=1).tolist() == [True, False, False, False, False, True]


def test_centroid_undefined_without_positive_flux():
    images, err, bkg = cubes(2)
    aperture = np.zeros((4, 5), dtype=bool)
    aperture[0, :2] = True
    images[0, 0, :2] = [-1.0, -2.0]
    lc = extract_light_curve(images, err, bkg, aperture)
    assert lc.flux[0] == pytest.approx(-3.0)
    assert np.isnan(lc.centroid[0]).all()
    assert np.isfinite(lc.centroid[1]).all()


def test_bad_apertures_are_rejected():
    images, err, bkg = cubes()
    with pytest.raises(ValueError, match="no pixel"):
        extract_light_curve(images, err, bkg, np.zeros((4, 5), dtype=bool))
    with pytest.raises(ValueError, match=r"shape \(3, 5\)"):
        extract_light_curve(images, err, bkg, np.ones((3, 5), dtype=bool))
