"""Reading SPOC calibrated full-frame images.

A SPOC FFI has a header-only primary HDU, the calibrated image (extension 1, e-/s) and its
uncertainty (extension 2), 2078 rows × 2136 columns with science pixels at rows 0–2047 and
columns 44–2091. tasoc also reads *sub-frame* FFIs (written by the simulator for small
profiles): a smaller image holding science pixels only, whose first pixel sits at CCD
column ``CRVAL1P`` and row ``CRVAL2P`` (1-based physical WCS, as in TPFs).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import attrs
import numpy as np
from astropy.io import fits
from astropy.wcs import WCS, FITSFixedWarning, Sip

from tasoc_core.data.target import SCIENCE_COLUMNS, SCIENCE_ROWS, Stamp
from tasoc_core.exceptions import InputFileError

__all__ = ["FULL_SHAPE", "FFIFrame", "FFIHeader", "read_ffi", "read_ffi_header"]

#: Shape (rows, cols) of a full SPOC FFI image extension.
FULL_SHAPE = (2078, 2136)

# Cadence numbers of early sectors (no FFIINDEX) follow from the first 30-min FFI of
# sector 1 (cadence 4697); see tasoc_reference.md §4.1.
_FFIINDEX_T0 = 0.5 * (1325.317007851970 + 1325.337841177751) - 3.9072474e-3
_FFIINDEX_0 = 4697


@attrs.frozen
class FFIHeader:
    """What tasoc needs from an FFI's headers.

    Attributes
    ----------
    path
        The file.
    camera, ccd
        Camera and CCD.
    tstart, tstop, time
        Start, stop and mid time, BTJD (barycentred at the frame reference point by SPOC).
    barycorr
        The barycentric correction SPOC applied (days).
    quality
        DQUALITY bits.
    cadenceno
        FFIINDEX (derived for early sectors without it).
    origin
        CCD (row, col) of the image's pixel [0, 0].
    science
        The science pixels held in the image, in CCD coordinates.
    wcs
        Celestial WCS in CCD pixel coordinates, or None if the header has no usable WCS.
    header
        Primary and extension-1 headers merged (extension 1 wins).
    """

    path: Path
    camera: int
    ccd: int
    tstart: float
    tstop: float
    barycorr: float
    quality: int
    cadenceno: int
    origin: tuple[int, int]
    science: Stamp
    wcs: WCS | None
    header: fits.Header = attrs.field(repr=False)

    @property
    def time(self) -> float:
        return 0.5 * (self.tstart + self.tstop)

    @property
    def exposure_days(self) -> float:
        return self.tstop - self.tstart


@attrs.frozen
class FFIFrame:
    """An FFI's science pixels: image and uncertainty, shape of ``header.science``."""

    header: FFIHeader
    image: np.ndarray
    uncertainty: np.ndarray


def _ccd_wcs(header: fits.Header, origin: tuple[int, int], path: Path) -> WCS | None:
    if "CTYPE1" not in header or "CRVAL1" not in header:
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FITSFixedWarning)
            wcs = WCS(header, relax=True)
    except Exception:
        return None
    if not wcs.has_celestial:
        return None
    wcs = wcs.celestial
    # Image pixel (x, y) = CCD (col - col0, row - row0): shift the reference pixel. SIP
    # distortions are polynomials about CRPIX and keep their own copy of it.
    wcs.wcs.crpix = [wcs.wcs.crpix[0] + origin[1], wcs.wcs.crpix[1] + origin[0]]
    if wcs.sip is not None:
        wcs.sip = Sip(wcs.sip.a, wcs.sip.b, wcs.sip.ap, wcs.sip.bp, wcs.wcs.crpix)
    return wcs


def _header_value(header: fits.Header, key: str, path: Path, default: object = None) -> object:
    if key in header:
        return header[key]
    if default is not None:
        return default
    raise InputFileError(f"{path}: header keyword {key} is missing")


