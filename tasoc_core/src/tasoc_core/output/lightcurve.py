"""The raw light-curve FITS file (paper 003 §7 and Appendix B; ``docs/lightcurve-files.md``).

One gzip-compressed FITS file per target and photometry method:

* ``PRIMARY``: target, observation and provenance keywords (no data);
* ``LIGHTCURVE``: binary table, one row per cadence with a finite time;
* ``SUMIMAGE``: mean image of the stamp, with the celestial WCS sliced to the stamp;
* ``APERTURE``: bit image of the stamp (collected, photometric mask, background, centroid
  mask, CCD output);
* then any extensions the method returned (e.g. a halo ``WEIGHTMAP``).

The primary header has ``ORIGIN = 'TASOC/Aarhus'`` so that ``lightkurve.read`` recognises
the file as a TASOC light curve; ``lightkurve.read(path, flux_column="flux_raw")`` gives
the raw flux in e-/s.
"""

from __future__ import annotations

import datetime
import functools
import gzip
import logging
import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs
import numpy as np
from astropy.io import fits
from astropy.time import Time

from tasoc_core import __version__
from tasoc_core.data.target_data import TargetData
from tasoc_core.exceptions import TargetError
from tasoc_core.families.photometry import PhotometryResult
from tasoc_core.flags import PIXEL_FLAGS, QUALITY, TESS_DEFAULT_BITMASK
from tasoc_core.io._fitsscan import TFORM_DTYPES, scan_hdus
from tasoc_core.output._atomic import atomic_write_bytes
from tasoc_core.output._fitsbytes import (
    KEYWORD,
    PLACEHOLDERS,
    card_images,
    extension_bytes,
    pad,
    seal_hdu,
    timestamp,
)
from tasoc_core.output._reference import hdulist_bytes
from tasoc_core.output.dataval import check_dataval
from tasoc_core.output.naming import lightcurve_path
from tasoc_core.output.provenance import Provenance
from tasoc_core.photometry.diagnostics import Diagnostics

__all__ = [
    "APERTURE_BITS",
    "BTJD_REFERENCE",
    "CCD_OUTPUT_COLUMNS",
    "FILE_VERSION",
    "LIGHTCURVE_COLUMNS",
    "ORIGIN",
    "RESERVED_EXTNAMES",
    "aperture_image",
    "build_lightcurve_hdus",
    "quality_column",
    "write_lightcurve",
]

logger = logging.getLogger(__name__)

#: The ORIGIN lightkurve matches (exactly) to recognise TASOC light curves.
ORIGIN = "TASOC/Aarhus"
#: Version of this file layout (the original pipeline's last layout was 1.5).
FILE_VERSION = "2.0"
#: BJD of BTJD 0.
BTJD_REFERENCE = 2457000
_MJD_OFFSET = BTJD_REFERENCE - 2400000.5

#: APERTURE image bits.
APERTURE_BITS: Mapping[str, int] = {
    "collected": 1,
    "photometric": 2,
    "background": 4,
    "centroid": 8,
    "output_a": 32,
    "output_b": 64,
    "output_c": 128,
    "output_d": 256,
}
#: (first, last + 1, APERTURE bit) of the four CCD outputs in 0-based CCD columns
#: (1-based 45–556, 557–1068, 1069–1580, 1581–2092).
CCD_OUTPUT_COLUMNS: tuple[tuple[int, int, int], ...] = (
    (44, 556, 32),
    (556, 1068, 64),
    (1068, 1580, 128),
    (1580, 2092, 256),
)
# Bits of the source's aperture flags kept in the file; 2 and 8 (and SPOC's 16) describe
# SPOC's own apertures, not ours, and the output bits are recomputed.
_KEPT_SOURCE_BITS = APERTURE_BITS["collected"] | APERTURE_BITS["background"]

