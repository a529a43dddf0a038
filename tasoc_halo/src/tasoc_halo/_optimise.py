"""TV-min: the positive, normalised pixel weights minimising a TV objective (L-BFGS-B)."""

from __future__ import annotations

import logging

import attrs
import numpy as np
from scipy.optimize import OptimizeResult, minimize

from tasoc_core.blas import single_threaded_blas
from tasoc_halo._objective import PARAMETRISATIONS, Objective, Parametrisation, TVObjective, softmax

__all__ = ["TVMinResult", "smoothing_scale", "tv_min"]

logger = logging.getLogger(__name__)

# Rounds of optimisation: each re-derives the smoothing scale from the light curve the
# previous round found, and re-scales the objective to 1 so that L-BFGS-B's tolerances,
# which are relative to max(|J|, 1), stay relative. A new round is run only when ε would
# shrink more than fourfold: within that, the optimum moved by < 0.1 % in our tests.
_MAX_ROUNDS = 4

# Upper bound on softmax parameters: keeps exp() away from denormal numbers, which slow
# every matrix product down by an order of magnitude. e^-60 relative is zero in practice.
_THETA_BOUND = 30.0


@attrs.frozen(kw_only=True)
class TVMinResult:
    """Outcome of :func:`tv_min`.

    Attributes
    ----------
    weights
        Weights of the input pixels (N,), non-negative, summing to one.
    flux
        The weighted light curve ``pixels @ weights`` (T,).
    objective
        Exact (unsmoothed) objective value at ``weights``.
    epsilon
        Smoothing scale used, relative to the level of the light curve.
    niter, nfev
        L-BFGS-B iterations and objective evaluations.
    converged
        True if L-BFGS-B stopped on its convergence criteria (not on ``maxiter``).
    message
        L-BFGS-B's stopping message.
    """

    weights: np.ndarray
    flux: np.ndarray
    objective: float
    epsilon: float
    niter: int
    nfev: int
    converged: bool
    message: str


def _combined_noise(diffs: np.ndarray) -> float:
    """Median |Δf| expected of the best combination of the pixels, judged from their noise.

    Each pixel's robust scatter of differences is combined as for an inverse-variance
    weighted mean: a first guess of how small the optimum's cadence-to-cadence changes get,
    so that the first round's ε is usually the right one.
    """
    centre = np.median(diffs, axis=0)
    sigma = 1.4826 * np.median(np.abs(diffs - centre), axis=0)
    sigma = sigma[sigma > 0]
    if sigma.size == 0:
        return 0.0
    return 0.6745 * float(np.sum(sigma**-2.0) ** -0.5)


def smoothing_scale(diffs: np.ndarray, weights: np.ndarray, smoothing: float) -> float:
    """ε of the pseudo-Huber penalty: ``smoothing`` × the median |Δf| at ``weights``.

    Tying ε to the light curve's own cadence-to-cadence changes makes the optimisation
    independent of flux units; a tiny floor keeps ε positive for a constant light curve.
    """
    d = np.abs(diffs @ weights)
    scale = float(np.median(d)) if d.size else 0.0
    floor = 1e-12 * max(float(np.max(d, initial=0.0)), 1e-300)
    return max(smoothing * scale, floor)


def tv_min(
    pixels: np.ndarray,
    *,
    objective: Objective = "tv",
    lag: int = 1,
    smoothing: float = 0.01,
    parametrisation: Parametrisation = "bounded",
    maxiter: int = 1000,
    rtol: float = 1e-3,
    window: int = 25,
    weights_init: np.ndarray | None = None,
) -> TVMinResult:
    """Minimise a TV objective over non-negative normalised pixel weights with L-BFGS-B.

    Every pixel series is first divided by its mean, so that the uniform starting weights
    give each pixel the same share of the light curve's relative variations, and so that
    the optimiser works on comparable scales. Weights on these relative pixels are kept
    positive and normalised either by bounds (``"bounded"``: ``v ≥ 0`` with the objective
    evaluated at ``v / Σ v``; pixels can reach exactly zero weight) or by a softmax
    (``"softmax"``: ``v = exp(θ) / Σ exp(θ)``, as in halophot). The returned weights apply
    to the input pixels.

    Parameters
    ----------
    pixels
        Pixel matrix (T, N), cadences first, finite, every column with a positive mean.
    objective, lag
        See :class:`~tasoc_halo._objective.TVObjective`.
    smoothing
        ε of the pseudo-Huber penalty relative to the median |Δf| of the light curve; 0
        optimises the exact total variation with its subgradient. The first round takes
        |Δf| from the pixels' noise combined as in an inverse-variance mean; further rounds
        (at most four in all) take it from the light curve the previous round ended with,
        while that shrinks ε more than fourfold.
    parametrisation
        ``"bounded"`` or ``"softmax"``.
    maxiter
        Maximum L-BFGS-B iterations, all rounds together.
    rtol, window
        Stop when the objective decreased by less than ``rtol`` (relative) over the last
        ``window`` iterations. On TV objectives L-BFGS-B alternates stalls of a few
        iterations with renewed progress, so its own per-iteration test stopped runs 10 %
        above the optimum; over 25 iterations, 1e-3 ends within about 0.5 % of it.
    weights_init
        Starting weights of the input pixels (positive); default: each pixel contributing
        the same mean flux.

    Returns
    -------
    TVMinResult

    Raises
    ------
    ValueError
        If the pixels are not finite, a pixel has a non-positive mean, or the options are
        invalid.
    """
    p = np.asarray(pixels, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] == 0:
        raise ValueError(f"tv_min needs a (T, N) pixel matrix with N ≥ 1, got {p.shape}")
    if parametrisation not in PARAMETRISATIONS:
        raise ValueError(f"unknown parametrisation {parametrisation!r}; use {PARAMETRISATIONS}")
    n = p.shape[1]
    level = p.mean(axis=0)
    if not np.all(level > 0):
        raise ValueError(f"{np.sum(~(level > 0))} pixel(s) have a non-positive mean flux")
    if weights_init is None:
        v0 = np.full(n, 1.0 / n)
    else:
        w0 = np.asarray(weights_init, dtype=np.float64)
        if w0.shape != (n,) or not np.all(np.isfinite(w0)) or np.any(w0 <= 0):
            raise ValueError("weights_init must be N positive finite numbers")
        v0 = w0 * level
        v0 /= v0.sum()
    with single_threaded_blas():
        return _tv_min(
            p, level, v0, objective, lag, smoothing, parametrisation, maxiter, rtol, window
        )


