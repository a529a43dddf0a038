"""The pieces: the batched solve and its variances, the jitter expansion, the star selection."""

from __future__ import annotations

import numpy as np
import pytest

from tasoc_core.exceptions import TargetError
from tasoc_psf import Design, LinPSFPhotometry, jitter_groups, select_stars, solve_cadences
from tasoc_psf import _design as design_module
from tasoc_psf._common import aperture_2x2, contamination
from tasoc_psf.testing import SceneStar, prf_scene


def _gaussians(shape, centres, sigma=0.8):
    rows, cols = np.indices(shape)
    images = [np.exp(-0.5 * ((rows - r) ** 2 + (cols - c) ** 2) / sigma**2) for r, c in centres]
    return np.stack([im.ravel() / im.sum() for im in images], axis=1)  # (P, n)


def test_solve_cadences_variances_are_exact_monte_carlo():
    """Thousands of noise realisations of one scene: the scatter of the fluxes is the error."""
    rng = np.random.default_rng(5)
    shape = (9, 9)
    design = _gaussians(shape, [(4.2, 4.4), (5.3, 5.5), (2.0, 6.5)])  # two blended stars
    flux = np.array([1000.0, 700.0, 300.0])
    sigma = 0.5 + rng.uniform(0, 2, design.shape[0])  # a different error per pixel
    t = 4000
    data = design @ flux + rng.standard_normal((t, design.shape[0])) * sigma
    data[:, 7] = 123.0  # a pixel without data (weight 0) holds any finite value
    weight = np.broadcast_to(1.0 / sigma**2, data.shape).copy()
    weight[:, 7] = 0.0
    matrices = np.broadcast_to(design, (t, *design.shape))
    aperture = aperture_2x2(np.tile([[4.2, 4.4]], (t, 1)), (0, 0), shape)
    plain = solve_cadences(matrices, data, weight, None)
    corrected = solve_cadences(matrices, data, weight, aperture)
    for solution in (plain, corrected):
        assert np.std(solution.target_flux) == pytest.approx(np.mean(solution.target_err), rel=0.05)
        assert np.mean(solution.target_flux) == pytest.approx(
            flux[0], abs=4 * np.mean(solution.target_err) / np.sqrt(t)
        )
        assert np.median(solution.chi2) == pytest.approx(1.0, abs=0.05)
    # The flux is linear in the data, target_flux = g · d with g = 1_ap + W A M⁻¹ (e_t − a)
    # (without the correction: g = W A M⁻¹ e_t), so its variance is exactly gᵀ W⁻¹ g.
    w = weight[0]
    normal = design.T @ (design * w[:, None])
    unit = np.eye(design.shape[1])[0]
    ap = aperture[0] & (w > 0)
    for solution, aperture_weight, in_ap in (
        (plain, np.zeros(len(w)), np.zeros(design.shape[1])),
        (corrected, ap.astype(float), design[ap].sum(axis=0)),
    ):
        g = aperture_weight + w * (design @ np.linalg.solve(normal, unit - in_ap))
        assert np.all(g[w == 0] == 0.0)
        np.testing.assert_allclose(data @ g, solution.target_flux, rtol=1e-9)
        variance = np.sum(g[w > 0] ** 2 / w[w > 0])
        np.testing.assert_allclose(solution.target_err**2, variance, rtol=1e-9)
    # The correction goes to the target only: the other stars' fluxes are untouched.
    np.testing.assert_array_equal(plain.flux, corrected.flux)
    np.testing.assert_allclose(
        corrected.target_flux - corrected.flux[:, 0], corrected.residual[:, ap].sum(axis=1)
    )
    assert np.mean(plain.flux[:, 1]) == pytest.approx(flux[1], rel=0.01)


def test_a_star_without_data_is_left_out_of_its_cadence():
    design = np.zeros((81, 2))
    design[:, 0] = _gaussians((9, 9), [(3.0, 3.0)])[:, 0]
    design[[70, 71, 79, 80], 1] = 0.25  # a second star on four corner pixels only
    data = design @ np.array([500.0, 200.0])
    weight = np.ones((2, 81))
    weight[1, [70, 71, 79, 80]] = 0.0  # ... which have no data on cadence 1
    sol = solve_cadences(np.stack([design, design]), np.stack([data, data]), weight, None)
    np.testing.assert_allclose(sol.flux[0], [500.0, 200.0])
    assert np.isnan(sol.flux[1, 1])
    assert sol.flux[1, 0] == pytest.approx(500.0)
    assert np.isfinite(sol.target_err).all()


def test_jitter_groups():
    offsets = np.array([[0.0, 0.0], [0.01, -0.02], [0.2, 0.1], [np.nan, np.nan], [0.21, 0.12]])
    groups = jitter_groups(offsets, 0.05)
    np.testing.assert_allclose(groups.reference, [0.105, 0.05])  # median of the known
    np.testing.assert_allclose(groups.offsets[3], groups.reference)  # unknown → reference
    assert np.all(np.abs(groups.delta) <= 0.025 + 1e-12)
    assert groups.group[2] == groups.group[4]
    assert len(groups.centres) == 3