#: LIGHTCURVE columns: name -> (FITS format, unit, display format, description).
LIGHTCURVE_COLUMNS: Mapping[str, tuple[str, str | None, str, str]] = {
    "TIME": ("D", "BJD - 2457000, days", "D14.7", "mid-cadence barycentric TESS Julian date"),
    "TIMECORR": ("E", "d", "E13.6", "barycentric correction included in TIME"),
    "CADENCENO": ("J", None, "I10", "unique cadence number"),
    "FLUX_RAW": ("D", "e-/s", "E26.17", "raw photometric flux"),
    "FLUX_RAW_ERR": ("D", "e-/s", "E26.17", "raw photometric flux uncertainty"),
    "FLUX_BKG": ("D", "e-/s", "E26.17", "background flux in the aperture"),
    "FLUX_CORR": ("D", "ppm", "E26.17", "corrected relative flux (NaN until corrected)"),
    "FLUX_CORR_ERR": ("D", "ppm", "E26.17", "corrected flux uncertainty (NaN)"),
    "QUALITY": ("J", None, "B16.16", "tasoc quality flags"),
    "PIXEL_QUALITY": ("J", None, "B16.16", "SPOC quality flags"),
    "MOM_CENTR1": ("D", "pixels", "F10.5", "centroid column, 1-based CCD"),
    "MOM_CENTR2": ("D", "pixels", "F10.5", "centroid row, 1-based CCD"),
    "POS_CORR1": ("D", "pixels", "F14.7", "column pointing offset"),
    "POS_CORR2": ("D", "pixels", "F14.7", "row pointing offset"),
}

#: Extension names the writer owns; a method's extra HDUs must use others.
RESERVED_EXTNAMES = frozenset({"PRIMARY", "LIGHTCURVE", "SUMIMAGE", "APERTURE"})

# Header keywords the writer sets; method header cards may not reuse them.
_STRUCTURAL = frozenset(
    {"SIMPLE", "BITPIX", "NAXIS", "NAXIS1", "NAXIS2", "EXTEND", "XTENSION", "PCOUNT", "GCOUNT"}
    | {"TFIELDS", "EXTNAME", "INHERIT", "CHECKSUM", "DATASUM"}
)
_COLUMN_KEYWORD = re.compile(r"^T(TYPE|FORM|UNIT|DISP|NULL|SCAL|ZERO|DIM)\d+$")

_CARD_LENGTH = 80
_KEY_FIELD = 10  # "KEYWORD = "
_VALUE_FIELD = 20  # fixed-format values are right-justified in columns 11-30
_FRAME_TIME = 2.0  # s per 2-s frame
_READ_TIME = 0.02  # s of each frame spent reading out
_SECONDS_PER_DAY = 86400.0


def _value(value: Any) -> Any:
    """A header value: NaN, inf and None become undefined; numpy scalars become Python."""
    if value is None:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _value_width(value: Any) -> int:
    """Characters astropy's fixed format gives a value (strings: quoted, at least 8 wide)."""
    if value is None:
        return 0
    if isinstance(value, str):
        return max(max(len(value.replace("'", "''")), 8) + 2, _VALUE_FIELD)
    return _VALUE_FIELD


def _fitted(value: Any, comment: str) -> tuple[Any, str]:
    """The header value and the comment shortened to fit its card (astropy would warn and
    truncate it)."""
    value = _value(value)
    used = _KEY_FIELD + _value_width(value)
    if used <= _CARD_LENGTH:
        comment = comment[: max(_CARD_LENGTH - used - 3, 0)]
    # Longer strings become CONTINUE cards, which carry the whole comment on the last one.
    return value, comment


def _card(key: str, value: Any, comment: str) -> fits.Card:
    """A card whose comment is shortened to fit."""
    return fits.Card(key, *_fitted(value, comment))


def _header(cards: list[tuple[str, Any, str]]) -> fits.Header:
    return fits.Header([_card(key, value, comment) for key, value, comment in cards])


def _nreadout(data: TargetData) -> int:
    ins = data.instrument
    if ins.nreadout is not None:
        return int(ins.nreadout)
    # Reads kept after onboard cosmic-ray mitigation drops the highest and lowest of each
    # block (reference §8.1).
    return int(ins.num_frm * (1.0 - 2.0 / ins.crblksz)) if ins.crmiten else int(ins.num_frm)


