"""TV-min: the optimiser finds the weights that cancel systematics, whatever the parametrisation."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import minimize

from tasoc_halo import TVObjective, softmax, tv_min


def jitter_pixels(t: int = 600, seed: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pixels on two sides of a star: a common 1 % signal, jitter with opposite signs, noise.

    Pixel i responds to the jitter x(t) with slope b_i (relative): positive on one side,
    negative on the other, so a positive combination with Σ v_i b_i = 0 removes it.
    """
    rng = np.random.default_rng(seed)
    time = np.arange(t) * 0.02
    signal = 0.01 * np.sin(2 * np.pi * time / 1.7)
    x = np.cumsum(rng.normal(0, 0.02, t)) + rng.normal(0, 0.05, t)
    x -= x.mean()
    n = 12
    level = rng.uniform(1e4, 4e4, n)
    slope = np.where(np.arange(n) < n // 2, 1.0, -1.0) * rng.uniform(0.05, 0.15, n)
    rel = 1.0 + signal[:, None] + x[:, None] * slope[None, :]
    noise = rng.normal(0, 1.0, (t, n)) * np.sqrt(level) / level
    return level * (rel + noise), slope, signal


def test_weights_are_positive_normalised_and_give_the_light_curve():
    p, _, _ = jitter_pixels()
    res = tv_min(p)
    assert np.all(res.weights >= 0)
    assert res.weights.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(res.flux, p @ res.weights)
    assert res.converged
    assert res.objective == pytest.approx(TVObjective(p).value(res.weights), rel=1e-12)


@pytest.mark.parametrize("parametrisation", ["bounded", "softmax"])
def test_jitter_is_cancelled_and_the_signal_kept(parametrisation):
    p, slope, signal = jitter_pixels()
    res = tv_min(p, parametrisation=parametrisation)
    level = p.mean(axis=0)
    v = res.weights * level / (res.weights * level).sum()  # share of each pixel in the flux
    # First-order jitter response of the light curve, relative to one pixel's.
    assert abs(v @ slope) < 0.05 * np.abs(slope).mean()
    lc = res.flux / res.flux.mean() - 1.0
    uniform = p.sum(axis=1) / p.sum(axis=1).mean() - 1.0
    resid, resid_uniform = np.std(lc - signal), np.std(uniform - signal)
    assert resid < resid_uniform / 3.0
    amplitude = np.linalg.lstsq(signal[:, None], lc - lc.mean(), rcond=None)[0][0]
    assert amplitude == pytest.approx(1.0, abs=0.03)


def test_objective_is_at_most_that_of_the_start_and_of_each_pixel():
    p, _, _ = jitter_pixels(seed=3)
    res = tv_min(p)
    tv = TVObjective(p)
    assert res.objective <= tv.value(np.full(p.shape[1], 1.0))
    assert res.objective <= min(tv.value(e) for e in np.eye(p.shape[1]))


def test_matches_a_long_exact_optimisation_within_half_a_percent():
    """The smoothed, early-stopped optimum vs the exact TV optimised to convergence."""
    p, _, _ = jitter_pixels(seed=4)
    res = tv_min(p)
    tv = TVObjective(p / p.mean(axis=0))
    v0 = np.full(p.shape[1], 1.0 / p.shape[1])
    scale = 1.0 / tv.value(v0)

    def fun(v):
        value, grad = tv.value_and_gradient(v / v.sum())
        u = v / v.sum()
        return value * scale, (grad - grad @ u) * scale / v.sum()

    ref = minimize(
        fun, v0, jac=True, method="L-BFGS-B", bounds=[(0, None)] * len(v0),
        options={"maxiter": 20000, "ftol": 1e-15, "gtol": 1e-14, "maxfun": 100000},
    )  # fmt: skip
    best = ref.fun / scale
    assert res.objective == pytest.approx(best, rel=5e-3)
    assert res.objective >= best * (1 - 1e-3)  # it cannot be genuinely better


def test_parametrisations_agree():
    p, _, _ = jitter_pixels(seed=5)
    a = tv_min(p, parametrisation="bounded")
    b = tv_min(p, parametrisation="softmax", maxiter=3000)
    assert a.objective == pytest.approx(b.objective, rel=0.01)


@pytest.mark.parametrize("objective", ["tv_o2", "l2v"])
def test_other_objectives_also_cancel_jitter(objective):
    p, slope, _ = jitter_pixels(seed=6)
    res = tv_min(p, objective=objective)
    level = p.mean(axis=0)
    v = res.weights * level / (res.weights * level).sum()
    assert abs(v @ slope) < 0.1 * np.abs(slope).mean()


def test_warm_start_and_determinism():
    p, _, _ = jitter_pixels(seed=7)
    cold = tv_min(p)
    again = tv_min(p)
    np.testing.assert_array_equal(cold.weights, again.weights)
    warm = tv_min(p, weights_init=np.clip(cold.weights, 1e-6, None))
    assert warm.niter < cold.niter
    assert warm.objective == pytest.approx(cold.objective, rel=2e-3)


def test_constant_light_curve_needs_no_optimisation():
    p = np.full((50, 4), 100.0)
    res = tv_min(p)
    assert res.niter == 0
    assert res.objective == 0.0
    np.testing.assert_allclose(res.weights, 0.25)


def test_softmax_start_is_bounded_away_from_denormals():
    w = softmax(np.array([0.0, -30.0]))
    assert w[1] > np.finfo(float).tiny


@pytest.mark.parametrize(
    ("pixels", "kwargs", "message"),
    [
        (np.ones((20, 3)) * [1.0, -1.0, 2.0], {}, "1 pixel"),
        (np.ones((20, 3)), {"parametrisation": "newton"}, "unknown parametrisation 'newton'"),
        (np.ones((20, 3)), {"weights_init": np.array([1.0, 0.0, 1.0])}, "weights_init"),
        (np.ones((20, 0)), {}, r"N ≥ 1"),
    ],
)
def test_bad_input_is_refused(pixels, kwargs, message):
    with pytest.raises(ValueError, match=message):
        tv_min(pixels, **kwargs)
