"""A :class:`PixelSource` holding its cubes in memory.

Used by the plugin-author test harness, by unit tests, and by anyone who already has a
cube of images (say from a notebook) and wants to run a tasoc method on it.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

import numpy as np
from astropy.wcs import WCS

from tasoc_core.data.source import Instrument, PixelSource, StampCubes, Stars, Timeline
from tasoc_core.data.target import Stamp
from tasoc_core.exceptions import TargetError
from tasoc_core.flags import TESS_DEFAULT_BITMASK

if TYPE_CHECKING:
    from tasoc_core.prf import PRFModel

__all__ = ["ArraySource"]


class ArraySource(PixelSource):
    """Pixels and metadata given as arrays.

    Parameters
    ----------
    images
        Background-subtracted flux cube (T, H, W), e-/s.
    timeline
        Times, cadence numbers and quality of the T cadences.
    wcs
        Celestial WCS whose pixel coordinates are 0-based CCD coordinates.
    stars
        Catalog of stars on and around the cube; ``row``/``col`` may be NaN and are then
        computed from ``wcs``.
    origin
        CCD (row, col) of ``images[:, 0, 0]``.
    images_err, backgrounds, pixel_flags
        Matching cubes; uncertainties default to Poisson-like sqrt(|flux|)+1 values,
        backgrounds to zero, flags to zero.
    instrument
        Exposure facts; default a 1800-s FFI cadence.
    jitter
        Per-cadence (Δrow, Δcol) of the whole field, shape (T, 2).
    prf
        PRF model of the pixels' camera/CCD, if known.
    """

    def __init__(
        self,
        images: np.ndarray,
        timeline: Timeline,
        wcs: WCS,
        stars: Stars,
        *,
        origin: tuple[int, int] = (0, 44),
        images_err: np.ndarray | None = None,
        backgrounds: np.ndarray | None = None,
        pixel_flags: np.ndarray | None = None,
        instrument: Instrument | None = None,
        jitter: np.ndarray | None = None,
        prf: PRFModel | None = None,
    ) -> None:
        self.prf = prf
        images = np.asarray(images, dtype=np.float32)
        if images.ndim != 3:
            raise ValueError(f"images must be a (T, rows, cols) cube, got shape {images.shape}")
        if images.shape[0] != len(timeline):
            raise ValueError(f"images has {images.shape[0]} cadences, timeline {len(timeline)}")
        self._images = images
        self._err = (
            np.sqrt(np.abs(images)) + 1.0
            if images_err is None
            else np.asarray(images_err, np.float32)
        ).astype(np.float32)
        self._bkg = (
            np.zeros_like(images) if backgrounds is None else np.asarray(backgrounds, np.float32)
        )
        self._flags = (
            np.zeros(images.shape, np.uint8)
            if pixel_flags is None
            else np.asarray(pixel_flags, np.uint8)
        )
        for name, cube in (
            ("images_err", self._err),
            ("backgrounds", self._bkg),
            ("pixel_flags", self._flags),
        ):
            if cube.shape != images.shape:
                raise ValueError(f"{name} has shape {cube.shape}, images {images.shape}")
        self._timeline = timeline
        self._wcs = wcs
        self._origin = (int(origin[0]), int(origin[1]))
        self._instrument = instrument or Instrument(cadence=1800, num_frm=900)
        self._jitter = np.zeros((len(timeline), 2)) if jitter is None else np.asarray(jitter, float)
        row, col = stars.row.copy(), stars.col.copy()
        missing = ~(np.isfinite(row) & np.isfinite(col))
        if missing.any():
            r, c = self.world_to_pixel(stars.ra[missing], stars.dec[missing])
            row[missing], col[missing] = r, c
        self._stars = Stars(stars.starid, stars.tmag, stars.ra, stars.dec, row, col)
        good = (timeline.quality & TESS_DEFAULT_BITMASK) == 0
        with warnings.catch_warnings():  # all-NaN pixels have a NaN mean, on purpose
            warnings.simplefilter("ignore", RuntimeWarning)
            self._sum = np.nanmean(images[good] if good.any() else images, axis=0)

    @property
    def max_stamp(self) -> Stamp:
        h, w = self._images.shape[1:]
        r0, c0 = self._origin
        return Stamp(r0, r0 + h, c0, c0 + w)

    @property
    def timeline(self) -> Timeline:
        return self._timeline

    @property
    def instrument(self) -> Instrument:
        return self._instrument

    @property
    def wcs(self) -> WCS:
        return self._wcs

    def _slices(self, stamp: Stamp) -> tuple[slice, slice]:
        if stamp.clip(self.max_stamp) != stamp:
            raise TargetError(
                f"stamp {stamp.as_tuple()} extends beyond {self.max_stamp.as_tuple()}"
            )
        return stamp.slices(self._origin)

    def read(self, stamp: Stamp) -> StampCubes:
        rs, cs = self._slices(stamp)
        return StampCubes(
            self._images[:, rs, cs],
            self._err[:, rs, cs],
            self._bkg[:, rs, cs],
            self._flags[:, rs, cs],
        )

    def sumimage(self, stamp: Stamp) -> np.ndarray:
        rs, cs = self._slices(stamp)
        return np.array(self._sum[rs, cs])

    def stars(self, stamp: Stamp, buffer: float = 2.0) -> Stars:
        s = self._stars
        inside = (
            (s.row >= stamp.row_min - 0.5 - buffer)
            & (s.row <= stamp.row_max - 0.5 + buffer)
            & (s.col >= stamp.col_min - 0.5 - buffer)
            & (s.col <= stamp.col_max - 0.5 + buffer)
        )
        return s.select(inside)

    def world_to_pixel(self, ra: np.ndarray, dec: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        col, row = self._wcs.all_world2pix(np.atleast_1d(ra), np.atleast_1d(dec), 0)
        return np.asarray(row, float), np.asarray(col, float)

    def jitter(self, row: float, col: float) -> np.ndarray:
        return self._jitter