def quality_column(result: PhotometryResult) -> np.ndarray:
    """tasoc QUALITY bits per cadence (all cadences, int32).

    * ``FlaggedBadData`` (1) where the SPOC quality has a bit of the default bitmask;
    * ``BackgroundShenanigans`` (512) where a pixel of the aperture (of the whole stamp
      when the method returned no aperture) has the PIXEL_FLAGS ``BackgroundShenanigans``
      bit at that cadence;
    * plus the bits the method returned in :attr:`PhotometryResult.quality`.

    Raises
    ------
    TargetError
        If the method's quality holds bits that are not QUALITY flags.
    """
    data = result.data
    spoc = np.asarray(data.quality, dtype=np.int64)
    quality = np.where(spoc & TESS_DEFAULT_BITMASK, QUALITY["FlaggedBadData"], 0)
    flags = np.asarray(data.pixel_flags)
    aperture = None if result.aperture is None else np.asarray(result.aperture, dtype=bool)
    where = aperture if aperture is not None and aperture.any() else np.ones(flags.shape[1:], bool)
    shenanigans = (flags[:, where] & PIXEL_FLAGS["BackgroundShenanigans"]).any(axis=1)
    quality = quality | np.where(shenanigans, QUALITY["BackgroundShenanigans"], 0)
    if result.quality is not None:
        own = np.asarray(result.quality)
        if own.dtype.kind == "f" and not (
            np.all(np.isfinite(own)) and np.array_equal(own, np.round(own))
        ):
            raise TargetError(f"{data.target}: the method's quality flags are not integers")
        own = own.astype(np.int64)
        allowed = QUALITY.mask(flag.name for flag in QUALITY)
        bad = own[(own < 0) | (own & ~allowed != 0)]
        if bad.size:
            raise TargetError(
                f"{data.target}: the method's quality flags hold bits that are not QUALITY "
                f"flags (e.g. {int(bad[0])})"
            )
        quality = quality | own
    return quality.astype(np.int32)


def aperture_image(result: PhotometryResult) -> np.ndarray:
    """The APERTURE extension's bit image of the stamp (int32).

    Bits: 1 pixel collected and 4 used for the background, as the pixel source reports
    them; 2 in the photometric aperture; 8 in the centroid mask (the photometric aperture,
    when the method returned centroids); 32/64/128/256 CCD output A/B/C/D by column.
    """
    data = result.data
    stamp = data.stamp
    image = np.asarray(data.aperture_flags, dtype=np.int32) & _KEPT_SOURCE_BITS
    columns = np.arange(stamp.col_min, stamp.col_max)
    output = np.zeros(columns.shape, dtype=np.int32)
    for first, stop, bit in CCD_OUTPUT_COLUMNS:
        output[(columns >= first) & (columns < stop)] = bit
    image = image | output[None, :]
    if result.aperture is not None:
        aperture = np.asarray(result.aperture, dtype=bool)
        image = image | np.where(aperture, APERTURE_BITS["photometric"], 0).astype(np.int32)
        if result.centroid is not None:
            image = image | np.where(aperture, APERTURE_BITS["centroid"], 0).astype(np.int32)
    return image.astype(np.int32)


def _sliced_wcs_header(data: TargetData) -> fits.Header | None:
    """The celestial WCS of the stamp (None when the pixel source has no WCS)."""
    stamp = data.stamp
    if data.wcs is None:
        logger.debug("%s: no WCS; images written without one", data.target)
        return None
    # WCS.slice clips the slice to the WCS's own image size, which for a TPF's WCS
    # moved to CCD coordinates is the TPF's; forget it so only the offset counts.
    unbounded = data.wcs.deepcopy()
    unbounded.pixel_shape = None
    sliced = unbounded.slice(
        (slice(stamp.row_min, stamp.row_max), slice(stamp.col_min, stamp.col_max))
    )
    return sliced.to_header(relax=True)


def _physical_cards(data: TargetData) -> list[tuple[str, Any, str]]:
    """Where the stamp sits on the CCD, as SPOC's physical WCS of TPFs (1-based)."""
    stamp = data.stamp
    return [
        ("WCSNAMEP", "PHYSICAL", "name of the physical (CCD) coordinate system"),
        ("WCSAXESP", 2, "number of physical coordinate axes"),
        ("CTYPE1P", "RAWX", "CCD column"),
        ("CTYPE2P", "RAWY", "CCD row"),
        ("CRPIX1P", 1, "reference pixel: the stamp's first column"),
        ("CRPIX2P", 1, "reference pixel: the stamp's first row"),
        ("CRVAL1P", stamp.col_min + 1, "1-based CCD column of the first pixel"),
        ("CRVAL2P", stamp.row_min + 1, "1-based CCD row of the first pixel"),
        ("CDELT1P", 1.0, "physical increment per pixel"),
        ("CDELT2P", 1.0, "physical increment per pixel"),
    ]


