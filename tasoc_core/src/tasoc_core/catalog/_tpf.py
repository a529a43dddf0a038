"""What the catalog and TODO stages need from a SPOC target pixel file.

Only headers and the APERTURE image are read, never the pixel table, so scanning thousands
of TPFs stays cheap.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import attrs
import numpy as np
from astropy.io import fits
from astropy.utils.exceptions import AstropyUserWarning
from astropy.wcs import WCS, FITSFixedWarning, Sip

from tasoc_core.data.target import Stamp
from tasoc_core.exceptions import InputFileError
from tasoc_core.io import parse_tpf_name
from tasoc_core.wcs import shift_wcs

__all__ = ["TPFHeader", "read_tpf", "read_tpf_header", "read_tpf_location"]

logger = logging.getLogger(__name__)

#: APERTURE bit of pixels that were collected (downlinked).
COLLECTED = 1

# Keys of a binary-table column's celestial WCS (n = column number) and their image names.
_COLUMN_WCS = {
    "1CTYP{n}": "CTYPE1",
    "2CTYP{n}": "CTYPE2",
    "1CRPX{n}": "CRPIX1",
    "2CRPX{n}": "CRPIX2",
    "1CRVL{n}": "CRVAL1",
    "2CRVL{n}": "CRVAL2",
    "1CUNI{n}": "CUNIT1",
    "2CUNI{n}": "CUNIT2",
    "1CDLT{n}": "CDELT1",
    "2CDLT{n}": "CDELT2",
    "11PC{n}": "PC1_1",
    "12PC{n}": "PC1_2",
    "21PC{n}": "PC2_1",
    "22PC{n}": "PC2_2",
}


@attrs.frozen
class TPFHeader:
    """Identity, geometry and header catalog values of one TPF.

    Attributes
    ----------
    path
        The file.
    starid, sector, camera, ccd
        TICID, SECTOR, CAMERA and CCD of the primary header.
    cadence
        Seconds, ``round(TIMEDEL · 86400)``.
    tstart, tstop
        First and last time of the file, BTJD.
    stamp
        The pixels of the file in CCD coordinates.
    aperture
        APERTURE bit image, shape of ``stamp`` (bit 1: pixel collected).
    wcs
        Celestial WCS in CCD coordinates (0-based pixel centres), or None.
    ra, dec, pm_ra, pm_dec, tmag, teff
        RA_OBJ, DEC_OBJ (J2000), PMRA, PMDEC (mas/yr), TESSMAG, TEFF; NaN where absent.
    """

    path: Path
    starid: int
    sector: int
    camera: int
    ccd: int
    cadence: int
    tstart: float
    tstop: float
    stamp: Stamp
    aperture: np.ndarray = attrs.field(repr=False, eq=False)
    wcs: WCS | None = attrs.field(repr=False, eq=False)
    ra: float = np.nan
    dec: float = np.nan
    pm_ra: float = np.nan
    pm_dec: float = np.nan
    tmag: float = np.nan
    teff: float = np.nan

    @property
    def collected(self) -> np.ndarray:
        """Boolean image of the collected pixels."""
        return (self.aperture & COLLECTED) != 0

    def world_to_pixel(self, ra: np.ndarray, dec: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """CCD (row, col) of sky positions through the TPF's WCS (NaN without one)."""
        ra = np.asarray(ra, dtype=float)
        if self.wcs is None or ra.size == 0:
            nan = np.full(ra.shape, np.nan)
            return nan, nan.copy()
        col, row = self.wcs.all_world2pix(ra, np.asarray(dec, dtype=float), 0, quiet=True)
        return np.asarray(row, dtype=float), np.asarray(col, dtype=float)


def _float(header: fits.Header, key: str) -> float:
    value = header.get(key)
    try:
        return float(value) if value is not None else np.nan
    except (TypeError, ValueError):
        return np.nan


def _required_int(header: fits.Header, key: str, path: Path) -> int:
    if key not in header:
        raise InputFileError(f"{path}: primary header keyword {key} is missing (not a SPOC TPF?)")
    try:
        return int(header[key])
    except (TypeError, ValueError):
        raise InputFileError(
            f"{path}: header keyword {key} = {header[key]!r} is not an integer"
        ) from None


def _flux_column(header: fits.Header) -> int | None:
    for i in range(1, int(header.get("TFIELDS", 0)) + 1):
        if str(header.get(f"TTYPE{i}", "")).strip().upper() == "FLUX":
            return i
    return None


