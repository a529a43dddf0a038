"""The ensemble algorithm (paper 004 §3.2, reference §15.5), vectorised over members.

1. Candidates (nearest first on the same camera/CCD) qualify when their point-to-point
   scatter ``drange`` is below ``drange_limit`` and below ``drange_relative`` × the
   target's, and their variability ``frange`` is below ``frange_limit``.
2. Each qualifying star gets a background offset ζ that best matches its relative
   variations to the target's (points within 2σ of both series only), and becomes the
   member light curve ``(flux + ζ) / median(flux + ζ)``.
3. With the first n members (n ≥ 5), at each cadence members beyond ``clip_sigma`` robust
   σ of the members' median are dropped and the median of the rest is the ensemble m(t).
4. A modest offset k (|k| ≤ ``max_offset``) is chosen to minimise the scaled length
   ``Σ|Δ(f / (m + k))| / median(f / (m + k))`` of the corrected target, which is
   ``f / (m + k)`` brought back to the target's median.
5. Members are added one at a time, nearest first, while that scaled length (the figure of
   merit) decreases; the ensemble with the lowest value before the first non-improvement
   is the result.

Departures from the original code, and why:

* Each candidate ensemble is evaluated from scratch from the first n members, so the kept
  result is exactly the best one tried. The original compared against a copy of the light
  curve that could still be the uncorrected one and shared the member list with its trial
  copy, so a rejected member could remain in the final ensemble (reference §15.5, §17.2).
* ζ is the closed-form least-squares solution instead of a Powell minimisation started at
  100 e-/s: the member's relative variation (c − median c) / (median c + ζ) is linear in
  s = 1 / (median c + ζ), so the best s is a regression slope. s is limited to
  [0.1, 10] / median(c) (the member's relative variations scaled by at most a factor 10),
  which also keeps ζ finite for a member that does not follow the target at all.
* k is bounded (the original minimised from k = 1 without bounds). The scaled length is
  dominated by point-to-point noise, which dividing by a noisy ensemble increases, while a
  slow systematic barely changes it; unbounded, k runs off towards "no correction"
  (|k| → ∞) on faint stars with slow systematics. The members are already scaled to the
  target by ζ, so k only needs to fine-tune.
* The per-cadence clipping uses the median and the median absolute deviation of the
  members, since a mean and standard deviation of five values cannot clip anything at 3σ.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs
import numpy as np
from scipy.optimize import minimize_scalar

from tasoc_ensemble._stats import PreparedLightCurve
from tasoc_ensemble.settings import EnsembleSettings

__all__ = [
    "EnsembleResult",
    "NotEnoughMembers",
    "apply_ensemble",
    "ensemble_correct",
    "ensemble_curve",
    "member_curves",
    "qualifying",
    "scaled_length",
]

_MAD = 1.4826


class NotEnoughMembers(ValueError):
    """Fewer qualifying neighbours than the minimum ensemble size."""


@attrs.frozen(kw_only=True, eq=False)
class EnsembleResult:
    """Result of :func:`ensemble_correct`.

    Attributes
    ----------
    flux
        Corrected flux on the target's cadences, at the target's median level (e-/s).
    scale
        Factor by which the target's flux was divided (its error scales the same way).
    members
        TIC identifiers of the members, in the order they were added.
    zeta
        Background offset ζ (e-/s) of each member.
    fom
        Scaled length of the corrected light curve (the figure of merit).
    offset
        The ensemble offset k.
    candidates, qualified
        Number of candidates offered and number that qualified.
    """

    flux: np.ndarray
    scale: np.ndarray
    members: np.ndarray
    zeta: np.ndarray
    fom: float
    offset: float
    candidates: int
    qualified: int


def qualifying(
    target: PreparedLightCurve,
    candidates: Sequence[PreparedLightCurve],
    settings: EnsembleSettings,
) -> np.ndarray:
    """Indices of the candidates that may join the ensemble (membership criteria 1–3)."""
    drange = np.array([c.drange if c.valid else np.nan for c in candidates])
    frange = np.array([c.frange if c.valid else np.nan for c in candidates])
    with np.errstate(invalid="ignore"):
        ok = drange < settings.drange_limit
        ok &= drange < settings.drange_relative * target.drange
        ok &= frange < settings.frange_limit
    return np.flatnonzero(ok)


def _aligned(target: PreparedLightCurve, others: Sequence[PreparedLightCurve]) -> np.ndarray:
    """(M, T) fluxes of ``others`` on the target's cadences (NaN where they have none)."""
    out = np.full((len(others), len(target.cadenceno)), np.nan)
    for j, other in enumerate(others):
        if other.cadenceno is target.cadenceno or np.array_equal(other.cadenceno, target.cadenceno):
            out[j] = other.flux
            continue
        idx = np.searchsorted(other.cadenceno, target.cadenceno)
        idx_c = np.clip(idx, 0, len(other.cadenceno) - 1)
        found = other.cadenceno[idx_c] == target.cadenceno
        out[j, found] = other.flux[idx_c[found]]
    return out