_INHERIT = ("INHERIT", True, "inherit the primary header")


def _utc_iso(btjd: list[float]) -> list[str]:
    return list(Time(np.asarray(btjd) + BTJD_REFERENCE, format="jd", scale="tdb").utc.isot)


def _time_cards(data: TargetData, time: np.ndarray) -> list[tuple[str, Any, str]]:
    ins = data.instrument
    half = ins.cadence / 2.0 / _SECONDS_PER_DAY
    tstart = float(np.min(time)) - half
    tstop = float(np.max(time)) + half
    telapse = tstop - tstart
    deadc = float(ins.deadc)
    date_obs, date_end = _utc_iso([tstart, tstop])
    return [
        ("TIMEREF", "SOLARSYSTEM", "barycentric correction applied to times"),
        ("TIMESYS", "TDB", "time system is Barycentric Dynamical Time (TDB)"),
        ("BJDREFI", BTJD_REFERENCE, "integer part of BTJD reference date"),
        ("BJDREFF", 0.0, "fraction of the day in BTJD reference date"),
        ("TIMEUNIT", "d", "time unit for TIME, TSTART and TSTOP"),
        ("TSTART", tstart, "observation start time in BTJD"),
        ("TSTOP", tstop, "observation stop time in BTJD"),
        ("DATE-OBS", str(date_obs), "TSTART as UTC calendar date"),
        ("DATE-END", str(date_end), "TSTOP as UTC calendar date"),
        ("MJD-BEG", tstart + _MJD_OFFSET, "observation start time in MJD (TDB)"),
        ("MJD-END", tstop + _MJD_OFFSET, "observation stop time in MJD (TDB)"),
        ("TELAPSE", telapse, "[d] TSTOP - TSTART"),
        ("LIVETIME", telapse * deadc, "[d] TELAPSE multiplied by DEADC"),
        ("DEADC", deadc, "deadtime correction"),
        ("EXPOSURE", telapse * deadc, "[d] time on source"),
        ("XPOSURE", float(ins.exposure), "[s] Duration of exposure"),
        ("TIMEPIXR", 0.5, "bin time beginning=0 middle=0.5 end=1"),
        ("TIMEDEL", ins.cadence / _SECONDS_PER_DAY, "[d] time resolution of data"),
        ("INT_TIME", _FRAME_TIME - _READ_TIME, "[s] photon accumulation time per frame"),
        ("READTIME", _READ_TIME, "[s] readout time per frame"),
        ("FRAMETIM", _FRAME_TIME, "[s] frame time (INT_TIME + READTIME)"),
        ("NUM_FRM", int(ins.num_frm), "number of frames per time stamp"),
        ("NREADOUT", _nreadout(data), "number of read per cadence"),
    ]


def _diagnostic_cards(diagnostics: Diagnostics) -> list[tuple[str, Any, str]]:
    return [
        ("MEANFLUX", diagnostics.mean_flux, "[e-/s] median flux of good cadences"),
        ("RMS_HOUR", diagnostics.rms_hour * 1e6, "[ppm] robust RMS on 1-hour bins"),
        ("PTP_MDV", diagnostics.ptp * 1e6, "[ppm] point-to-point median differential var."),
        ("VARIABIL", diagnostics.variability, "scatter around a cubic / median error"),
        ("NUMGOOD", diagnostics.num_good, "cadences used for the diagnostics"),
        ("MASKSIZE", diagnostics.mask_size, "[pixels] pixels in the photometric aperture"),
        ("EDGEFLUX", diagnostics.edge_flux, "[e-/s] aperture flux on the stamp border"),
    ]


def _method_cards(
    result: PhotometryResult, reserved: set[str], provenance: Provenance
) -> list[tuple[str, Any, str]]:
    cards = []
    for key, item in result.headers.items():
        where = f"{result.data.target}: method {provenance.method!r} header card {key!r}"
        if not isinstance(key, str) or not KEYWORD.match(key):
            raise TargetError(f"{where}: keywords are 1-8 characters of A-Z, 0-9, '-' and '_'")
        if key in reserved or key in _STRUCTURAL or _COLUMN_KEYWORD.match(key):
            raise TargetError(f"{where}: the keyword is written by tasoc itself")
        try:
            value, comment = item
        except (TypeError, ValueError):
            raise TargetError(f"{where}: expected (value, comment), got {item!r}") from None
        value = _value(value)
        if value is not None and not isinstance(value, bool | int | float | str):
            raise TargetError(f"{where}: value {value!r} is not a FITS header value")
        for text in (value, comment):
            if isinstance(text, str) and not text.isascii():
                raise TargetError(f"{where}: {text!r} is not ASCII")
        cards.append((key, value, str(comment)))
    return cards