def _column_wcs_header(header: fits.Header, n: int) -> fits.Header | None:
    if f"1CTYP{n}" not in header:
        return None
    out = fits.Header()
    out["WCSAXES"] = 2
    for key, image_key in _COLUMN_WCS.items():
        k = key.format(n=n)
        if k in header:
            out[image_key] = header[k]
    return out


_FAST_CTYPES = {("RA---TAN", "DEC--TAN"), ("RA---TAN-SIP", "DEC--TAN-SIP")}


def _sip_matrix(header: Mapping[str, Any], name: str) -> np.ndarray | None:
    order = header.get(f"{name}_ORDER")
    if order is None:
        return None
    order = int(order)
    m = np.zeros((order + 1, order + 1))
    for i in range(order + 1):
        for j in range(order + 1 - i):
            m[i, j] = float(header.get(f"{name}_{i}_{j}", 0.0))
    return m


def _fast_celestial(fits_header: fits.Header) -> WCS | None:
    """The WCS of a plain TAN or TAN-SIP header built from its values (no header parsing).

    astropy's header parser costs ~5-20 ms per TPF, which dominates reading a sector's
    thousands of TPFs; anything beyond the plain case returns None (use the parser).
    """
    header = {k: v for k, v in fits_header.items() if k not in ("COMMENT", "HISTORY", "")}
    ctype = (str(header.get("CTYPE1", "")).strip(), str(header.get("CTYPE2", "")).strip())
    if ctype not in _FAST_CTYPES or float(header.get("LONPOLE", 180.0)) != 180.0:
        return None
    try:
        crpix = [float(header["CRPIX1"]), float(header["CRPIX2"])]
        crval = [float(header["CRVAL1"]), float(header["CRVAL2"])]
        wcs = WCS(naxis=2)
        wcs.wcs.ctype = list(ctype)
        wcs.wcs.crpix = crpix
        wcs.wcs.crval = crval
        wcs.wcs.cunit = ["deg", "deg"]
        if any(k in header for k in ("CD1_1", "CD1_2", "CD2_1", "CD2_2")):
            wcs.wcs.cd = [[float(header.get(f"CD{i}_{j}", 0.0)) for j in (1, 2)] for i in (1, 2)]
        else:
            wcs.wcs.pc = [
                [float(header.get(f"PC{i}_{j}", 1.0 if i == j else 0.0)) for j in (1, 2)]
                for i in (1, 2)
            ]
            wcs.wcs.cdelt = [float(header.get("CDELT1", 1.0)), float(header.get("CDELT2", 1.0))]
        wcs.wcs.radesys = str(header.get("RADESYS", "ICRS")).strip()
        if ctype[0].endswith("-SIP"):
            a, b = _sip_matrix(header, "A"), _sip_matrix(header, "B")
            if a is None or b is None:
                return None
            wcs.sip = Sip(a, b, _sip_matrix(header, "AP"), _sip_matrix(header, "BP"), crpix)
        wcs.wcs.set()
    except (KeyError, TypeError, ValueError):
        return None
    return wcs


def _celestial(header: fits.Header) -> WCS | None:
    fast = _fast_celestial(header)
    if fast is not None:
        return fast
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FITSFixedWarning)
            wcs = WCS(header, relax=True)
    except Exception:
        return None
    if not wcs.has_celestial:
        return None
    return wcs.celestial


def read_tpf_location(path: Path) -> tuple[int, int, int]:
    """SECTOR, CAMERA and CCD of a TPF from its primary header only (cheap).

    Raises
    ------
    InputFileError
        If the file cannot be read or lacks one of the keywords.
    """
    return read_tpf(path, lambda key: False)[0]


def read_tpf_header(path: Path) -> TPFHeader:
    """Read a TPF's headers and APERTURE image.

    Raises
    ------
    InputFileError
        If the file cannot be read, lacks TICID/SECTOR/CAMERA/CCD, the APERTURE extension or
        the position of its pixels on the CCD (names the file and what is missing).
    """
    header = read_tpf(path)[1]
    assert header is not None
    return header


