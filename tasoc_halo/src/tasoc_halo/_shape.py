"""Removing changes of the point-spread function's shape from a halo light curve.

The halo of a saturated star is the part of its light that leaves the core. When the PSF
widens (focus changes, "breathing") more light reaches every halo pixel while the gain
is hidden in the saturated core, so all halo pixels brighten together and no positive
weighting can cancel it. TV-min does not see it either: a slow change adds almost nothing
to the point-to-point variation it minimises. On the simulated ci sector a 0.8 % rms focus
change moved the Tmag 3.2 star's halo light curve by 1.9 % rms (d ln f / d focus = 2.3),
four times its 0.44 % transit.

A change of the star's brightness scales every pixel by the same factor; a change of the
PSF's shape scales pixels differently (inner and outer halo pixels answer a focus change
by factors 1–5 in the ci sector). So contrasts between pixels — combinations of the
pixels' relative variations whose coefficients, weighted by each pixel's noise, sum to
zero — carry the shape changes and none of the star's signal. The leading contrasts
(principal components of the noise-weighted relative pixel variations, after the
component common to all pixels is projected out) are fitted to the light curve by least
squares over the fitted cadences, and the fitted part is divided out.
"""

from __future__ import annotations

import attrs
import numpy as np

__all__ = ["ShapeFit", "shape_correction"]


@attrs.frozen(kw_only=True)
class ShapeFit:
    """Result of :func:`shape_correction`.

    Attributes
    ----------
    factor
        Multiplicative systematics factor per cadence of ``pixels_all`` (mean ≈ 1 over the
        fitted cadences); the corrected light curve is the light curve divided by it.
    coefficients
        Least-squares coefficients of the contrasts (relative flux per unit contrast).
    rms
        Standard deviation of ``factor`` over the fitted cadences (the size of the removed
        systematics, relative).
    """

    factor: np.ndarray
    coefficients: np.ndarray
    rms: float


def _noise(relative: np.ndarray) -> np.ndarray:
    """Robust point-to-point noise of each column (white-noise equivalent)."""
    diff = np.diff(relative, axis=0)
    mad = np.median(np.abs(diff - np.median(diff, axis=0)), axis=0)
    return 1.4826 * mad / np.sqrt(2.0)


def _running_mean(time: np.ndarray, values: np.ndarray, window: float) -> np.ndarray:
    """Mean of ``values`` (T, k) over the samples within ``window``/2 of each time (sorted)."""
    if window <= 0:
        return values
    csum = np.vstack([np.zeros((1, values.shape[1])), np.cumsum(values, axis=0)])
    lo = np.searchsorted(time, time - 0.5 * window, side="left")
    hi = np.searchsorted(time, time + 0.5 * window, side="right")
    return (csum[hi] - csum[lo]) / (hi - lo)[:, None]


def shape_correction(
    pixels_fit: np.ndarray,
    flux_fit: np.ndarray,
    pixels_all: np.ndarray,
    *,
    n_components: int,
    time_fit: np.ndarray | None = None,
    time_all: np.ndarray | None = None,
    window: float = 0.0,
) -> ShapeFit:
    """Fit PSF-shape contrasts of the pixels to a light curve.

    Parameters
    ----------
    pixels_fit
        (T, N) pixel series on the fitted cadences (finite, positive means).
    flux_fit
        (T,) light curve on the same cadences (the weighted sum of some of the pixels).
    pixels_all
        (T_all, N) the same pixels on every cadence to correct (NaN allowed: a missing
        pixel adds nothing to that cadence's contrasts).
    n_components
        Number of contrasts fitted; 0 returns a factor of ones.
    time_fit, time_all, window
        Times (days, increasing; NaN allowed in ``time_all``) of the two sets of cadences and
        the width of the running mean applied to the contrasts before the fit (0: none).
        The contrasts are noisy estimates of the shape changes and their noise would
        enter the light curve with the correction; PSF shape changes (focus) are slow,
        and fast pointing jitter is what TV-min already cancels.

    Returns
    -------
    ShapeFit
    """
    p = np.asarray(pixels_fit, dtype=np.float64)
    t, n = p.shape
    k = min(int(n_components), n - 1, max(0, t // 10))
    if k <= 0:
        return ShapeFit(factor=np.ones(len(pixels_all)), coefficients=np.zeros(0), rms=0.0)
    mean = p.mean(axis=0)
    rel = p / mean - 1.0
    sigma = _noise(rel)
    usable = sigma > 0
    sigma = np.where(usable, sigma, np.inf)
    z = rel / sigma
    # The direction a common relative change takes in the noise-weighted space.
    common = np.where(usable, 1.0 / sigma, 0.0)
    common /= np.linalg.norm(common)
    z = z - np.outer(z @ common, common)
    z -= z.mean(axis=0)
    _, _, vt = np.linalg.svd(z, full_matrices=False)
    basis = vt[:k]
    # Re-orthogonalise against the common direction (round-off) so no signal leaks in.
    basis = basis - np.outer(basis @ common, common)
    comp_fit = z @ basis.T
    smooth = window > 0 and time_fit is not None and time_all is not None
    if smooth:
        comp_fit = _running_mean(np.asarray(time_fit, float), comp_fit, window)
    y = np.asarray(flux_fit, dtype=np.float64)
    y = y / y.mean() - 1.0
    design = np.column_stack([comp_fit, np.ones(t)])
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    rel_all = np.asarray(pixels_all, dtype=np.float64) / mean - 1.0
    z_all = np.where(np.isfinite(rel_all), rel_all, 0.0) / sigma
    if smooth:
        # Cadences that were not fitted (flagged, in gaps) take the smoothed contrasts of
        # the fitted ones around them.
        ta = np.asarray(time_all, float)
        comp_all = np.column_stack([np.interp(ta, time_fit, c) for c in comp_fit.T])
        comp_all[~np.isfinite(ta)] = comp_fit.mean(axis=0)
    else:
        comp_all = z_all @ basis.T
    offset = comp_fit.mean(axis=0)
    factor = 1.0 + (comp_all - offset) @ coef[:k]
    fitted = 1.0 + (comp_fit - offset) @ coef[:k]
    return ShapeFit(factor=factor, coefficients=coef[:k], rms=float(np.std(fitted)))
