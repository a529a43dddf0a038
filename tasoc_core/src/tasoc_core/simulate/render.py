"""Pixel-level rendering helpers: scatter star stamps, bleed saturated charge, add noise."""

from __future__ import annotations

import numpy as np

from tasoc_core.simulate.writers import FULL_WELL

__all__ = ["SATURATION_RATE", "bleed", "flat_indices"]

#: Pixel rate (e-/s) at which a 1.98-s integration reaches the full well.
SATURATION_RATE = FULL_WELL / 1.98


def flat_indices(
    rows: np.ndarray, cols: np.ndarray, origin: tuple[int, int], shape: tuple[int, int]
) -> np.ndarray:
    """Flat indices into an image of ``shape`` starting at CCD ``origin``; −1 outside."""
    r = np.asarray(rows) - origin[0]
    c = np.asarray(cols) - origin[1]
    inside = (r >= 0) & (r < shape[0]) & (c >= 0) & (c < shape[1])
    return np.where(inside, r * shape[1] + c, -1)


def bleed(
    cube: np.ndarray, columns: np.ndarray | None = None, well: float = SATURATION_RATE
) -> int:
    """Spread charge above the full well along columns, conserving it (in place).

    Charge in excess of ``well`` in a column is moved out of the saturated run, half up
    and half down the column, filling each pixel to the well before moving on; charge
    reaching the end of the array is lost (it leaves the CCD). Vectorised over leading
    axes.

    Parameters
    ----------
    cube
        (…, rows, cols) rates in e-/s (one frame or a time series of stamps).
    columns
        Column indices to treat (default: all).

    Returns
    -------
    int
        Number of saturated pixels before bleeding.
    """
    cols = np.arange(cube.shape[-1]) if columns is None else np.asarray(columns)
    if cols.size == 0:
        return 0
    v = cube[..., cols]
    over = v > well
    n_sat = int(np.count_nonzero(over))
    if n_sat == 0:
        return 0
    nrow = v.shape[-2]
    has = over.any(axis=-2)  # (..., ncols)
    lo = np.argmax(over, axis=-2)
    hi = nrow - 1 - np.argmax(over[..., ::-1, :], axis=-2)
    excess = np.where(over, v - well, 0.0).sum(axis=-2)
    v = np.where(over, well, v)
    rows = np.arange(nrow).reshape((1,) * (v.ndim - 2) + (nrow, 1))
    half = 0.5 * excess[..., None, :]
    # Upwards (rows above the run): fill in order of increasing row.
    up = (rows > hi[..., None, :]) & has[..., None, :]
    cap = np.where(up, np.clip(well - v, 0.0, None), 0.0)
    before = np.cumsum(cap, axis=-2) - cap
    v = v + np.where(up, np.clip(half - before, 0.0, cap), 0.0)
    # Downwards (rows below the run): fill in order of decreasing row.
    down = (rows < lo[..., None, :]) & has[..., None, :]
    cap = np.where(down, np.clip(well - v, 0.0, None), 0.0)
    before = np.flip(np.cumsum(np.flip(cap, axis=-2), axis=-2), axis=-2) - cap
    v = v + np.where(down, np.clip(half - before, 0.0, cap), 0.0)
    cube[..., cols] = v
    return n_sat
