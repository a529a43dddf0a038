"""A :class:`PixelSource` reading the HDF5 cube file written by ``tasoc prepare``.

The file (layout in ``docs/prepare.md``) holds time-first (T, rows, cols) cubes chunked so
that a stamp read touches only the chunks under the stamp. The source keeps the file open
read-only for its lifetime (reopened lazily after pickling, so it can be sent to worker
processes), reads the small per-frame tables once, and reads pixels per stamp on demand.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import h5py
import numpy as np
from astropy.io import fits
from astropy.wcs import WCS, FITSFixedWarning

from tasoc_core.data.source import Instrument, PixelSource, StampCubes, Stars, Timeline
from tasoc_core.data.target import Stamp, Target
from tasoc_core.data.tpf_source import StarsLookup, empty_stars
from tasoc_core.exceptions import InputFileError, TargetError
from tasoc_core.timing import SpiceKernels, rebarycentre
from tasoc_core.timing.offsets import time_offsets

__all__ = ["HDF5Source", "StarsLookup"]


_FORMAT = "tasoc-prepare"
_MAX_VERSION = 1
_CUBES = ("images", "images_err", "backgrounds", "pixel_flags")


class HDF5Source(PixelSource):
    """Stamps, times and pointing of one sector/camera/CCD from a prepare HDF5 file.

    Parameters
    ----------
    path
        The ``sector{SSS}_camera{C}_ccd{D}.hdf5`` file.
    stars_lookup
        Called as ``stars_lookup(stamp, buffer)`` to get the catalog stars around a stamp
        (the catalog lives in its own file, owned by the caller; also settable later as
        the attribute ``stars_lookup``). Without it :meth:`stars` returns an empty table.

    Raises
    ------
    InputFileError
        If the file is missing, unreadable, incomplete or of an unknown format version.
    """

    def __init__(self, path: Path, *, stars_lookup: StarsLookup | None = None) -> None:
        self.path = Path(path)
        #: Catalog lookup used by :meth:`stars`; may be set after construction.
        self.stars_lookup = stars_lookup
        self._file: h5py.File | None = None
        self._datasets: tuple[h5py.Dataset, ...] | None = None
        f = self._h5()
        a = f.attrs
        if a.get("format") != _FORMAT:
            raise InputFileError(
                f"{self.path}: not a tasoc prepare file (format {a.get('format')!r})"
            )
        version = int(a.get("format_version", -1))
        if version > _MAX_VERSION:
            raise InputFileError(
                f"{self.path}: format version {version} is newer than this tasoc reads ({_MAX_VERSION})"
            )
        if not bool(a.get("complete", False)):
            raise InputFileError(f"{self.path}: the file is incomplete (prepare did not finish)")
        self.sector, self.camera, self.ccd = int(a["sector"]), int(a["camera"]), int(a["ccd"])
        self.reference_frame = int(a["reference_frame"])
        self._origin = (int(a["origin"][0]), int(a["origin"][1]))
        self._shape = (int(a["shape"][0]), int(a["shape"][1]))
        self._timeline = Timeline(
            f["time"][()], f["timecorr"][()], f["cadenceno"][()], f["quality"][()]
        )
        self._keywords: dict[str, Any] = json.loads(a.get("keywords", "{}"))
        self._cadence = int(a["cadence"])
        self._pointing = np.asarray(f["pointing"][()], dtype=float)
        self._wcs = self._read_wcs(f["wcs"].asstr()[self.reference_frame])
        self.bad_frame = np.asarray(f["bad_frame"][()], dtype=bool)
        self._offset_corrected = bool(a.get("time_offset_corrected", False))
        #: Loaded SPICE kernels; when set, :meth:`target_times` barycentres for each target.
        self.kernels: SpiceKernels | None = None

    # -- file handling ----------------------------------------------------------------------

    def _h5(self) -> h5py.File:
        if self._file is None:
            try:
                self._file = h5py.File(self.path, "r")
            except (OSError, FileNotFoundError) as exc:
                raise InputFileError(f"{self.path}: cannot open prepare file ({exc})") from None
        return self._file

    def close(self) -> None:
        """Close the file (it is reopened if the source is used again)."""
        self._datasets = None
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> HDF5Source:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_file"] = None
        state["_datasets"] = None
        return state

    def _read_wcs(self, text: str) -> WCS:
        if not text:
            raise InputFileError(
                f"{self.path}: the reference frame {self.reference_frame} has no WCS"
            )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FITSFixedWarning)
            return WCS(fits.Header.fromstring(text), relax=True)

    # -- PixelSource ------------------------------------------------------------------------

    @property
    def max_stamp(self) -> Stamp:
        r0, c0 = self._origin
        return Stamp(r0, r0 + self._shape[0], c0, c0 + self._shape[1])

    @property
    def timeline(self) -> Timeline:
        return self._timeline

    @property
    def instrument(self) -> Instrument:
        k = self._keywords
        return Instrument(
            cadence=self._cadence,
            num_frm=int(k.get("NUM_FRM", round(self._cadence / 2.0))),
            readnoise=float(k.get("readnoise", 10.0)),
            gain=float(k.get("gain", 5.2)),
            nreadout=int(k["NREADOUT"]) if "NREADOUT" in k else None,
            crmiten=bool(k.get("CRMITEN", True)),
            crblksz=int(k.get("CRBLKSZ", 10)),
            data_rel=int(k.get("DATA_REL", 0)),
            procver=str(k.get("PROCVER", "")),
        )

    @property
    def wcs(self) -> WCS:
        return self._wcs

    def _slices(self, stamp: Stamp) -> tuple[slice, slice]:
        if stamp.clip(self.max_stamp) != stamp:
            raise TargetError(
                f"stamp {stamp.as_tuple()} extends beyond the pixels of {self.path.name} {self.max_stamp.as_tuple()}"
            )
        return stamp.slices(self._origin)

    def read(self, stamp: Stamp) -> StampCubes:
        rs, cs = self._slices(stamp)
        return StampCubes(*(cube[:, rs, cs] for cube in self._cubes()))

    def _cubes(self) -> tuple[h5py.Dataset, ...]:
        if self._datasets is None or self._file is None:
            f = self._h5()
            self._datasets = tuple(f[name] for name in _CUBES)
        return self._datasets

    def sumimage(self, stamp: Stamp) -> np.ndarray:
        rs, cs = self._slices(stamp)
        return np.asarray(self._h5()["sumimage"][rs, cs], dtype=np.float64)

    def stars(self, stamp: Stamp, buffer: float = 2.0) -> Stars:
        return empty_stars() if self.stars_lookup is None else self.stars_lookup(stamp, buffer)

    def world_to_pixel(self, ra: np.ndarray, dec: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            col, row = self._wcs.all_world2pix(
                np.atleast_1d(ra), np.atleast_1d(dec), 0, maxiter=50, quiet=True
            )
        return np.asarray(row, dtype=float), np.asarray(col, dtype=float)

    def target_times(self, target: Target) -> tuple[np.ndarray, np.ndarray]:
        """Times for ``target``: SPOC's time-offset fix where due, then its own barycentring.

        SPOC barycentred FFI times at one reference point of the CCD; with :attr:`kernels`
        set the correction is undone and redone for the target's position (and proper
        motion, which the catalog already applied). Without kernels the frame's times are
        returned unchanged.
        """
        time, timecorr = self._timeline.time, self._timeline.timecorr
        if not self._offset_corrected:
            offsets = time_offsets(
                self._keywords.get("DATA_REL", 99), self._keywords.get("PROCVER"),
                camera=self.camera, ccd=self.ccd, ffi=True, source=str(self.path),
            )  # fmt: skip
            time = time + offsets.mid / 86400.0
        if self.kernels is None:
            return time, timecorr
        return rebarycentre(time, timecorr, target.ra, target.dec, self.kernels)

    def jitter(self, row: float, col: float) -> np.ndarray:
        """Per-cadence (Δrow, Δcol) of reference-frame position (row, col).

        From the per-frame affine pointing transforms; frames without one (no usable WCS)
        are interpolated linearly in time from their neighbours, ends held.
        """
        pos = self._pointing @ np.array([row, col, 1.0])
        shift = pos - np.array([row, col])
        ok = np.isfinite(shift).all(axis=1)
        if ok.all():
            return shift
        if not ok.any():
            return np.zeros_like(shift)
        t = self._timeline.time
        for axis in (0, 1):
            shift[~ok, axis] = np.interp(t[~ok], t[ok], shift[ok, axis])
        return shift

    # -- extras -----------------------------------------------------------------------------

    def footprint(self) -> np.ndarray:
        """(4, 2) RA, Dec (degrees) of the corners of the pixel area, at the reference frame."""
        s = self.max_stamp
        rows = np.array([s.row_min, s.row_min, s.row_max - 1, s.row_max - 1], dtype=float)
        cols = np.array([s.col_min, s.col_max - 1, s.col_max - 1, s.col_min], dtype=float)
        ra, dec = self._wcs.all_pix2world(cols, rows, 0)
        return np.column_stack([ra, dec])

    def __repr__(self) -> str:
        return f"HDF5Source({str(self.path)!r}, sector={self.sector}, camera={self.camera}, ccd={self.ccd})"