def read_tpf(
    path: Path, wanted: Callable[[tuple[int, int, int]], bool] | None = None
) -> tuple[tuple[int, int, int], TPFHeader | None]:
    """(SECTOR, CAMERA, CCD) of a TPF and, if ``wanted`` accepts them, its full header.

    The file is opened once; the pixel table is never read.

    Raises
    ------
    InputFileError
        As :func:`read_tpf_header` (only the primary-header checks if not wanted).
    """
    path = Path(path)
    try:
        # Our own file handle: astropy leaks its handle when it rejects a corrupt file.
        stream = open(path, "rb")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise InputFileError(f"{path}: cannot open ({exc.strerror})") from None
    try:
        with stream, warnings.catch_warnings():
            warnings.simplefilter("ignore", AstropyUserWarning)  # a corrupt file raises anyway
            try:
                hdul = fits.open(stream, memmap=False)
                primary = hdul[0].header
            except (OSError, ValueError, IndexError) as exc:
                raise InputFileError(f"{path}: not a readable FITS file ({exc})") from None
            key = (
                _required_int(primary, "SECTOR", path),
                _required_int(primary, "CAMERA", path),
                _required_int(primary, "CCD", path),
            )
            if wanted is not None and not wanted(key):
                return key, None
            starid = _required_int(primary, "TICID", path)
            sector, camera, ccd = key
            if len(hdul) < 2:
                raise InputFileError(f"{path}: no pixel table in extension 1")
            table = hdul[1].header
            try:
                aperture_hdu = hdul["APERTURE"]
            except KeyError:
                raise InputFileError(f"{path}: no APERTURE extension") from None
            aperture = np.array(aperture_hdu.data, dtype=np.int32)  # a copy: the file closes
            aperture_header = aperture_hdu.header
    except InputFileError:
        raise
    except (OSError, ValueError, TypeError, IndexError) as exc:
        raise InputFileError(f"{path}: cannot read headers ({type(exc).__name__}: {exc})") from None
    if aperture.ndim != 2 or aperture.size == 0:
        raise InputFileError(f"{path}: APERTURE image has shape {aperture.shape}, expected 2-D")

    n = _flux_column(table)
    if n is not None and f"1CRV{n}P" in table and f"2CRV{n}P" in table:
        col0, row0 = int(table[f"1CRV{n}P"]) - 1, int(table[f"2CRV{n}P"]) - 1
    elif "CRVAL1P" in aperture_header and "CRVAL2P" in aperture_header:
        col0, row0 = int(aperture_header["CRVAL1P"]) - 1, int(aperture_header["CRVAL2P"]) - 1
    else:
        raise InputFileError(
            f"{path}: position on the CCD unknown (no 1CRV{n or 5}P/2CRV{n or 5}P in the pixel table "
            "and no CRVAL1P/CRVAL2P in APERTURE)"
        )
    stamp = Stamp(row0, row0 + aperture.shape[0], col0, col0 + aperture.shape[1])

    wcs = _celestial(aperture_header)
    if wcs is None and n is not None:
        column_header = _column_wcs_header(table, n)
        wcs = _celestial(column_header) if column_header is not None else None
    if wcs is not None:
        wcs = shift_wcs(wcs, row0, col0)  # image pixel (x, y) = CCD (col - col0, row - row0)
    else:
        logger.warning("%s: no celestial WCS in APERTURE or the pixel table", path)

    timedel = _float(table, "TIMEDEL")
    if np.isfinite(timedel) and timedel > 0:
        cadence = round(timedel * 86400.0)
    else:
        name = parse_tpf_name(path)
        cadence = name.cadence if name is not None else 120
        logger.warning(
            "%s: TIMEDEL missing; assuming %d s cadence from the file name", path, cadence
        )
    tstart = _float(table, "TSTART") if "TSTART" in table else _float(primary, "TSTART")
    tstop = _float(table, "TSTOP") if "TSTOP" in table else _float(primary, "TSTOP")
    return key, TPFHeader(
        path=path,
        starid=starid,
        sector=sector,
        camera=camera,
        ccd=ccd,
        cadence=int(cadence),
        tstart=tstart,
        tstop=tstop,
        stamp=stamp,
        aperture=aperture,
        wcs=wcs,
        ra=_float(primary, "RA_OBJ"),
        dec=_float(primary, "DEC_OBJ"),
        pm_ra=_float(primary, "PMRA"),
        pm_dec=_float(primary, "PMDEC"),
        tmag=_float(primary, "TESSMAG"),
        teff=_float(primary, "TEFF"),
    )
