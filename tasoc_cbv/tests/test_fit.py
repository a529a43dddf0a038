"""fit_cbvs: least squares in pairs, sigma clipping, BIC, prior."""

from __future__ import annotations

import numpy as np
import pytest

from tasoc_cbv import CoefficientPrior, FitError, fit_cbvs


def basis(n: int = 1300, k: int = 8, seed: int = 0):
    """Smooth orthonormal-ish vectors and sparse spike vectors."""
    rng = np.random.default_rng(seed)
    t = np.linspace(0, 27, n)
    single = np.column_stack(
        [np.sin(2 * np.pi * t / rng.uniform(3, 40) + rng.uniform(0, 6)) for _ in range(k)]
    )
    # Orthonormal and orthogonal to the offset, like PCA vectors of mean-normalised data.
    q, _ = np.linalg.qr(np.column_stack([np.ones(n), single]))
    single = q[:, 1:]
    spike = np.zeros((n, k))
    for j in range(k):
        spike[rng.choice(n, 9, replace=False), j] = rng.normal(0, 0.2, 9)
    return single, spike


def test_recovers_coefficients_and_clips_outliers():
    rng = np.random.default_rng(1)
    single, spike = basis()
    a = np.array([0.05, -0.02, 0.01, 0.0, 0.004, 0.0, 0.0, 0.0])
    s = np.array([0.02, 0.0, -0.01, 0.0, 0.0, 0.0, 0.0, 0.0])
    sigma = 1e-4
    y = 3e-4 + single @ a + spike @ s + rng.normal(0, sigma, len(single))
    flare = np.arange(400, 412)
    y[flare] += 0.01
    fit = fit_cbvs(y, np.full(len(y), sigma), single, spike, use_bic=False)
    k = single.shape[1]
    np.testing.assert_allclose(fit.coefficients[1 : 1 + k], a, atol=5 * sigma)
    np.testing.assert_allclose(fit.coefficients[1 + k :], s, atol=10 * sigma)
    assert abs(fit.coefficients[0] - 3e-4) < 3 * sigma
    assert fit.clipped[flare].all()
    assert fit.clipped.sum() < 40
    assert fit.converged
    assert fit.ncbv == k
    np.testing.assert_allclose(fit.model, 3e-4 + single @ a + spike @ s, atol=5 * sigma)


def test_bic_chooses_the_number_of_injected_pairs():
    rng = np.random.default_rng(2)
    single, spike = basis(k=8)
    a = np.array([0.03, 0.02, -0.015, 0, 0, 0, 0, 0])
    y = single @ a + spike @ (a / 2) + rng.normal(0, 1e-4, len(single))
    fit = fit_cbvs(y, np.full(len(y), 1e-4), single, spike)
    assert fit.ncbv == 3
    assert np.argmin(fit.bic) == 2
    assert np.all(fit.coefficients[4:9] == 0)  # pairs beyond N are not used


def test_nested_chi2_matches_separate_least_squares_fits():
    # The BIC reads every model's χ² off one Cholesky factor; check against direct fits.
    rng = np.random.default_rng(3)
    single, spike = basis(k=5)
    y = single @ rng.normal(0, 0.01, 5) + rng.normal(0, 1e-3, len(single))
    fit = fit_cbvs(y, None, single, spike, clip_sigma=100.0)
    n = len(y)
    for npairs in range(1, 6):
        X = np.column_stack(
            [np.ones(n)] + [c for j in range(npairs) for c in (single[:, j], spike[:, j])]
        )
        coef = np.linalg.lstsq(X, y, rcond=None)[0]
        chi2 = np.sum((y - X @ coef) ** 2)
        expected = X.shape[1] * np.log(n) + chi2 / fit.noise_scale
        assert fit.bic[npairs - 1] == pytest.approx(expected, rel=1e-6)


def test_reaching_the_iteration_limit_is_reported():
    rng = np.random.default_rng(4)
    single, spike = basis(k=2)
    y = single @ [0.02, 0.01] + rng.standard_t(1.5, len(single)) * 1e-3
    fit = fit_cbvs(y, None, single, spike, max_iterations=1, use_bic=False)
    assert not fit.converged
    assert fit.iterations == 1


def test_too_few_points_is_an_error():
    single, spike = basis(k=3)
    y = np.full(len(single), np.nan)
    y[:12] = 0.0
    with pytest.raises(FitError, match="only 12 usable cadences"):
        fit_cbvs(y, None, single, spike)