def _primary_cards(
    result: PhotometryResult,
    provenance: Provenance,
    *,
    nextend: int,
    data_release: int,
    version: int,
    dataval: int,
    ticver: str | None,
) -> list[tuple[str, Any, str]]:
    target = result.data.target
    ins = result.data.instrument
    pmtotal = (
        math.hypot(target.pm_ra, target.pm_dec)
        if target.pm_ra is not None and target.pm_dec is not None
        else None
    )
    return [
        ("NEXTEND", nextend, "number of standard extensions"),
        ("EXTNAME", "PRIMARY", "name of extension"),
        ("ORIGIN", ORIGIN, "institution responsible for creating this file"),
        ("DATE", datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d"), "file creation date"),
        ("TELESCOP", "TESS", "telescope"),
        ("INSTRUME", "TESS Photometer", "detector type"),
        ("FILTER", "TESS", "Photometric bandpass filter"),
        ("OBJECT", f"TIC {target.starid}", "string version of TICID"),
        ("TICID", target.starid, "unique TESS target identifier"),
        ("CAMERA", target.camera, "Camera number"),
        ("CCD", target.ccd, "CCD number"),
        ("SECTOR", target.sector, "Observing sector"),
        ("DATASRC", target.datasource, "pixels: ffi, tpf, or tpf:<TIC> of a secondary"),
        ("PROCVER", f"tasoc-core-{__version__}", "Version of photometry pipeline"),
        ("SPOCVER", ins.procver or None, "SPOC version of the input pixels"),
        ("FILEVER", FILE_VERSION, "File format version"),
        ("DATA_REL", int(data_release), "Data release number"),
        ("VERSION", int(version), "Version of the processing"),
        *provenance.cards(),
        ("RADESYS", "ICRS", "reference frame of celestial coordinates"),
        ("EQUINOX", 2000.0, "equinox of celestial coordinate system"),
        ("RA_OBJ", target.ra, "[deg] Right ascension at the sector epoch"),
        ("DEC_OBJ", target.dec, "[deg] Declination at the sector epoch"),
        ("PMRA", target.pm_ra, "[mas/yr] RA proper motion"),
        ("PMDEC", target.pm_dec, "[mas/yr] Dec proper motion"),
        ("PMTOTAL", pmtotal, "[mas/yr] total proper motion"),
        ("TESSMAG", target.tmag, "[mag] TESS magnitude"),
        ("TEFF", target.teff, "[K] Effective temperature"),
        ("TICVER", ticver, "TESS Input Catalog version"),
        ("CRMITEN", bool(ins.crmiten), "spacecraft cosmic ray mitigation enabled"),
        ("CRBLKSZ", int(ins.crblksz), "[exposures] s/c cosmic ray mitigation block siz"),
        ("CRSPOC", bool(ins.crspoc), "SPOC cosmic ray cleaning enabled"),
        ("CONTAM", result.contamination, "fraction of aperture flux from other stars"),
        ("DATAVAL", int(dataval), "Data validation flags"),
    ]


def _column_values(result: PhotometryResult, keep: np.ndarray) -> dict[str, np.ndarray]:
    data = result.data
    n = len(data.time)
    nan = np.full(n, np.nan)
    centroid = result.centroid if result.centroid is not None else np.full((n, 2), np.nan)
    pos_corr = np.asarray(data.pos_corr, dtype=np.float64)
    values = {
        "TIME": np.asarray(data.time, dtype=np.float64),
        "TIMECORR": np.asarray(data.timecorr, dtype=np.float32),
        "CADENCENO": np.asarray(data.cadenceno, dtype=np.int32),
        "FLUX_RAW": result.flux,
        "FLUX_RAW_ERR": result.flux_err,
        "FLUX_BKG": result.background if result.background is not None else nan,
        "FLUX_CORR": nan,
        "FLUX_CORR_ERR": nan,
        "QUALITY": quality_column(result),
        "PIXEL_QUALITY": np.asarray(data.quality, dtype=np.int32),
        # 1-based CCD column / row, as SPOC.
        "MOM_CENTR1": centroid[:, 1] + 1.0,
        "MOM_CENTR2": centroid[:, 0] + 1.0,
        "POS_CORR1": pos_corr[:, 1],
        "POS_CORR2": pos_corr[:, 0],
    }
    return {name: np.asarray(value)[keep] for name, value in values.items()}


def _extra_hdus(
    result: PhotometryResult, provenance: Provenance
) -> list[fits.hdu.base.ExtensionHDU]:
    hdus = []
    for hdu in result.extra_hdus:
        where = f"{result.data.target}: method {provenance.method!r} extra HDU"
        if not isinstance(hdu, fits.ImageHDU | fits.BinTableHDU):
            raise TargetError(f"{where} {hdu!r} is not an astropy ImageHDU or BinTableHDU")
        if hdu.name.upper() in RESERVED_EXTNAMES:
            raise TargetError(f"{where} uses the reserved extension name {hdu.name!r}")
        hdus.append(hdu)
    return hdus


@attrs.frozen
class _FileContent:
    """Everything a light-curve file holds, validated, before it is rendered."""

    primary_cards: list[tuple[str, Any, str]]
    lc_cards: list[tuple[str, Any, str]]
    columns: dict[str, np.ndarray]
    wcs: fits.Header | None
    physical_cards: list[tuple[str, Any, str]]
    sumimage: np.ndarray
    aperture: np.ndarray
    extras: list[fits.hdu.base.ExtensionHDU]


def _file_content(
    result: PhotometryResult,
    diagnostics: Diagnostics,
    *,
    provenance: Provenance,
    data_release: int,
    version: int,
    dataval: int,
    ticver: str | None,
) -> _FileContent:
    data = result.data
    dataval = check_dataval(dataval)
    time = np.asarray(data.time, dtype=np.float64)
    keep = np.isfinite(time)
    if not keep.any():
        raise TargetError(f"{data.target}: no cadence has a finite time")

    extras = _extra_hdus(result, provenance)
    primary_cards = _primary_cards(
        result,
        provenance,
        nextend=3 + len(extras),
        data_release=data_release,
        version=version,
        dataval=dataval,
        ticver=ticver,
    )
    lc_cards = [_INHERIT, *_time_cards(data, time[keep]), *_diagnostic_cards(diagnostics)]
    reserved = {key for key, _, _ in lc_cards} | {key for key, _, _ in primary_cards}
    reserved |= {"SIMPLE", "BITPIX", "NAXIS"}
    lc_cards += _method_cards(result, reserved, provenance)
    return _FileContent(
        primary_cards=primary_cards,
        lc_cards=lc_cards,
        columns=_column_values(result, keep),
        wcs=_sliced_wcs_header(data),
        physical_cards=_physical_cards(data),
        sumimage=np.asarray(data.sumimage, dtype=np.float32),
        aperture=aperture_image(result),
        extras=extras,
    )


def _astropy_hdus(content: _FileContent) -> fits.HDUList:
    primary = fits.PrimaryHDU(header=_header(content.primary_cards))
    table = fits.BinTableHDU.from_columns(
        [
            fits.Column(name=name, format=fmt, unit=unit, disp=disp, array=content.columns[name])
            for name, (fmt, unit, disp, _) in LIGHTCURVE_COLUMNS.items()
        ],
        name="LIGHTCURVE",
    )
    # Appending after the column keywords is much cheaper than astropy's relative inserts.
    table.header.extend(_header(content.lc_cards))
    image_header = fits.Header()
    image_header[_INHERIT[0]] = _INHERIT[1:]
    if content.wcs is not None:
        image_header.extend(content.wcs, update=True)
    image_header.extend(content.physical_cards, update=True)
    sumimage = fits.ImageHDU(content.sumimage, header=image_header.copy(), name="SUMIMAGE")
    aperture = fits.ImageHDU(content.aperture, header=image_header, name="APERTURE")
    return fits.HDUList([primary, table, sumimage, aperture, *content.extras])


def build_lightcurve_hdus(
    result: PhotometryResult,
    diagnostics: Diagnostics,
    *,
    provenance: Provenance,
    data_release: int,
    version: int,
    dataval: int = 0,
    ticver: str | None = None,
) -> fits.HDUList:
    """The light-curve file's HDUs, in memory (see :func:`write_lightcurve`).

    :func:`write_lightcurve` writes the same file without building these objects.
    """
    return _astropy_hdus(
        _file_content(
            result,
            diagnostics,
            provenance=provenance,
            data_release=data_release,
            version=version,
            dataval=dataval,
            ticver=ticver,
        )
    )


# --- The file rendered from bytes -------------------------------------------------------
# astropy's Card objects verify every value through its configuration system, and
# BinTableHDU builds a Column per field; at ~1300 cadences that is 5x the cost of the data
# and gzip. The cards below are rendered with astropy's own value formatter and the
# structural cards taken from a file astropy wrote once, so the bytes are astropy's.

# Keywords a WCS header must not bring (nor NAXISn, nor column keywords): astropy would
# strip or merge them.
_NOT_FROM_WCS = _STRUCTURAL | {"GROUPS", "THEAP", "COMMENT", "HISTORY", ""}
_NAXIS = re.compile(r"^NAXIS\d*$")


def _card_images(key: str, value: Any, comment: str) -> list[str]:
    """The 80-character card(s) astropy writes for ``_card(key, value, comment)``."""
    return card_images(key, *_fitted(value, comment))


def _rendered(cards: list[tuple[str, Any, str]]) -> list[str]:
    return [image for card in cards for image in _card_images(*card)]


@functools.lru_cache(maxsize=16)
def _structural_cards(kind: str, dtype: str = "", ndim: int = 0) -> tuple[str, ...]:
    """The cards astropy writes before the given ones: primary, table (of one row) or image
    (of ``dtype``, every axis of length 1) HDU; :func:`_sized` sets the real lengths."""
    if kind == "primary":
        hdus = fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU()])
        index = 0
    elif kind == "table":
        columns = [
            fits.Column(name=name, format=fmt, unit=unit, disp=disp, array=np.zeros(1))
            for name, (fmt, unit, disp, _) in LIGHTCURVE_COLUMNS.items()
        ]
        hdus = fits.HDUList([fits.PrimaryHDU(), fits.BinTableHDU.from_columns(columns)])
        index = 1
    else:
        image = np.zeros((1,) * ndim, dtype=dtype)
        hdus = fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(image)])
        index = 1
    cards = scan_hdus(hdulist_bytes(hdus))[index].cards
    return tuple(card for card in cards if card[:8] not in ("CHECKSUM", "DATASUM "))


