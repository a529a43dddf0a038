"""Fitting the zero point of the magnitude–flux relation ``Tmag ≈ zp − 2.5 log10(S)``.

Paper 003 (§8, "Flux relation") fits Eq. 4 to median-binned values of one sector and
cadence, using only stars with a contamination below 0.15; it finds zp = 20.401–20.506 for
sectors 1–6. Here every star gives a zero point ``Tmag + 2.5 log10(S)``; the stars are
binned in Tmag, each bin contributes the median zero point of its stars, and the fit is the
least-squares constant through those points (their mean). Binning makes every magnitude
range count once, whatever the number of stars in it; the medians make the fit insensitive
to the few blended or mis-measured stars that survive the contamination cut. (Taking the
median magnitude and median flux of a bin separately would let those few stars shift the
median flux by a fraction of the bin width.)
"""

from __future__ import annotations

import math

import attrs
import numpy as np

__all__ = ["ZeroPointFit", "fit_zero_point"]


@attrs.frozen
class ZeroPointFit:
    """Result of :func:`fit_zero_point` (``zero_point`` is NaN when nothing could be fitted)."""

    zero_point: float
    #: Standard error of the fitted zero point (NaN with fewer than two bins).
    error: float
    n_stars: int
    n_bins: int
    #: Tmag at the centre of each bin the fit used, ascending.
    bin_tmag: tuple[float, ...] = attrs.field(default=(), converter=tuple)
    #: The median zero point of the stars of each of those bins (``zero_point`` is their mean).
    bin_zero_points: tuple[float, ...] = attrs.field(default=(), converter=tuple)


def fit_zero_point(
    tmag: np.ndarray,
    mean_flux: np.ndarray,
    contamination: np.ndarray,
    *,
    max_contamination: float = 0.15,
    bin_width: float = 0.5,
    min_per_bin: int = 3,
) -> ZeroPointFit:
    """Zero point of the magnitude–flux relation of a population of stars.

    Parameters
    ----------
    tmag, mean_flux, contamination
        Per star: TESS magnitude, mean flux (e-/s) and contamination (0–1).
    max_contamination
        Only stars with a contamination below this are used (NaN counts as unknown and
        is left out).
    bin_width
        Width of the magnitude bins.
    min_per_bin
        Bins with fewer stars are ignored.
    """
    tmag = np.asarray(tmag, dtype=np.float64)
    flux = np.asarray(mean_flux, dtype=np.float64)
    contamination = np.asarray(contamination, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        use = (
            np.isfinite(tmag)
            & np.isfinite(flux)
            & (flux > 0)
            & np.isfinite(contamination)
            & (contamination < max_contamination)
        )
    n_stars = int(np.count_nonzero(use))
    if n_stars == 0:
        return ZeroPointFit(math.nan, math.nan, 0, 0)
    zero_points = tmag[use] + 2.5 * np.log10(flux[use])
    index = np.floor(tmag[use] / bin_width).astype(np.int64)
    order = np.argsort(index, kind="stable")
    index, zero_points = index[order], zero_points[order]
    keys, starts, counts = np.unique(index, return_index=True, return_counts=True)
    keep = counts >= min_per_bin
    if not keep.any():
        return ZeroPointFit(math.nan, math.nan, n_stars, 0)
    points = np.array(
        [np.median(zero_points[s : s + n]) for s, n in zip(starts[keep], counts[keep])]
    )
    error = float(np.std(points, ddof=1) / np.sqrt(points.size)) if points.size > 1 else math.nan
    return ZeroPointFit(
        float(points.mean()),
        error,
        n_stars,
        int(points.size),
        bin_tmag=((keys[keep] + 0.5) * bin_width).tolist(),
        bin_zero_points=points.tolist(),
    )
