"""The K2P2 flux threshold: the mode of the sum-image pixel distribution plus a robust width.

The threshold separating "star" pixels from "sky" pixels is ``CUT = mode + thresh × MAD₋``,
where the mode is the maximum of a Gaussian kernel density estimate (KDE) of the pixel
values and ``MAD₋`` the standardised median absolute deviation of the pixels *below* the
mode (the side stars do not contaminate). See the package README for how this departs
from the original pipeline.
"""

from __future__ import annotations

import attrs
import numpy as np

__all__ = ["MAD_TO_SIGMA", "Threshold", "flux_threshold", "kde_mode", "scott_bandwidth"]

#: Scale from a median absolute deviation to a Gaussian standard deviation.
MAD_TO_SIGMA = 1.4826

# Fine grid on which the KDE is evaluated around the densest window, in bandwidths.
_GRID_HALF_WIDTH = 2.0
_GRID_POINTS = 81
# Kernels are cut at this many bandwidths (exp(-0.5·6²) ≈ 1.5e-8 of the peak).
_KERNEL_CUT = 6.0


@attrs.frozen
class Threshold:
    """The flux threshold of one sum image.

    Attributes
    ----------
    mode
        Mode of the pixel-value distribution (e-/s).
    mad
        Standardised MAD of the pixels below the mode (e-/s).
    cut
        ``mode + thresh × mad``: pixels above it are candidate star pixels.
    npix
        Number of pixel values the estimate used (after trimming).
    """

    mode: float
    mad: float
    cut: float
    npix: int


def scott_bandwidth(values: np.ndarray) -> float:
    """Scott's rule with a robust spread: ``1.059 · min(σ, IQR/1.349) · n^(-1/5)``.

    Falls back to σ when the inter-quartile range is zero; returns 0 for fewer than two
    distinct values.
    """
    x = np.asarray(values, dtype=np.float64)
    n = x.size
    if n < 2:
        return 0.0
    std = float(np.std(x, ddof=1))
    q75, q25 = np.percentile(x, [75.0, 25.0])
    iqr = float(q75 - q25) / 1.349
    spread = min(std, iqr) if iqr > 0 else std
    return 1.059 * spread * n ** (-0.2)


def kde_mode(values: np.ndarray, bandwidth: float | None = None) -> float:
    """Location of the maximum of a Gaussian KDE of ``values``.

    The densest window of width two bandwidths is found on the sorted values in
    O(n log n); the KDE is then evaluated exactly (with the points within reach of the
    kernel) on a fine grid around it, and the maximum refined by a parabola through the
    three highest grid points. The grid follows the maximum if it lies at the grid's end.

    Parameters
    ----------
    values
        Finite sample values.
    bandwidth
        Kernel standard deviation; default :func:`scott_bandwidth`.

    Returns
    -------
    float
        The mode. For fewer than three values, or a zero bandwidth, the median.

    Raises
    ------
    ValueError
        If ``values`` is empty or contains non-finite values.
    """
    x = np.sort(np.asarray(values, dtype=np.float64).ravel())
    if x.size == 0:
        raise ValueError("kde_mode needs at least one value")
    if not np.all(np.isfinite(x)):
        raise ValueError("kde_mode needs finite values")
    bw = scott_bandwidth(x) if bandwidth is None else float(bandwidth)
    if x.size < 3 or not bw > 0:
        return float(np.median(x))
    ends = np.searchsorted(x, x + 2.0 * bw, side="right")
    start = int(np.argmax(ends - np.arange(x.size)))
    centre = 0.5 * (x[start] + x[ends[start] - 1])
    offsets = np.linspace(-_GRID_HALF_WIDTH * bw, _GRID_HALF_WIDTH * bw, _GRID_POINTS)
    step = offsets[1] - offsets[0]
    for _ in range(8):
        grid = centre + offsets
        lo, hi = np.searchsorted(
            x, [grid[0] - _KERNEL_CUT * bw, grid[-1] + _KERNEL_CUT * bw], side="left"
        )
        near = x[lo:hi]
        density = np.exp(-0.5 * ((grid[:, None] - near[None, :]) / bw) ** 2).sum(axis=1)
        k = int(np.argmax(density))
        if 0 < k < _GRID_POINTS - 1:
            left, mid, right = density[k - 1 : k + 2]
            curvature = left - 2.0 * mid + right
            shift = 0.5 * (left - right) / curvature if curvature < 0 else 0.0
            return float(grid[k] + shift * step)
        centre = grid[k]
    return float(centre)


def flux_threshold(
    image: np.ndarray, thresh: float, *, trim: float = 0.15, max_flux: float = 70000.0
) -> Threshold | None:
    """The K2P2 threshold of a sum image.

    Parameters
    ----------
    image
        Mean background-subtracted image (e-/s); NaN pixels are ignored.
    thresh
        Multiple of the MAD above the mode (0.8 in the pipeline).
    trim
        Fraction of the brightest finite pixels left out of the estimate (they are stars).
    max_flux
        Pixels at or above this value (saturated cores) are left out of the estimate.

    Returns
    -------
    Threshold or None
        None when the image has no finite pixel with positive flux (nothing to find).
    """
    finite = np.asarray(image, dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    if finite.size == 0 or not np.any(finite > 0):
        return None
    values = np.sort(finite)
    keep = values.size - int(trim * values.size)
    values = values[: max(keep, 1)]
    values = values[values < max_flux]
    if values.size == 0:
        # Everything is saturated: the threshold cannot be estimated from sky pixels.
        return None
    mode = kde_mode(values)
    below = values[values < mode]
    if below.size == 0:
        below = values
    mad = MAD_TO_SIGMA * float(np.median(np.abs(below - mode)))
    return Threshold(mode=mode, mad=mad, cut=mode + thresh * mad, npix=int(values.size))