@functools.lru_cache(maxsize=16)
def _comment(card: str) -> str:
    return fits.Card.fromstring(card).comment


def _sized(cards: tuple[str, ...], axes: Mapping[str, int]) -> list[str]:
    """Structural ``cards`` with the NAXISn values ``axes`` (their comments kept)."""
    return [
        _card_images(card[:8].rstrip(), axes[card[:8].rstrip()], _comment(card))[0]
        if card[:8].rstrip() in axes
        else card
        for card in cards
    ]


def _table_cards(nrows: int) -> list[str]:
    return _sized(_structural_cards("table"), {"NAXIS2": nrows})


def _image_structural_cards(image: np.ndarray) -> list[str]:
    axes = {f"NAXIS{i}": length for i, length in enumerate(reversed(image.shape), start=1)}
    return _sized(_structural_cards("image", image.dtype.str, image.ndim), axes)


def _table_bytes(columns: dict[str, np.ndarray]) -> bytes:
    dtype = np.dtype([(name, TFORM_DTYPES[fmt]) for name, (fmt, *_) in LIGHTCURVE_COLUMNS.items()])
    table = np.empty(len(columns["TIME"]), dtype=dtype)
    for name in LIGHTCURVE_COLUMNS:
        table[name] = columns[name]
    return table.tobytes()