def _tv_min(
    p: np.ndarray,
    level: np.ndarray,
    v0: np.ndarray,
    objective: Objective,
    lag: int,
    smoothing: float,
    parametrisation: Parametrisation,
    maxiter: int,
    rtol: float,
    window: int,
) -> TVMinResult:
    n = p.shape[1]
    tv = TVObjective(p / level, objective=objective, lag=lag)
    v, niter, nfev, res = v0, 0, 0, None
    for _round in range(_MAX_ROUNDS):
        previous_eps = tv.epsilon
        if objective != "l2v":
            if res is None:
                tv.epsilon = smoothing * _combined_noise(tv.diffs)
            else:
                tv.epsilon = smoothing_scale(tv.diffs, v, smoothing)
        j = tv.value(v)
        if n == 1 or not j > 0:
            break
        if res is not None and tv.epsilon > 0.25 * previous_eps:
            break  # ε is within a factor 4 of the last round's: that answer stands
        res = _minimise(tv, v, 1.0 / j, parametrisation, maxiter - niter, rtol, window)
        logger.debug("tv_min round %d: eps %.3g, %d iterations", _round, tv.epsilon, res.nit)
        niter += int(res.nit)
        nfev += int(res.nfev)
        v = res.x / res.x.sum() if parametrisation == "bounded" else softmax(res.x)
        if niter >= maxiter or objective == "l2v" or smoothing == 0:
            break
    if res is None:
        return _result(p, level, v, tv, niter=0, nfev=1, converged=True, message="nothing to do")
    converged = niter < maxiter
    if not converged:
        logger.debug("tv_min stopped after %d iterations: %s", niter, res.message)
    return _result(
        p, level, v, tv, niter=niter, nfev=nfev, converged=converged, message=str(res.message)
    )


def _minimise(
    tv: TVObjective,
    v0: np.ndarray,
    scale: float,
    parametrisation: str,
    maxiter: int,
    rtol: float,
    window: int,
) -> OptimizeResult:
    """One L-BFGS-B run from relative weights ``v0`` with the objective scaled by ``scale``."""
    n = len(v0)
    if parametrisation == "bounded":

        def fun(v: np.ndarray) -> tuple[float, np.ndarray]:
            total = v.sum()
            if not total > 0:
                # A step projected every weight to zero, where J is undefined: a large
                # value sends the line search back towards the feasible start.
                return 1e10, -np.ones_like(v)
            u = v / total
            value, grad = tv.value_and_gradient(u)
            # J(v / Σv) does not change along v itself; without the (Σv − 1)² term that
            # flat direction made L-BFGS-B stall far from the optimum (86 % above it in
            # one benchmark run). The term is zero at Σv = 1 and leaves J's optimum alone.
            excess = total - 1.0
            return (
                value * scale + excess * excess,
                (grad - float(grad @ u)) * (scale / total) + 2.0 * excess,
            )

        x0, bounds = v0, [(0.0, None)] * n
    else:

        def fun(theta: np.ndarray) -> tuple[float, np.ndarray]:
            value, grad = tv.value_and_gradient_softmax(theta)
            # The softmax ignores a common shift of θ: pin it, as Σv above, at mean θ = 0.
            shift = float(theta.mean())
            return value * scale + shift * shift, grad * scale + 2.0 * shift / n

        with np.errstate(divide="ignore"):
            theta = np.log(v0)
        theta = np.clip(theta - theta.max(), -_THETA_BOUND, 0.0)
        x0 = theta - theta.mean()
        bounds = [(-_THETA_BOUND, _THETA_BOUND)] * n

    history: list[float] = []

    def stop_when_flat(intermediate_result: OptimizeResult) -> None:
        history.append(float(intermediate_result.fun))
        if len(history) > window and history[-1 - window] - history[-1] <= rtol * abs(history[-1]):
            raise StopIteration

    res = minimize(
        fun,
        x0,
        jac=True,
        method="L-BFGS-B",
        bounds=bounds,
        callback=stop_when_flat,
        options={
            "maxiter": maxiter,
            "maxfun": 10 * maxiter,
            "maxcor": 20,
            # L-BFGS-B's own tests only catch a truly flat objective; the windowed test
            # above decides when the run has converged.
            "ftol": 1e-13,
            "gtol": 1e-12,
        },
    )
    if len(history) > window and history[-1 - window] - history[-1] <= rtol * abs(history[-1]):
        res.message = f"relative decrease below {rtol:g} over {window} iterations"
    return res


def _result(
    pixels: np.ndarray,
    level: np.ndarray,
    v: np.ndarray,
    tv: TVObjective,
    **info: object,
) -> TVMinResult:
    w = v / level
    w /= w.sum()
    return TVMinResult(
        weights=w,
        flux=pixels @ w,
        objective=tv.value(v, exact=True),
        epsilon=tv.epsilon,
        **info,  # type: ignore[arg-type]
    )
