"""Saturated (bleed) columns of bright stars.

Charge from a saturated pixel spills along its CCD column, giving a flat-topped streak of
nearly equal pixel values. A column of a pixel region is taken as saturated when

* it has at least ``min_run`` region pixels,
* the median of the differences between consecutive region pixels in that column is below
  ``ratio_limit`` (1 %) of the column's maximum (the original pipeline's test),
* the median of its region pixels is at least half the region's maximum (idem), and
* it holds a run of at least ``min_run`` adjacent pixels within ``flatness`` (10 %) of the
  column's maximum — the plateau itself. The original had no such requirement; without it a
  bright unsaturated star centred between two rows passes the first three tests.

The saturated pixels of such a column are the pixels above the flux threshold that are
connected, along the column, to the column's brightest region pixel.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

__all__ = ["saturated_pixels"]


def _run_around(values: np.ndarray, start: int, keep: np.ndarray) -> tuple[int, int]:
    """Half-open index range of the run of ``keep`` around ``start`` in a 1-D array."""
    lo = start
    while lo > 0 and keep[lo - 1]:
        lo -= 1
    hi = start + 1
    while hi < len(values) and keep[hi]:
        hi += 1
    return lo, hi


def saturated_pixels(
    image: np.ndarray,
    regions: np.ndarray,
    above: np.ndarray,
    *,
    min_run: int = 3,
    ratio_limit: float = 0.01,
    flatness: float = 0.1,
) -> np.ndarray:
    """Pixels belonging to saturated bleed columns of the given regions.

    Parameters
    ----------
    image
        Sum image (e-/s).
    regions
        Integer label image (0 = background) of clusters or masks to examine.
    above
        Boolean image of the pixels above the flux threshold.
    min_run, ratio_limit, flatness
        See the module documentation.

    Returns
    -------
    numpy.ndarray
        Integer image: at each saturated pixel, the label of the region whose column it
        belongs to; 0 elsewhere.
    """
    saturated = np.zeros(image.shape, dtype=np.int32)
    nregions = int(regions.max(initial=0))
    if nregions == 0:
        return saturated
    values = np.where(np.isfinite(image), image, -np.inf)
    index = np.arange(1, nregions + 1)
    region_max = np.asarray(ndimage.maximum(values, regions, index), dtype=np.float64)
    # Cheap pre-selection: a plateau column needs `min_run` region pixels at or above
    # (1 - flatness) × half the region's maximum (the column median must reach half of it).
    floor = np.concatenate([[np.inf], (1.0 - flatness) * 0.5 * region_max])
    bright = (regions > 0) & (values >= floor[regions])
    ncols = image.shape[1]
    rr, cc = np.nonzero(bright)
    keys = regions[rr, cc].astype(np.int64) * ncols + cc
    counts = np.bincount(keys, minlength=(nregions + 1) * ncols)
    for key in np.flatnonzero(counts >= min_run):
        label, col = divmod(int(key), ncols)
        rows = np.flatnonzero(regions[:, col] == label)
        column = values[rows, col]
        colmax = float(column.max())
        if not colmax > 0:
            continue
        if abs(float(np.median(np.diff(column)))) >= ratio_limit * colmax:
            continue
        if float(np.median(column)) < 0.5 * region_max[label - 1]:
            continue
        peak = int(rows[np.argmax(column)])
        full = values[:, col]
        lo, hi = _run_around(full, peak, full >= (1.0 - flatness) * colmax)
        if hi - lo < min_run:
            continue
        lo, hi = _run_around(full, peak, above[:, col])
        saturated[lo:hi, col] = label
    return saturated