def test_taylor_design_matches_exact_rendering(monkeypatch):
    """Design matrices within 3e-5 of the peak of exact renders for jitter up to 0.3 px."""
    rng = np.random.default_rng(7)
    scene = prf_scene(
        [SceneStar(0, 0, 10.0), SceneStar(1.3, -2.1, 11.0), SceneStar(-4.2, 3.3, 12.0)],
        ncadences=60, noise=False, seed=7,
    )  # fmt: skip
    data = scene.data
    settings = LinPSFPhotometry.Settings()
    jitter = rng.uniform(-0.3, 0.3, (60, 2))
    groups = jitter_groups(jitter, settings.jitter_step)
    selection = select_stars(data, settings, groups.reference)
    stamp = data.stamp
    origin = (stamp.row_min, stamp.col_min)
    design = Design(selection, groups, origin, stamp.shape)
    approx = design.matrices(slice(0, 60))
    n = selection.n_fit
    peak = selection.unit[0].max()
    worst = 0.0
    for t in range(60):
        exact = selection.prfs.render(
            selection.stars.row + jitter[t, 0], selection.stars.col + jitter[t, 1], origin,
            stamp.shape,
        )[0].reshape(len(selection.stars), -1)  # fmt: skip
        worst = max(worst, np.abs(approx[t, :, :n] - exact[:n].T).max())
    assert worst < 3e-5 * peak
    assert design.n_groups > 30
    # With room for only 4 rendered groups the matrices are the same (rendered again).
    monkeypatch.setattr(design_module, "_CACHE_BYTES", 1)
    small = Design(selection, groups, origin, stamp.shape)
    np.testing.assert_array_equal(small.matrices(slice(0, 60)), approx)
    np.testing.assert_array_equal(
        small.width_column(slice(0, 60), selection.catalog_flux[:n]),
        design.width_column(slice(0, 60), selection.catalog_flux[:n]),
    )
    assert len(small._cache) == 4


def test_star_selection_rules():
    stars = [
        SceneStar(0.0, 0.0, 10.0),  # target
        SceneStar(0.2, 0.2, 11.0),  # too close to the target to be told apart: fixed
        SceneStar(3.0, 0.0, 9.0),  # bright neighbour: fitted
        SceneStar(-2.0, 2.0, 14.9),  # within 5 mag: fitted
        SceneStar(2.0, -3.0, 15.5),  # more than 5 mag fainter: fixed
        SceneStar(0.0, 8.0, 8.0),  # centre 0.1 px off the stamp, 46 % inside: fitted
        SceneStar(0.0, 9.5, 8.0),  # 1.6 px off the stamp, 8 % inside: fixed
        SceneStar(0.0, 12.5, 7.0),  # 4.6 px off the stamp, bright: leaks in, fixed
        SceneStar(12.0, 12.0, 12.0),  # far off the stamp: not modelled
    ]
    scene = prf_scene(stars, shape=(41, 41), ncadences=5, noise=False)
    data = scene.data
    assert data.stamp.shape == (15, 15)

    def index(selection, which=slice(None)):
        return sorted(int(s) - 200_000_001 for s in selection.stars.starid[which])

    sel = select_stars(data, LinPSFPhotometry.Settings(), np.zeros(2))
    assert int(sel.stars.starid[0]) == 200_000_001  # the target first
    assert sel.n_fit == 4
    assert index(sel, slice(None, 4)) == [0, 2, 3, 5]
    assert index(sel, slice(4, None)) == [1, 4, 6, 7]
    assert len(sel.unit) == 8
    assert sel.inside[0] > 0.95
    # Tighter settings.
    assert select_stars(data, LinPSFPhotometry.Settings(max_stars=1), np.zeros(2)).n_fit == 1
    two = select_stars(data, LinPSFPhotometry.Settings(max_stars=2), np.zeros(2))
    assert index(two, slice(None, 2)) == [0, 5]  # the most light on the stamp goes first
    near = select_stars(data, LinPSFPhotometry.Settings(max_distance=3.5), np.zeros(2))
    assert index(near, slice(None, near.n_fit)) == [0, 2, 3]
    # A 2-px buffer no longer sees the star 4.6 px off the stamp.
    narrow = select_stars(data, LinPSFPhotometry.Settings(star_buffer=2.0), np.zeros(2))
    assert 7 not in index(narrow)


def test_contamination_is_the_prf_weighted_light_of_others():
    scene = prf_scene([SceneStar(0, 0, 10.0), SceneStar(0, 1.0, 10.0)], ncadences=3, noise=False)
    sel = select_stars(scene.data, LinPSFPhotometry.Settings(), np.zeros(2))
    equal = contamination(sel, sel.catalog_flux[: sel.n_fit])
    assert 0.3 < equal < 0.5  # an equal star one pixel away: a bit under half
    fainter = contamination(sel, sel.catalog_flux[: sel.n_fit] * np.array([1.0, 0.01]))
    assert fainter < 0.01
    assert contamination(sel, np.array([-5.0, 100.0])) is None


def test_selection_errors_name_the_target():
    scene = prf_scene([SceneStar(0, 0, 5.0)], ncadences=3, noise=False)
    with pytest.raises(TargetError, match=r"TIC 200000001 .*saturated") as info:
        select_stars(scene.data, LinPSFPhotometry.Settings(), np.zeros(2))
    assert "saturated" in info.value.tags
    ok = select_stars(scene.data, LinPSFPhotometry.Settings(saturation_tmag=3.0), np.zeros(2))
    assert ok.n_fit == 1