def member_curves(
    target: PreparedLightCurve, flux: np.ndarray, *, order: int = 3
) -> tuple[np.ndarray, np.ndarray]:
    """Background offsets ζ and normalised member curves for members ``flux`` (M, T).

    The member's relative variation ``(c − median c) / (median c + ζ)`` is linear in
    s = 1 / (median c + ζ), so the best s is a least-squares slope of the target's relative
    flux on ``c − median c`` (points beyond 2σ of either series left out). A target with
    slow variability of its own (a long-period variable) would drag that slope, so the
    slope is also fitted with a polynomial in time of degree ``order`` alongside, and that
    fit is used when it is better by the Bayesian information criterion, i.e. when the
    target varies slowly in a way the member does not. A slope that the data do not
    determine (uncertainty above half its value, or not positive) leaves the member as it
    is (ζ = 0).

    Returns
    -------
    curves
        (M, T) ``(flux + ζ) / median(flux + ζ)``.
    zeta
        (M,) offsets in e-/s.
    """
    n = flux.shape[1]
    tau = np.linspace(-1.0, 1.0, n)
    V = np.vander(tau, order + 1, increasing=True)  # (T, P); column 0 is the constant
    t = target.flux / target.median - 1.0
    t_ok = np.isfinite(t)
    if t_ok.sum() > order + 2:
        coef = np.linalg.lstsq(V[t_ok], t[t_ok], rcond=None)[0]
        t_res = t - V @ coef
        t_ok &= np.abs(t_res) < 2 * np.nanstd(t_res[t_ok])
    med = np.nanmedian(flux, axis=1)
    x = flux - med[:, None]
    with np.errstate(invalid="ignore"):
        x_ok = np.isfinite(x) & (np.abs(x) < 2 * np.nanstd(x, axis=1)[:, None])
    w = (x_ok & t_ok[None, :]).astype(np.float64)  # (M, T)
    count = w.sum(axis=1)
    tz = np.where(t_ok, t, 0.0)
    xz = np.where(x_ok, x, 0.0)

    def slope_fit(
        basis: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        # Frisch–Waugh: remove each member's weighted fit on ``basis`` from both series.
        p = basis.shape[1]
        BB = (basis[:, :, None] * basis[:, None, :]).reshape(n, p * p)
        G = (w @ BB).reshape(-1, p, p) + np.eye(p) * 1e-12
        rhs = np.stack([(w * tz[None, :]) @ basis, (w * xz) @ basis], axis=2)
        coefs = np.linalg.solve(G, rhs)
        t_perp = tz[None, :] - np.einsum("tp,mp->mt", basis, coefs[:, :, 0])
        x_perp = xz - np.einsum("tp,mp->mt", basis, coefs[:, :, 1])
        sxx = np.sum(w * x_perp * x_perp, axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            slope = np.sum(w * t_perp * x_perp, axis=1) / sxx
            chi2 = np.sum(w * (t_perp - slope[:, None] * x_perp) ** 2, axis=1)
            variance = chi2 / np.maximum(count - p - 1, 1)
            error = np.sqrt(variance / sxx)
        return slope, chi2, variance, error

    plain = slope_fit(V[:, :1])
    detrended = slope_fit(V)
    with np.errstate(invalid="ignore", divide="ignore"):
        gain = (plain[1] - detrended[1]) / detrended[2] - order * np.log(np.maximum(count, 2))
    use_detrended = gain > 0
    slope = np.where(use_detrended, detrended[0], plain[0])
    error = np.where(use_detrended, detrended[3], plain[3])
    # slope = 1 / (median + ζ); ζ = 0 means the member's own relative variations.
    known = np.isfinite(slope) & (slope > 0) & (error < 0.5 * np.abs(slope))
    slope = np.where(known, slope, 1.0 / med)
    slope = np.clip(slope, 0.1 / med, 10.0 / med)
    zeta = 1.0 / slope - med
    return 1.0 + slope[:, None] * x, zeta


def _nanmedian0(a: np.ndarray) -> np.ndarray:
    """Median over axis 0 ignoring NaN (NaN where a column has no value); sort-based, fast."""
    s = np.sort(a, axis=0)  # NaN sorts last
    n = np.sum(np.isfinite(a), axis=0)
    lo = np.clip((n - 1) // 2, 0, None)
    hi = np.clip(n // 2, 0, None)
    cols = np.arange(a.shape[1])
    out = 0.5 * (s[lo, cols] + s[hi, cols])
    out[n == 0] = np.nan
    return out


def ensemble_curve(curves: np.ndarray, clip_sigma: float) -> np.ndarray:
    """Per-cadence median of member curves after robust clipping of outlying members."""
    centre = _nanmedian0(curves)
    dev = np.abs(curves - centre)
    sigma = _MAD * _nanmedian0(dev)
    with np.errstate(invalid="ignore"):
        keep = ~(dev > clip_sigma * sigma) | ~(sigma > 0)
    return _nanmedian0(np.where(keep, curves, np.nan))


def scaled_length(flux: np.ndarray) -> float:
    """Σ|Δf| / median(f) over the finite points: the normalised total variation (paper Eq. 4)."""
    f = flux[np.isfinite(flux)]
    if len(f) < 2:
        return np.inf
    return float(np.sum(np.abs(np.diff(f))) / np.median(f))


def apply_ensemble(
    flux: np.ndarray, ensemble: np.ndarray, max_offset: float = 0.05
) -> tuple[np.ndarray, float, float]:
    """Divide ``flux`` by ``ensemble + k``, |k| ≤ ``max_offset``, minimising the scaled length.

    Returns the corrected flux (at the median level of ``flux``), k and the scaled length
    (paper 004 Eq. 6).
    """
    both = np.isfinite(flux) & np.isfinite(ensemble)
    f, m = flux[both], ensemble[both]
    if len(f) < 3:
        return np.full(len(flux), np.nan), np.nan, np.inf
    low = max(-max_offset, 0.05 - float(m.min()))
    if max_offset > 0 and low < max_offset:
        result = minimize_scalar(
            lambda k: scaled_length(f / (m + k)),
            bounds=(low, max_offset),
            method="bounded",
            options={"xatol": 1e-4},
        )
        k = float(result.x)
    else:
        k = 0.0
    corrected = np.full(len(flux), np.nan)
    divided = f / (m + k)
    corrected[both] = divided * (np.median(f) / np.median(divided))
    return corrected, k, scaled_length(divided)


def ensemble_correct(
    target: PreparedLightCurve,
    candidates: Sequence[PreparedLightCurve],
    settings: EnsembleSettings,
) -> EnsembleResult:
    """Build the target's ensemble from ``candidates`` (nearest first) and correct it.

    Raises
    ------
    NotEnoughMembers
        If fewer than ``settings.min_members`` candidates qualify.
    """
    ok = qualifying(target, candidates, settings)
    if len(ok) < settings.min_members:
        raise NotEnoughMembers(
            f"not enough stars for an ensemble: {len(ok)} of {len(candidates)} neighbours "
            f"qualify (need {settings.min_members}; drange < {settings.drange_limit} and "
            f"< {settings.drange_relative} × the target's {target.drange:.3g}, "
            f"frange < {settings.frange_limit})"
        )
    members = [candidates[i] for i in ok]
    curves, zeta = member_curves(target, _aligned(target, members))

    def evaluate(n: int) -> tuple[np.ndarray, float, float]:
        return apply_ensemble(
            target.flux, ensemble_curve(curves[:n], settings.clip_sigma), settings.max_offset
        )

    n = settings.min_members
    best = evaluate(n)
    while n < len(members):
        trial = evaluate(n + 1)
        if not trial[2] < best[2]:
            break
        best, n = trial, n + 1
    corrected, k, fom = best
    with np.errstate(invalid="ignore", divide="ignore"):
        scale = target.flux / corrected
    return EnsembleResult(
        flux=corrected,
        scale=scale,
        members=np.array([m.starid for m in members[:n]], dtype=np.int64),
        zeta=zeta[:n],
        fom=fom,
        offset=k,
        candidates=len(candidates),
        qualified=len(members),
    )
