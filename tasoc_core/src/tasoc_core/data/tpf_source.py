"""A :class:`PixelSource` over a target pixel file: SPOC TPFs and TESScut/astrocut cutouts.

SPOC TPFs carry background-subtracted flux and SPOC's background. TESScut cutouts are raw
calibrated FFI pixels (``FLUX_BKG`` is zero), so a background is estimated here per cadence
from the faintest pixels of the cutout (see :func:`_cutout_background`).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS, FITSFixedWarning

from tasoc_core.data.source import Instrument, PixelSource, StampCubes, Stars, Timeline
from tasoc_core.data.target import Stamp, Target
from tasoc_core.exceptions import InputFileError, TargetError
from tasoc_core.flags import TESS_DEFAULT_BITMASK
from tasoc_core.timing import SpiceKernels, rebarycentre
from tasoc_core.timing.offsets import time_offsets
from tasoc_core.wcs import shift_wcs

__all__ = ["TPFSource", "empty_stars"]

logger = logging.getLogger(__name__)

StarsLookup = Callable[[Stamp, float], Stars]


def empty_stars() -> Stars:
    """A catalog with no stars."""
    nothing = np.zeros(0)
    return Stars(nothing, nothing, nothing, nothing, nothing, nothing)


def _cutout_background(flux: np.ndarray, fraction: float = 0.25) -> np.ndarray:
    """Per-cadence sky level of a cutout: the median of its faintest pixels.

    The faintest quarter of the pixels of the time-averaged image is taken as sky; their
    per-cadence median is the background per pixel. Crude for tiny or crowded cutouts, which
    is why SPOC TPFs keep SPOC's own background instead.
    """
    mean_image = np.nanmedian(flux, axis=0)
    finite = np.isfinite(mean_image)
    if not finite.any():
        return np.zeros(len(flux))
    cut = np.nanquantile(mean_image[finite], fraction)
    sky = finite & (mean_image <= cut)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        level = np.nanmedian(flux[:, sky], axis=1)
    return np.where(np.isfinite(level), level, 0.0)


def _mean_of_outputs(header: fits.Header, prefix: str, default: float) -> float:
    """Mean of a per-output keyword over CCD outputs A–D (the original used output A only)."""
    values = [float(header[f"{prefix}{c}"]) for c in "ABCD" if f"{prefix}{c}" in header]
    return float(np.mean(values)) if values else default


_COLUMN_WCS_KEYS = (
    ("CTYP", "CTYPE"),
    ("CRPX", "CRPIX"),
    ("CRVL", "CRVAL"),
    ("CDLT", "CDELT"),
    ("CUNI", "CUNIT"),
)


def _column_wcs_header(h1: fits.Header, n: int) -> fits.Header:
    """Plain WCS header from the pixel column's keys (1CTYP5, 1CRPX5, 11PC5, …)."""
    header = fits.Header()
    for axis in (1, 2):
        for src, dst in _COLUMN_WCS_KEYS:
            if f"{axis}{src}{n}" in h1:
                header[f"{dst}{axis}"] = h1[f"{axis}{src}{n}"]
    for i in (1, 2):
        for j in (1, 2):
            if f"{i}{j}PC{n}" in h1:
                header[f"PC{i}_{j}"] = h1[f"{i}{j}PC{n}"]
    return header


