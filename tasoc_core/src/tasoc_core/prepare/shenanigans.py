"""Flags for sharp background features ("background shenanigans", paper 003 §3.2).

A lens flare or a moving glint is too sharp for the 64-px background tiles, so it stays in
the background-subtracted image. Per frame, the difference to the sum image (the mean
background-subtracted image) is median-filtered over ``box × box`` pixels, which removes
stars and other small-scale variability; pixels whose filtered difference departs by more
than the threshold (40 e-/s by default) from its typical value over the sector are flagged.

The median filter is evaluated on a grid of non-overlapping ``box × box`` blocks (the
value of a ``box × box`` moving median at the block centres) and interpolated bilinearly
between block centres. A full-resolution 15×15 moving median costs several seconds per
2048² frame (scipy); the block version costs a few milliseconds and resolves the same
scales, since the filter output is smooth on the scale of the box anyway. The typical
value is the per-block median over the good frames (the original averaged the medians
of random groups of 25 frames, which estimates the same thing).
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import map_coordinates

__all__ = ["block_medians", "expand_blocks", "shenanigans_mask"]


def block_medians(image: np.ndarray, box: int) -> np.ndarray:
    """Median of every ``box × box`` block of ``image`` (NaN ignored; NaN if all NaN).

    Partial blocks at the bottom and right edges use the pixels they have.
    """
    h, w = image.shape
    ny, nx = -(-h // box), -(-w // box)
    padded = np.full((ny * box, nx * box), np.nan, dtype=np.float32)
    padded[:h, :w] = image
    blocks = np.ascontiguousarray(padded.reshape(ny, box, nx, box).transpose(0, 2, 1, 3)).reshape(
        ny * nx, box * box
    )
    blocks.sort(axis=1)  # NaN last
    n = np.count_nonzero(~np.isnan(blocks), axis=1)
    rows = np.arange(len(blocks))
    a = np.maximum((n - 1) // 2, 0)
    b = np.maximum(n // 2, 0)
    med = 0.5 * (blocks[rows, a] + blocks[rows, b])
    med[n == 0] = np.nan
    return med.reshape(ny, nx).astype(np.float32)


def expand_blocks(
    grid: np.ndarray, shape: tuple[int, int], box: int, rows: slice, cols: slice
) -> np.ndarray:
    """Bilinear interpolation of block values (at block centres) to pixels ``[rows, cols]``.

    Outside the outermost block centres the edge values are held.
    """
    r = (np.arange(rows.start, rows.stop) - (box - 1) / 2.0) / box
    c = (np.arange(cols.start, cols.stop) - (box - 1) / 2.0) / box
    rr, cc = np.meshgrid(
        np.clip(r, 0, grid.shape[0] - 1), np.clip(c, 0, grid.shape[1] - 1), indexing="ij"
    )
    return map_coordinates(np.nan_to_num(grid, nan=0.0), [rr, cc], order=1, mode="nearest")


def shenanigans_mask(
    deviation: np.ndarray, shape: tuple[int, int], box: int, threshold: float
) -> np.ndarray | None:
    """Pixels whose interpolated block deviation exceeds ``threshold`` in absolute value.

    ``deviation`` holds per-block (filtered difference − typical value). Returns None when
    nothing is flagged; only the region around suspicious blocks is interpolated.
    """
    dev = np.nan_to_num(np.abs(deviation), nan=0.0)
    # Bilinear interpolation never exceeds its corner values, so blocks below the
    # threshold everywhere around cannot produce flags.
    hot = np.argwhere(dev > threshold)
    if len(hot) == 0:
        return None
    (r0, c0), (r1, c1) = hot.min(axis=0) - 1, hot.max(axis=0) + 2
    r0, c0 = max(r0, 0), max(c0, 0)
    rows = slice(r0 * box, min(r1 * box, shape[0]))
    cols = slice(c0 * box, min(c1 * box, shape[1]))
    values = expand_blocks(deviation, shape, box, rows, cols)
    mask = np.zeros(shape, dtype=bool)
    mask[rows, cols] = np.abs(values) > threshold
    return mask if mask.any() else None