def read_ffi_header(path: Path, *, hdul: fits.HDUList | None = None) -> FFIHeader:
    """Read the headers of an FFI.

    Raises
    ------
    InputFileError
        If the file cannot be opened, has no image extension, or lacks a required keyword.
    """
    path = Path(path)
    try:
        own = hdul is None
        hdul = fits.open(path, memmap=False, lazy_load_hdus=False) if own else hdul
    except (OSError, ValueError) as exc:
        raise InputFileError(f"{path}: not a readable FITS file ({exc})") from None
    try:
        if len(hdul) < 2 or hdul[1].header.get("NAXIS", 0) != 2:
            raise InputFileError(f"{path}: no image in extension 1 (not a SPOC calibrated FFI)")
        header = hdul[0].header.copy()
        header.update(hdul[1].header)
        shape = (int(header["NAXIS2"]), int(header["NAXIS1"]))
    finally:
        if own:
            hdul.close()
    if "CRVAL1P" in header and "CRVAL2P" in header:
        origin = (int(header["CRVAL2P"]) - 1, int(header["CRVAL1P"]) - 1)
        science = Stamp(origin[0], origin[0] + shape[0], origin[1], origin[1] + shape[1])
        full = Stamp(SCIENCE_ROWS[0], SCIENCE_ROWS[1], SCIENCE_COLUMNS[0], SCIENCE_COLUMNS[1])
        if science.clip(full) != science:
            raise InputFileError(f"{path}: sub-frame {science.as_tuple()} extends beyond the science pixels")
    elif shape == FULL_SHAPE:
        origin = (0, 0)
        science = Stamp(SCIENCE_ROWS[0], SCIENCE_ROWS[1], SCIENCE_COLUMNS[0], SCIENCE_COLUMNS[1])
    else:
        raise InputFileError(
            f"{path}: image is {shape[0]}x{shape[1]}, not a full FFI {FULL_SHAPE[0]}x{FULL_SHAPE[1]}, "
            "and has no CRVAL1P/CRVAL2P sub-frame position"
        )
    tstart = float(_header_value(header, "TSTART", path))
    tstop = float(_header_value(header, "TSTOP", path))
    barycorr = float(header.get("BARYCORR", 0.0))
    if "FFIINDEX" in header:
        cadenceno = int(header["FFIINDEX"])
    else:
        step = 1800.0 / 86400.0
        mid = 0.5 * (tstart + tstop) - barycorr
        cadenceno = round(mid / step + _FFIINDEX_0 - _FFIINDEX_T0 / step)
    return FFIHeader(
        path=path,
        camera=int(_header_value(header, "CAMERA", path)),
        ccd=int(_header_value(header, "CCD", path)),
        tstart=tstart,
        tstop=tstop,
        barycorr=barycorr,
        quality=int(header.get("DQUALITY", 0)),
        cadenceno=cadenceno,
        origin=origin,
        science=science,
        wcs=_ccd_wcs(header, origin, path),
        header=header,
    )


def read_ffi(path: Path) -> FFIFrame:
    """Read an FFI's headers and science pixels.

    Raises
    ------
    InputFileError
        If the file is truncated, corrupt, or not a SPOC calibrated FFI.
    """
    path = Path(path)
    try:
        with fits.open(path, memmap=False) as hdul:
            header = read_ffi_header(path, hdul=hdul)
            if len(hdul) < 3:
                raise InputFileError(f"{path}: no uncertainty image in extension 2")
            rows, cols = header.science.slices(header.origin)
            image = np.asarray(hdul[1].data[rows, cols], dtype=np.float32)
            uncertainty = np.asarray(hdul[2].data[rows, cols], dtype=np.float32)
    except InputFileError:
        raise
    except (OSError, ValueError, TypeError, IndexError) as exc:
        raise InputFileError(f"{path}: cannot read image data ({exc})") from None
    if image.shape != header.science.shape or uncertainty.shape != image.shape:
        raise InputFileError(f"{path}: image or uncertainty has the wrong shape {image.shape}")
    return FFIFrame(header, image, uncertainty)