class TPFSource(PixelSource):
    """Pixels, times and metadata of one TPF or TESScut cutout.

    Parameters
    ----------
    path
        The FITS file.
    stars_lookup
        Callable returning catalog stars within a buffer (pixels) of a stamp; None gives an
        empty catalog.

    Raises
    ------
    InputFileError
        If the file is missing, unreadable, or not a TPF.
    """

    def __init__(self, path: Path, *, stars_lookup: StarsLookup | None = None) -> None:
        self.path = Path(path)
        self.stars_lookup = stars_lookup
        #: Loaded SPICE kernels; when set, a TESScut cutout's times are barycentred for the
        #: target (SPOC's own TPFs already are).
        self.kernels: SpiceKernels | None = None
        # astropy reports a truncated file as a warning before failing on the missing bytes:
        # kept for the error message (and never raised mid-read by a strict warning filter).
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                with fits.open(self.path, memmap=False) as hdul:
                    self._load(hdul)
            except InputFileError:
                raise
            except FileNotFoundError:
                raise InputFileError(f"{self.path}: file not found") from None
            except (OSError, ValueError, KeyError, TypeError, IndexError) as exc:
                why = "; ".join(dict.fromkeys([str(exc), *(str(w.message) for w in caught)]))
                raise InputFileError(
                    f"{self.path}: not a readable target pixel file ({why})"
                ) from None
        for w in caught:  # a file that loaded: its warnings go on as they came
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)

    def _load(self, hdul: fits.HDUList) -> None:
        if len(hdul) < 2 or not isinstance(hdul[1], fits.BinTableHDU):
            raise InputFileError(f"{self.path}: extension 1 is not a pixel table")
        header0, header1 = hdul[0].header, hdul[1].header
        table = hdul[1].data
        names = [n.upper() for n in table.columns.names]
        for required in ("TIME", "FLUX", "QUALITY"):
            if required not in names:
                raise InputFileError(f"{self.path}: pixel table has no {required} column")
        flux_col = names.index("FLUX") + 1
        keep = np.isfinite(np.asarray(table["TIME"], dtype=float))
        if not keep.any():
            raise InputFileError(f"{self.path}: no cadence has a finite TIME")
        flux = np.asarray(table["FLUX"], dtype=np.float32)[keep]
        if flux.ndim != 3:
            raise InputFileError(
                f"{self.path}: FLUX has shape {flux.shape}, expected (T, rows, cols)"
            )
        self._cutout = "stsci" in str(header0.get("ORIGIN", "")).lower() or "FFI_FILE" in names

        def column(name: str, default: float = 0.0) -> np.ndarray:
            if name in names:
                return np.asarray(table[name])[keep]
            return np.full(keep.sum(), default)

        self._flux = flux
        self._err = column("FLUX_ERR", np.nan).astype(np.float32).reshape(flux.shape)
        if self._cutout:
            sky = _cutout_background(flux)
            self._bkg = np.broadcast_to(sky[:, None, None], flux.shape).astype(np.float32)
            self._flux = flux - self._bkg
        else:
            self._bkg = column("FLUX_BKG").astype(np.float32).reshape(flux.shape)
        self._pos_corr = np.stack([column("POS_CORR2"), column("POS_CORR1")], axis=1).astype(float)
        cadenceno = column("CADENCENO").astype(np.int64)
        if len(cadenceno) and np.all(cadenceno == cadenceno[0]):  # TESScut writes 0 everywhere
            cadenceno = np.arange(len(cadenceno), dtype=np.int64)
        self._timeline = Timeline(
            column("TIME"), column("TIMECORR"), cadenceno, column("QUALITY").astype(np.int32)
        )
        col0 = int(header1.get(f"1CRV{flux_col}P", header1.get("1CRV4P", 1))) - 1
        row0 = int(header1.get(f"2CRV{flux_col}P", header1.get("2CRV4P", 1))) - 1
        self._origin = (row0, col0)
        self._wcs = self._read_wcs(hdul, flux_col)
        self._aperture = (
            np.asarray(hdul[2].data, dtype=np.int32)
            if len(hdul) > 2 and hdul[2].data is not None and hdul[2].data.shape == flux.shape[1:]
            else None
        )
        self.header = header0.copy()
        self.header.update(header1)
        timedel = float(header1.get("TIMEDEL", np.nanmedian(np.diff(self._timeline.time))))
        cadence = round(timedel * 86400.0)
        self._instrument = Instrument(
            cadence=cadence,
            num_frm=int(header1.get("NUM_FRM", cadence // 2)),
            readnoise=_mean_of_outputs(header1, "READNOI", 10.0),
            gain=_mean_of_outputs(header1, "GAIN", 5.2),
            nreadout=int(header1["NREADOUT"]) if "NREADOUT" in header1 else None,
            crmiten=bool(header0.get("CRMITEN", True)),
            crblksz=int(header0.get("CRBLKSZ", 10)),
            data_rel=int(header0.get("DATA_REL", 0) or 0),
            procver=str(header0.get("PROCVER", "")),
        )
        good = (self._timeline.quality & TESS_DEFAULT_BITMASK) == 0
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            self._sum = np.nanmean(self._flux[good] if good.any() else self._flux, axis=0)

    def _read_wcs(self, hdul: fits.HDUList, flux_col: int) -> WCS | None:
        header = None
        if len(hdul) > 2 and "CTYPE1" in hdul[2].header:
            header = hdul[2].header
        elif f"1CTYP{flux_col}" in hdul[1].header:
            header = _column_wcs_header(hdul[1].header, flux_col)
        if header is None:
            return None
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FITSFixedWarning)
                wcs = WCS(header, relax=True).celestial
        except Exception as exc:
            logger.warning("%s: unusable WCS (%s)", self.path, exc)
            return None
        if not wcs.has_celestial:
            return None
        return shift_wcs(wcs, *self._origin)

    # -- PixelSource ------------------------------------------------------------------------

    @property
    def max_stamp(self) -> Stamp:
        rows, cols = self._flux.shape[1:]
        r0, c0 = self._origin
        return Stamp(r0, r0 + rows, c0, c0 + cols)

    @property
    def timeline(self) -> Timeline:
        return self._timeline

    @property
    def instrument(self) -> Instrument:
        return self._instrument

    @property
    def wcs(self) -> WCS | None:
        return self._wcs

    @property
    def is_cutout(self) -> bool:
        """True for a TESScut/astrocut cutout (background estimated here)."""
        return self._cutout

    def _slices(self, stamp: Stamp) -> tuple[slice, slice]:
        if stamp.clip(self.max_stamp) != stamp:
            raise TargetError(f"{self.path.name}: stamp {stamp.as_tuple()} extends beyond the TPF")
        return stamp.slices(self._origin)

    def read(self, stamp: Stamp) -> StampCubes:
        rs, cs = self._slices(stamp)
        flags = np.zeros(self._flux[:, rs, cs].shape, dtype=np.uint8)
        return StampCubes(self._flux[:, rs, cs], self._err[:, rs, cs], self._bkg[:, rs, cs], flags)

    def sumimage(self, stamp: Stamp) -> np.ndarray:
        rs, cs = self._slices(stamp)
        return np.array(self._sum[rs, cs])

    def stars(self, stamp: Stamp, buffer: float = 2.0) -> Stars:
        return empty_stars() if self.stars_lookup is None else self.stars_lookup(stamp, buffer)

    def world_to_pixel(self, ra: np.ndarray, dec: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self._wcs is None:
            raise TargetError(f"{self.path.name}: no WCS to locate stars")
        col, row = self._wcs.all_world2pix(np.atleast_1d(ra), np.atleast_1d(dec), 0)
        return np.asarray(row, float), np.asarray(col, float)

    def target_times(self, target: Target) -> tuple[np.ndarray, np.ndarray]:
        """SPOC's per-target times, with SPOC's time-offset fix where the release needs it.

        A TESScut cutout carries its FFIs' times (TSTART/TSTOP), so it gets the FFI fix,
        staggered readout included, and — with :attr:`kernels` set — the FFIs' frame-centre
        barycentric correction replaced by the target's own, as for FFI targets.
        """
        offsets = time_offsets(
            self._instrument.data_rel, self._instrument.procver,
            camera=target.camera, ccd=target.ccd, ffi=self._cutout, source=str(self.path),
        )  # fmt: skip
        time = self._timeline.time + offsets.mid / 86400.0
        if not self._cutout or self.kernels is None:
            return time, self._timeline.timecorr
        return rebarycentre(time, self._timeline.timecorr, target.ra, target.dec, self.kernels)

    def jitter(self, row: float, col: float) -> np.ndarray:
        offsets = np.nan_to_num(self._pos_corr)
        return offsets - np.median(offsets, axis=0)

    def aperture_flags(self, stamp: Stamp) -> np.ndarray:
        if self._aperture is None:
            return super().aperture_flags(stamp)
        rs, cs = self._slices(stamp)
        # SPOC's optimal-aperture (2) and centroid (8) bits describe SPOC's photometry.
        return self._aperture[rs, cs] & ~np.int32(2 | 8)
