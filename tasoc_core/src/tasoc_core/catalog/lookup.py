"""Fast "which catalog stars fall on this stamp?" for the data-access layer.

The whole catalog of a CCD is projected through the reference WCS once; the pixel positions
are then bucketed on a grid of cells so that a stamp query touches only the cells it
overlaps. A query costs microseconds, against milliseconds for a per-target SQL box query
plus WCS projection (see ``benchmarks/bench_todo.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from astropy.wcs import WCS

from tasoc_core.catalog._sky import angular_distance, radec_to_vector
from tasoc_core.catalog.store import CatalogFile, CatalogStars
from tasoc_core.data.source import Stars
from tasoc_core.data.target import Stamp

__all__ = ["StarsLookup", "make_stars_lookup", "project_stars"]

#: Side of the grid cells, pixels.
_CELL = 16


def project_stars(wcs: WCS, ra: np.ndarray, dec: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """CCD (row, col) of sky positions through ``wcs`` (0-based CCD coordinates).

    Positions where the SIP inversion does not converge, or does not map back onto the
    same sky position within 0.1 arcsec, are NaN.
    """
    ra = np.asarray(ra, dtype=float)
    dec = np.asarray(dec, dtype=float)
    if ra.size == 0:
        return np.zeros(0), np.zeros(0)
    col, row = wcs.all_world2pix(ra, dec, 0, quiet=True, maxiter=50, tolerance=1e-6)
    col = np.asarray(col, dtype=float)
    row = np.asarray(row, dtype=float)
    ok = np.isfinite(col) & np.isfinite(row)
    if np.any(ok):
        ra2, dec2 = wcs.all_pix2world(col[ok], row[ok], 0)
        dra = ((ra2 - ra[ok] + 180.0) % 360.0 - 180.0) * np.cos(np.radians(dec[ok]))
        err = np.hypot(dra, dec2 - dec[ok]) * 3600.0
        bad = np.flatnonzero(ok)[~(err < 0.1)]
        col[bad] = row[bad] = np.nan
    col[~ok] = row[~ok] = np.nan
    return row, col


class StarsLookup:
    """Catalog stars near a stamp, answered from an in-memory grid index.

    Parameters
    ----------
    stars
        The catalog (positions at the reference epoch).
    wcs
        Celestial WCS of the reference frame in 0-based CCD coordinates.

    Notes
    -----
    Call it as ``lookup(stamp, buffer)``: the result holds every star whose position lies
    within ``buffer`` pixels of the stamp's pixel area, i.e. with
    ``row_min - 0.5 - buffer <= row <= row_max - 0.5 + buffer`` and likewise for columns,
    sorted by magnitude (brightest first).
    """

    def __init__(self, stars: CatalogStars, wcs: WCS) -> None:
        row, col = project_stars(wcs, stars.ra, stars.dec)
        ok = np.isfinite(row) & np.isfinite(col)
        cell_r = np.floor(row[ok] / _CELL).astype(np.int64)
        cell_c = np.floor(col[ok] / _CELL).astype(np.int64)
        self._r0 = int(cell_r.min()) if cell_r.size else 0
        self._c0 = int(cell_c.min()) if cell_c.size else 0
        self._ncols = int(cell_c.max() - self._c0 + 1) if cell_c.size else 1
        self._nrows = int(cell_r.max() - self._r0 + 1) if cell_r.size else 1
        key = (cell_r - self._r0) * self._ncols + (cell_c - self._c0)
        order = np.argsort(key, kind="stable")
        self._key = key[order]
        idx = np.flatnonzero(ok)[order]
        self._starid = stars.starid[idx]
        self._tmag = stars.tmag[idx]
        self._ra = stars.ra[idx]
        self._dec = stars.dec[idx]
        self._row = row[idx]
        self._col = col[idx]
        self.wcs = wcs

    def __len__(self) -> int:
        return len(self._starid)

    def __call__(self, stamp: Stamp, buffer: float = 2.0) -> Stars:
        lo_r, hi_r = stamp.row_min - 0.5 - buffer, stamp.row_max - 0.5 + buffer
        lo_c, hi_c = stamp.col_min - 0.5 - buffer, stamp.col_max - 0.5 + buffer
        cr0 = max(int(np.floor(lo_r / _CELL)) - self._r0, 0)
        cr1 = min(int(np.floor(hi_r / _CELL)) - self._r0, self._nrows - 1)
        cc0 = max(int(np.floor(lo_c / _CELL)) - self._c0, 0)
        cc1 = min(int(np.floor(hi_c / _CELL)) - self._c0, self._ncols - 1)
        if cr1 < cr0 or cc1 < cc0:
            return self._take(np.zeros(0, dtype=np.int64))
        # One contiguous run of keys per cell row.
        starts = np.arange(cr0, cr1 + 1) * self._ncols
        lo = np.searchsorted(self._key, starts + cc0, side="left")
        hi = np.searchsorted(self._key, starts + cc1, side="right")
        if len(lo) == 1:
            idx = np.arange(lo[0], hi[0])
        else:
            idx = np.concatenate([np.arange(a, b) for a, b in zip(lo, hi)])
        r, c = self._row[idx], self._col[idx]
        keep = (r >= lo_r) & (r <= hi_r) & (c >= lo_c) & (c <= hi_c)
        idx = idx[keep]
        idx = idx[np.argsort(self._tmag[idx], kind="stable")]
        return self._take(idx)

    def _take(self, idx: np.ndarray) -> Stars:
        return Stars(
            starid=self._starid[idx],
            tmag=self._tmag[idx],
            ra=self._ra[idx],
            dec=self._dec[idx],
            row=self._row[idx],
            col=self._col[idx],
        )


def make_stars_lookup(
    catalog_path: Path, wcs: WCS, *, around: tuple[float, float, float] | None = None
) -> Callable[[Stamp, float], Stars]:
    """Load a catalog file and return ``lookup(stamp, buffer) -> Stars``.

    Parameters
    ----------
    catalog_path
        Catalog SQLite file of the CCD.
    wcs
        WCS in 0-based CCD coordinates: the reference-frame WCS of an FFI cube (for example
        :attr:`tasoc_core.catalog.CCDFootprint.wcs`), or a TPF's own WCS.
    around
        ``(ra, dec, radius)`` in degrees: load only the stars within ``radius`` of that
        position. Use it with a TPF's WCS, which only describes the sky near its stamp.
    """
    with CatalogFile(catalog_path) as catalog:
        if around is None:
            stars = catalog.read_all()
        else:
            ra, dec, radius = (float(v) for v in around)
            cos_dec = np.cos(np.radians(min(abs(dec) + radius, 90.0)))
            half = 180.0 if cos_dec < 1e-6 else min(radius / cos_dec, 180.0)
            stars = catalog.stars_in_box(ra - half, ra + half, dec - radius, dec + radius)
            centre = radec_to_vector(ra, dec)
            near = (
                angular_distance(radec_to_vector(stars.ra, stars.dec).reshape(-1, 3), centre)
                <= radius
            )
            stars = stars.select(near)
    return StarsLookup(stars, wcs)
