"""The least-squares plane through each tile's kept pixels, read at the tile centre.

A tile's clipped mean belongs to the centroid of the pixels it averages, not to the tile
centre where the grid puts it. Where a star's mask takes out one side of a tile the two
differ by several pixels, and under a sky gradient (scattered light: up to 0.04 e-/s per
pixel in the simulated sectors, changing with the Earth's and Moon's angles) the mean is
then off by tenths of an e-/s, by an amount that follows the scattered light from cadence
to cadence. A plane fitted to the same pixels and read at the centre has no such error
(for a plane sky) and the same noise when the kept pixels are spread evenly.
"""

from __future__ import annotations

import functools

import numpy as np

__all__ = ["plane_at_centres"]

# Fewer kept pixels than this, or kept pixels too nearly on a line: the mean is used.
_MIN_PIXELS = 12
_MIN_SPREAD = 1e-6


@functools.lru_cache(maxsize=8)
def _basis(box: int) -> np.ndarray:
    """(box², 6) products 1, u, v, u², v², u·v of the pixel offsets from the box centre."""
    u, v = np.divmod(np.arange(box * box, dtype=np.float64), box)
    u -= (box - 1) / 2.0
    v -= (box - 1) / 2.0
    basis = np.column_stack([np.ones_like(u), u, v, u * u, v * v, u * v])
    basis.setflags(write=False)
    return basis


def plane_at_centres(
    tiles: np.ndarray, keep: np.ndarray, centres: np.ndarray, box: int
) -> np.ndarray:
    """Value at each tile's centre of the least-squares plane through its kept pixels.

    Parameters
    ----------
    tiles
        Tile matrix (ntiles, box²), pixels row-major within the tile.
    keep
        Boolean (ntiles, box²): the pixels to fit (finite, unmasked, not clipped).
    centres
        (ntiles, 2) offsets (rows, cols) of each tile's centre from the centre of a full
        box (zero except for partial tiles at the image edge).
    box
        Tile size.

    Returns
    -------
    numpy.ndarray
        (ntiles,) values; NaN where a tile keeps no pixel, the mean where too few pixels or
        a degenerate spread leave the gradient undetermined.
    """
    basis = _basis(box)
    mean, mu, mv, gu, gv, n = _fit(tiles, keep, basis)
    value = mean + gu * (centres[:, 0] - mu) + gv * (centres[:, 1] - mv)
    return np.where(n > 0, value, np.nan)


def _fit(tiles: np.ndarray, keep: np.ndarray, basis: np.ndarray) -> tuple[np.ndarray, ...]:
    """Per tile: mean and centroid (u, v) of the kept pixels, the plane's gradient, count."""
    # float64: the gradient comes from small differences of large sums.
    moments = keep.astype(np.float64) @ basis  # n, Σu, Σv, Σu², Σv², Σuv
    rhs = np.where(keep, tiles, 0.0).astype(np.float64, copy=False) @ basis[:, :3]  # Σz, Σuz, Σvz
    n = moments[:, 0]
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = rhs[:, 0] / n
        mu, mv = moments[:, 1] / n, moments[:, 2] / n
        # Centred second moments and cross products: the gradient's normal equations.
        suu = moments[:, 3] / n - mu * mu
        svv = moments[:, 4] / n - mv * mv
        suv = moments[:, 5] / n - mu * mv
        suz = rhs[:, 1] / n - mu * mean
        svz = rhs[:, 2] / n - mv * mean
        det = suu * svv - suv * suv
        ok = (n >= _MIN_PIXELS) & (det > _MIN_SPREAD * np.maximum(suu * svv, _MIN_SPREAD))
        gu = np.where(ok, (svv * suz - suv * svz) / det, 0.0)
        gv = np.where(ok, (suu * svz - suv * suz) / det, 0.0)
    return mean, mu, mv, gu, gv, n