def test_few_points_fit_fewer_pairs():
    single, spike = basis(k=16)
    y = np.full(len(single), np.nan)
    y[:40] = np.random.default_rng(5).normal(0, 1e-3, 40)
    fit = fit_cbvs(y, None, single, spike, use_bic=False)
    assert 1 <= fit.ncbv < 16


def test_degenerate_vectors_do_not_break_the_fit():
    # A constant CBV is collinear with the offset, a zero spike vector carries nothing
    # (both occur in the real, truncated SPOC CBV file).
    rng = np.random.default_rng(6)
    n = 200
    single = np.column_stack([np.full(n, -0.0117), np.linspace(-1, 1, n) / 8])
    spike = np.zeros((n, 2))
    y = 0.002 + 0.05 * single[:, 1] + rng.normal(0, 1e-4, n)
    fit = fit_cbvs(y, None, single, spike, use_bic=False)
    assert np.all(np.isfinite(fit.coefficients))
    np.testing.assert_allclose(fit.model, 0.002 + 0.05 * single[:, 1], atol=1e-4)


def test_nan_errors_mean_equal_weights():
    rng = np.random.default_rng(7)
    single, spike = basis(k=3)
    y = single @ [0.01, 0.02, 0.0] + rng.normal(0, 1e-4, len(single))
    a = fit_cbvs(y, np.full(len(y), np.nan), single, spike, use_bic=False)
    b = fit_cbvs(y, np.ones(len(y)), single, spike, use_bic=False)
    np.testing.assert_allclose(a.coefficients, b.coefficients)


def test_map_with_a_gaussian_prior_solves_the_penalised_normal_equations():
    # One kernel = a Gaussian prior, whose MAP has a closed form to compare with.
    rng = np.random.default_rng(8)
    single, spike = basis(k=2)
    n, sigma = len(single), 2e-4
    y = single @ [0.02, 0.01] + 0.5 * single[:, 0] * 0.02 + rng.normal(0, sigma, n)
    mu = np.array([0.0, 0.02, 0.01, 0.0, 0.0])
    h = np.array([np.inf, 1e-4, 1e-4, np.inf, np.inf])
    prior = CoefficientPrior(centres=mu[None, :], weights=np.ones(1), bandwidth=h)
    free = fit_cbvs(y, np.full(n, sigma), single, spike, use_bic=False, clip_sigma=100)
    pulled = fit_cbvs(
        y, np.full(n, sigma), single, spike, use_bic=False, clip_sigma=100, prior=prior
    )
    X = np.column_stack([np.ones(n), single[:, 0], spike[:, 0], single[:, 1], spike[:, 1]])
    w = 1.0 / (sigma**2 * free.noise_scale)
    layout = [0, 1, 3, 2, 4]  # fit columns in [offset, CBV1, CBV2, Spike1, Spike2] order
    penalty = np.where(np.isfinite(h[layout]), 1.0 / h[layout] ** 2, 0.0)
    expected = np.linalg.solve(
        w * X.T @ X + np.diag(penalty), w * X.T @ y + penalty * np.nan_to_num(mu[layout])
    )
    np.testing.assert_allclose(pulled.coefficients[layout], expected, rtol=1e-6, atol=1e-9)
    # The slow signal resembling CBV 1 drags least squares to 0.03; the prior holds it back.
    assert free.coefficients[1] == pytest.approx(0.03, abs=5e-4)
    assert 0.02 < pulled.coefficients[1] < 0.025


def test_map_ignores_prior_modes_far_from_the_data_when_the_data_are_strong():
    # A two-component prior: EM starts from the data and from the prior's median, keeps the
    # higher posterior, so a strong likelihood picks the kernel near the data.
    rng = np.random.default_rng(9)
    single, spike = basis(k=1)
    n = len(single)
    y = 0.03 * single[:, 0] + rng.normal(0, 1e-5, n)
    centres = np.zeros((3, 3))
    centres[:, 1] = [0.0, 0.0, 0.0301]
    prior = CoefficientPrior(
        centres=centres, weights=np.full(3, 1 / 3), bandwidth=np.array([np.inf, 1e-3, np.inf])
    )
    fit = fit_cbvs(y, np.full(n, 1e-5), single, spike, use_bic=False, prior=prior)
    assert fit.coefficients[1] == pytest.approx(0.03, abs=1e-4)