def _image_cards(content: _FileContent) -> list[str] | None:
    """INHERIT, WCS and physical cards of the images; None for a WCS header astropy would
    merge rather than append (duplicate, structural or commentary keywords)."""
    wcs = list(content.wcs.cards) if content.wcs is not None else []
    keys = [card.keyword for card in wcs]
    taken = _NOT_FROM_WCS | {key for key, _, _ in content.physical_cards}
    if len(set(keys)) != len(keys) or any(
        key in taken or _NAXIS.match(key) or _COLUMN_KEYWORD.match(key) for key in keys
    ):
        return None
    images = _card_images(*_INHERIT)
    for card in wcs:
        text = card.image
        images += [text[i : i + _CARD_LENGTH] for i in range(0, len(text), _CARD_LENGTH)]
    return images + _rendered(content.physical_cards)


def _lightcurve_fits_bytes(content: _FileContent) -> bytes | None:
    """The FITS bytes of the file, or None when astropy must build it (see _image_cards)."""
    commentary = ("COMMENT", "HISTORY", "")
    if any(key in commentary for key, _, _ in content.lc_cards + content.primary_cards):
        return None
    image_cards = _image_cards(content)
    if image_cards is None:
        return None
    hdus: list[tuple[list[str], bytes]] = [
        ([*_structural_cards("primary"), *_rendered(content.primary_cards)], b""),
        (
            [
                *_table_cards(len(content.columns["TIME"])),
                *_card_images("EXTNAME", "LIGHTCURVE", "extension name"),
                *_rendered(content.lc_cards),
            ],
            pad(_table_bytes(content.columns)),
        ),
    ]
    for name, image in (("SUMIMAGE", content.sumimage), ("APERTURE", content.aperture)):
        cards = [
            *_image_structural_cards(image),
            *image_cards,
            *_card_images("EXTNAME", name, "extension name"),
        ]
        hdus.append(
            (
                cards,
                pad(np.ascontiguousarray(image).astype(image.dtype.newbyteorder(">")).tobytes()),
            )
        )
    when = timestamp()
    out = []
    for cards, data in hdus:
        out.append(seal_hdu([*cards, *PLACEHOLDERS], data, when))
        out.append(data)
    out.append(extension_bytes(content.extras, when))
    return b"".join(out)


