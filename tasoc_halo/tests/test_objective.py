"""The TV objectives: values against a plain loop, analytic gradients against finite differences."""

from __future__ import annotations

import numpy as np
import pytest

from tasoc_halo import OBJECTIVES, TVObjective, softmax


def pixels(t: int = 120, n: int = 7, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    level = rng.uniform(50, 500, n)
    trend = np.sin(np.linspace(0, 6, t))[:, None] * rng.normal(0, 5, n)
    return level + trend + rng.normal(0, 3, (t, n))


def loop_objective(p: np.ndarray, w: np.ndarray, objective: str, lag: int, eps: float) -> float:
    """Straight from the definitions, one cadence at a time."""
    f = [float(sum(p[t, i] * w[i] for i in range(p.shape[1]))) for t in range(p.shape[0])]
    total = sum(f)
    if objective == "tv_o2":
        d = [f[t + 2 * lag] - 2 * f[t + lag] + f[t] for t in range(len(f) - 2 * lag)]
    else:
        d = [f[t + lag] - f[t] for t in range(len(f) - lag)]
    if objective == "l2v":
        return sum(x * x for x in d) / total**2
    return sum(np.sqrt(x * x + eps * eps) - eps for x in d) / total


@pytest.mark.parametrize("objective", OBJECTIVES)
@pytest.mark.parametrize("lag", [1, 3])
@pytest.mark.parametrize("eps", [0.0, 0.7])
def test_value_matches_the_definition(objective, lag, eps):
    p = pixels()
    w = np.random.default_rng(1).uniform(0.1, 1.0, p.shape[1])
    tv = TVObjective(p, objective=objective, lag=lag, epsilon=eps)
    expected = loop_objective(p, w, objective, lag, eps)
    assert tv.value(w) == pytest.approx(expected, rel=1e-12)
    value, _ = tv.value_and_gradient(w)
    assert value == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("objective", OBJECTIVES)
def test_gradient_matches_finite_differences(objective):
    p = pixels()
    tv = TVObjective(p, objective=objective, lag=2, epsilon=0.5)
    w = np.random.default_rng(2).uniform(0.1, 1.0, p.shape[1])
    _, grad = tv.value_and_gradient(w)
    step = 1e-6
    numeric = np.array(
        [(tv.value(w + step * e) - tv.value(w - step * e)) / (2 * step) for e in np.eye(len(w))]
    )
    np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-12 * np.abs(numeric).max())


def test_softmax_gradient_matches_finite_differences():
    p = pixels()
    tv = TVObjective(p, epsilon=0.5)
    theta = np.random.default_rng(3).normal(0, 1, p.shape[1])
    _, grad = tv.value_and_gradient_softmax(theta)
    step = 1e-6

    def j(th):
        return tv.value(softmax(th))

    numeric = np.array(
        [(j(theta + step * e) - j(theta - step * e)) / (2 * step) for e in np.eye(len(theta))]
    )
    np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-12 * np.abs(numeric).max())
    # The softmax is invariant to a constant shift of θ: the gradient has no such component.
    assert abs(grad.sum()) < 1e-12 * np.abs(grad).max() * len(grad)


@pytest.mark.parametrize("objective", OBJECTIVES)
def test_objectives_ignore_the_overall_scale_of_the_weights(objective):
    p = pixels()
    tv = TVObjective(p, objective=objective)
    w = np.random.default_rng(4).uniform(0.1, 1.0, p.shape[1])
    assert tv.value(7.5 * w) == pytest.approx(tv.value(w), rel=1e-12)
    # Euler: a degree-0 homogeneous function has a gradient orthogonal to its argument.
    _, grad = tv.value_and_gradient(w)
    assert abs(grad @ w) < 1e-10 * np.abs(grad).max() * np.abs(w).sum()


def test_exact_value_ignores_the_smoothing():
    p = pixels()
    w = np.full(p.shape[1], 1.0)
    smooth = TVObjective(p, epsilon=10.0)
    exact = TVObjective(p, epsilon=0.0)
    assert smooth.value(w, exact=True) == exact.value(w)
    assert smooth.value(w) < exact.value(w)  # the rounded kink lies below |x|


def test_softmax_is_positive_normalised_and_overflow_free():
    w = softmax(np.array([1000.0, 999.0, -1000.0]))
    assert np.all(w >= 0)
    assert w.sum() == pytest.approx(1.0)
    assert w[0] / w[1] == pytest.approx(np.e)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"objective": "l3v"}, "unknown objective 'l3v'"),
        ({"lag": 120}, "lag 120 leaves no tv differences in 120 cadences"),
        ({"lag": 0}, "lag 0"),
        ({"epsilon": -1.0}, "epsilon must be non-negative, got -1.0"),
    ],
)
def test_bad_options_are_refused_with_the_value(kwargs, message):
    with pytest.raises(ValueError, match=message):
        TVObjective(pixels(), **kwargs)


def test_non_finite_pixels_are_refused():
    p = pixels()
    p[3, 2] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        TVObjective(p)
    with pytest.raises(ValueError, match=r"\(T, N\) matrix"):
        TVObjective(p[:, 0])
