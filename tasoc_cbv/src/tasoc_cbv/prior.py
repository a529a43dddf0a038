"""A prior on a star's CBV coefficients from its neighbours (paper 004 §6, "outlook").

Stars close together on the CCD and of similar brightness see similar systematics, so their
CBV coefficients are similar (paper 004, Fig. 15). For a target, the coefficients of the
area's stars (fitted with all CBVs when the CBVs were built) are weighted by their distance
to the target in (row, column, Tmag) space and turned into one weighted kernel density
estimate per coefficient. The corrector then maximises likelihood × prior
(:func:`tasoc_cbv.fit.fit_cbvs` with ``prior=``). This pulls the coefficients of a star
whose own variability could be mistaken for systematics (long-period variables) towards
those of its neighbours.

The distance uses the robust spread of each coordinate over the area as its scale, with
magnitude counting double (scale 0.5·MAD), as the original's unused prior code did
(reference §15.3 step 11); the weights are inverse squared distances and the bandwidths
follow Scott's rule with the effective number of weighted stars.
"""

from __future__ import annotations

import attrs
import numpy as np

from tasoc_cbv.basis import CBVCoefficients

__all__ = ["CoefficientPrior", "neighbour_prior"]

_MAD = 1.4826
#: Added to squared distances (in units of the area's robust spread) before inverting, so
#: that stars within ~0.3 spreads count about equally instead of the nearest one or two
#: taking all the weight.
_SOFTENING = 0.1


@attrs.frozen(kw_only=True, eq=False)
class CoefficientPrior:
    """Weighted KDE prior, one 1-D density per coefficient.

    Attributes
    ----------
    centres
        (M, 1 + 2K) neighbours' coefficients ``[offset, CBV_1..K, Spike_1..K]``.
    weights
        (M,) positive weights of the neighbours.
    bandwidth
        (1 + 2K,) kernel width per coefficient; ``inf`` means no prior (the offset).
    """

    centres: np.ndarray
    weights: np.ndarray
    bandwidth: np.ndarray

    def for_columns(self, index: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Centres, weights and bandwidths of the fit's columns (positions in the layout)."""
        index = np.asarray(index)
        return self.centres[:, index], self.weights, self.bandwidth[index]


def _weighted_quantile(values: np.ndarray, weights: np.ndarray, q: float) -> np.ndarray:
    """Weighted quantile of each column of ``values`` (M, P)."""
    order = np.argsort(values, axis=0)
    v = np.take_along_axis(values, order, axis=0)
    w = weights[order]
    cw = np.cumsum(w, axis=0)
    cw /= cw[-1]
    idx = np.argmax(cw >= q, axis=0)
    return v[idx, np.arange(values.shape[1])]


def _centre_spread(values: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weighted median and robust half-width (16–84 % range / 2) of each column."""
    centre = _weighted_quantile(values, weights, 0.5)
    spread = (
        _weighted_quantile(values, weights, 0.841) - _weighted_quantile(values, weights, 0.159)
    ) / 2.0
    fallback = np.sqrt(
        np.sum(weights[:, None] * (values - np.average(values, axis=0, weights=weights)) ** 2, 0)
        / weights.sum()
    )
    return centre, np.where(spread > 0, spread, fallback)


def neighbour_prior(
    coefficients: CBVCoefficients,
    *,
    row: float,
    col: float,
    tmag: float,
    vectors: np.ndarray,
    nvectors: int,
    starid: int | None = None,
    neighbours: int = 1000,
) -> CoefficientPrior | None:
    """Build the prior for a star at (row, col, tmag) from the area's stored coefficients.

    Parameters
    ----------
    coefficients
        The area's stars fitted with all K CBVs.
    row, col, tmag
        The target.
    vectors
        Indices (into the K stored vectors) of the vectors the fit will use, in order.
    nvectors
        K, the number of stored vectors.
    starid
        The target's TIC, left out of its own prior.
    neighbours
        Number of nearest stars used.

    Returns
    -------
    CoefficientPrior or None
        None when fewer than 5 stars with finite coefficients are available.
    """
    vectors = np.asarray(vectors, dtype=int)
    layout = np.concatenate([[0], 1 + vectors, 1 + nvectors + vectors])
    values = coefficients.values[:, layout]
    ok = np.all(np.isfinite(values[:, 1 : 1 + len(vectors)]), axis=1)
    ok &= np.isfinite(coefficients.row) & np.isfinite(coefficients.col)
    ok &= np.isfinite(coefficients.tmag)
    if starid is not None:
        ok &= coefficients.starid != starid
    if ok.sum() < 5:
        return None
    r, c = coefficients.row[ok], coefficients.col[ok]
    m = np.clip(coefficients.tmag[ok], 2.0, 20.0)
    values = np.nan_to_num(values[ok])

    def scale(x: np.ndarray) -> float:
        s = _MAD * float(np.median(np.abs(x - np.median(x))))
        return s if s > 0 else max(float(np.std(x)), 1.0)

    d2 = ((r - row) / scale(r)) ** 2 + ((c - col) / scale(c)) ** 2
    d2 += ((m - np.clip(tmag, 2.0, 20.0)) / (0.5 * scale(m))) ** 2
    take = np.argsort(d2)[:neighbours]
    # Softened inverse-square weights: a star at zero distance must not take all the weight.
    weights = 1.0 / (d2[take] + _SOFTENING)
    values = values[take]
    # The coefficients of variable stars are biased by their own signal; a kernel on each
    # of them would let the prior support exactly the over-fit it should prevent. Stars
    # more than 5 robust widths from the weighted median in any coefficient are left out.
    centre, spread = _centre_spread(values, weights)
    with np.errstate(invalid="ignore", divide="ignore"):
        z = np.abs(values - centre) / spread
    inlier = np.all(np.where(np.isfinite(z), z, 0.0)[:, 1:] <= 5.0, axis=1)
    if inlier.sum() >= 5:
        values, weights = values[inlier], weights[inlier]
        centre, spread = _centre_spread(values, weights)
    neff = weights.sum() ** 2 / np.sum(weights**2)
    # Kernel widths: Scott's rule with a robust, weighted spread per coefficient.
    bandwidth = spread * neff ** (-1.0 / 5.0)
    bandwidth = np.where(bandwidth > 0, bandwidth, np.inf)
    bandwidth[0] = np.inf  # no prior on the offset
    return CoefficientPrior(centres=values, weights=weights / weights.sum(), bandwidth=bandwidth)
