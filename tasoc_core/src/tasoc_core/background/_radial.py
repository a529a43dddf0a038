"""Rings around the camera boresight: the geometry of the corner-glow component.

Pixels at least ``start`` pixels from the camera centre are binned into rings ``step``
pixels wide (paper 003 §3.2). Outer rings that hold fewer than ``min_pixels`` pixels (the
tip of the CCD corner) are merged inwards, so every ring has enough pixels for a robust
mode. The ring matrix has one row per ring and one column per pixel slot, padded with
missing values, so ring statistics are the same per-row statistics as tile statistics.
"""

from __future__ import annotations

import attrs
import numpy as np

__all__ = ["RingLayout"]


@attrs.frozen(eq=False)
class RingLayout:
    """Ring membership of the pixels of one image geometry.

    Attributes
    ----------
    pixels
        Flat image indices of the pixels in rings (r ≥ start), ascending.
    radius
        Their distance from the camera centre.
    slots
        (nrings, width) indices into ``pixels`` (−1 for padding): row k lists ring k.
    centres
        Mean radius of the pixels of each ring.
    sizes
        Pixels per ring.
    bbox
        (row slice, col slice) of the smallest rectangle holding all ring pixels.
    """

    pixels: np.ndarray
    radius: np.ndarray
    slots: np.ndarray
    centres: np.ndarray
    sizes: np.ndarray
    bbox: tuple[slice, slice]

    @property
    def nrings(self) -> int:
        return len(self.centres)

    @classmethod
    def build(
        cls, radius: np.ndarray, *, start: float, step: float, min_pixels: int
    ) -> RingLayout | None:
        """Rings of an image whose pixel distances from the centre are ``radius``.

        Returns None when fewer than two rings with ``min_pixels`` pixels fit on the image.
        """
        flat = radius.ravel()
        pixels = np.flatnonzero(flat >= start)
        if len(pixels) < 2 * min_pixels:
            return None
        r = flat[pixels]
        ring = ((r - start) // step).astype(np.int64)
        counts = np.bincount(ring)
        # Merge under-filled outer rings inwards; rings inside are full annuli sections.
        last = len(counts) - 1
        while last > 0 and counts[last] < min_pixels:
            counts[last - 1] += counts[last]
            last -= 1
        ring = np.minimum(ring, last)
        counts = np.bincount(ring, minlength=last + 1)
        keep = counts > 0
        # Renumber so that empty rings (none in practice) do not leave empty rows.
        renumber = np.cumsum(keep) - 1
        ring = renumber[ring]
        counts = counts[keep]
        if len(counts) < 2:
            return None
        centres = np.bincount(ring, weights=r) / counts
        order = np.argsort(ring, kind="stable")
        first = np.concatenate([[0], np.cumsum(counts)[:-1]])
        pos = np.arange(len(ring)) - first[ring[order]]
        slots = np.full((len(counts), int(counts.max())), -1, dtype=np.int64)
        slots[ring[order], pos] = order
        rows, cols = np.divmod(pixels, radius.shape[1])
        bbox = (
            slice(int(rows.min()), int(rows.max()) + 1),
            slice(int(cols.min()), int(cols.max()) + 1),
        )
        return cls(pixels, r, slots, centres, counts, bbox)

    def matrix(self, values: np.ndarray) -> np.ndarray:
        """(nrings, width) matrix of ``values`` (one per ring pixel), NaN-padded."""
        ext = np.empty(len(values) + 1, dtype=values.dtype)
        ext[:-1] = values
        ext[-1] = np.nan
        return ext[self.slots]