def write_lightcurve(
    result: PhotometryResult,
    diagnostics: Diagnostics,
    *,
    path: Path,
    provenance: Provenance,
    data_release: int | None = None,
    version: int,
    dataval: int = 0,
    ticver: str | None = None,
    compresslevel: int = 6,
    fsync: bool = False,
) -> Path:
    """Write a raw light-curve file atomically.

    Parameters
    ----------
    result
        What the photometry method returned.
    diagnostics
        Its diagnostics (from :func:`~tasoc_core.photometry.compute_diagnostics`); the
        main ones are also written to the LIGHTCURVE header.
    path
        The output root: the file goes to ``path/lightcurves/c…/…/tess…-tasoc_lc.fits.gz``
        (:func:`~tasoc_core.output.lightcurve_relpath` gives the part below ``path``).
    provenance
        Method, plugin, distribution, version and rule, for the primary header.
    data_release
        SPOC data release of the input pixels (``dr`` in the name, ``DATA_REL``); default
        the pixel source's.
    version
        tasoc processing version (``v`` in the name, ``VERSION``), counting from 1.
    dataval
        DATAVAL bits; 0 until validated (then see :func:`update_dataval`).
    ticver
        TIC version of the catalog, for ``TICVER``.
    compresslevel
        gzip level, 1 (fastest) to 9 (smallest).
    fsync
        Flush to the storage device before the final rename.

    Returns
    -------
    Path
        The file written.

    Raises
    ------
    TargetError
        If the result cannot be written as it is (no finite time, invalid method header
        cards, quality bits or extra HDUs); nothing is written then.
    """
    data = result.data
    if data_release is None:
        data_release = data.instrument.data_rel
    final = lightcurve_path(
        Path(path), data.target, data_release, version, method=provenance.method
    )
    content = _file_content(
        result,
        diagnostics,
        provenance=provenance,
        data_release=data_release,
        version=version,
        dataval=dataval,
        ticver=ticver,
    )
    fits_bytes = _lightcurve_fits_bytes(content)
    if fits_bytes is None:
        logger.debug("%s: header layout left to astropy", data.target)
        fits_bytes = hdulist_bytes(_astropy_hdus(content))
    payload = gzip.compress(fits_bytes, compresslevel=compresslevel, mtime=0)
    atomic_write_bytes(final, payload, fsync=fsync)
    logger.debug("%s: wrote %s", data.target, final)
    return final
