"""FITS writers for simulated FFIs and TPFs in the SPOC formats (``formats.md`` §3–4).

Files are written under a temporary name and renamed; every HDU carries CHECKSUM/DATASUM
cards whose comment is the simulated file-creation date (not the wall clock), so the same
seed gives byte-identical files.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import attrs
import numpy as np
from astropy.io import fits
from astropy.time import Time
from astropy.wcs import WCS

from tasoc_core import __version__

__all__ = [
    "ExposureSetup",
    "exposure_setup",
    "ffi_file_name",
    "local_linear_wcs",
    "spoc_date",
    "tpf_file_name",
    "utc_iso",
    "write_ffi",
    "write_tpf",
]

READ_NOISE = 10.0  #: e- per read
GAIN = 5.2  #: e- per ADU
FULL_WELL = 2.0e5  #: e- per 2-s exposure at which charge bleeds along the column
MEAN_BLACK = 6500  #: ADU
_INT_TIME, _READ_TIME, _FRAME_TIME = 1.98, 0.02, 2.0


@attrs.frozen
class ExposureSetup:
    """Exposure bookkeeping of one cadence type, as SPOC reports it.

    Attributes
    ----------
    cadence
        Seconds per cadence.
    num_frm
        2-s frames co-added.
    nreadout
        Frames kept (after on-board cosmic-ray mitigation, which drops 2 of each 10).
    deadc
        Dead-time correction (kept fraction × INT_TIME/FRAMETIM).
    exposure_s
        Effective exposure time (s): ``nreadout × INT_TIME``.
    """

    cadence: int
    num_frm: int
    nreadout: int
    deadc: float
    exposure_s: float
    crmiten: bool

    def sigma(self, rate: np.ndarray, pixels: int | np.ndarray = 1) -> np.ndarray:
        """1σ noise (e-/s) of ``pixels`` pixels receiving ``rate`` e-/s in all: photon
        noise plus the read noise of every co-added exposure of each pixel."""
        counts = np.clip(rate, 0.0, None) * self.exposure_s
        return np.sqrt(counts + pixels * self.nreadout * READ_NOISE**2) / self.exposure_s


def exposure_setup(cadence: int) -> ExposureSetup:
    """Exposure setup of a cadence (s): FFIs 1800/600/200, TPFs 120 and 20 (no CR mitigation)."""
    num_frm = cadence // 2
    crmiten = cadence != 20
    nread = num_frm * 8 // 10 if crmiten else num_frm
    deadc = (nread / num_frm) * _INT_TIME / _FRAME_TIME
    return ExposureSetup(cadence, num_frm, nread, deadc, nread * _INT_TIME, crmiten)


def utc_iso(jd_tdb: np.ndarray | float) -> list[str]:
    """ISO UTC strings (millisecond precision, 'Z') of TDB Julian dates."""
    t = Time(np.atleast_1d(jd_tdb), format="jd", scale="tdb").utc
    return [s + "Z" for s in t.isot]


def spoc_date(jd_tdb: float) -> str:
    """``YYYYDDDHHMMSS`` file-name date of a TDB Julian date (UTC)."""
    t = Time(jd_tdb, format="jd", scale="tdb").utc
    return t.strftime("%Y%j%H%M%S")


def ffi_file_name(jd_tdb: float, sector: int, camera: int, ccd: int, scid: int = 0) -> str:
    return f"tess{spoc_date(jd_tdb)}-s{sector:04d}-{camera}-{ccd}-{scid:04d}-s_ffic.fits"


def tpf_file_name(jd_tdb: float, sector: int, starid: int, fast: bool, scid: int = 0) -> str:
    kind = "a_fast-tp" if fast else "s_tp"
    return f"tess{spoc_date(jd_tdb)}-s{sector:04d}-{starid:016d}-{scid:04d}-{kind}.fits"


def _write(hdul: fits.HDUList, path: Path, when: str) -> None:
    for hdu in hdul:
        hdu.add_checksum(when=when)
    tmp = path.with_name(f".{path.name}.tmp")
    hdul.writeto(tmp, overwrite=True, checksum=False, output_verify="exception")
    tmp.replace(path)


def _common_primary(h: fits.Header, meta: dict[str, Any]) -> None:
    h["NEXTEND"] = (2, "number of standard extensions")
    h["EXTNAME"] = ("PRIMARY", "name of extension")
    h["SIMDATA"] = (True, "file is based on simulated data")
    h["ORIGIN"] = ("tasoc simulate", "institution responsible for creating this file")
    h["DATE"] = (meta["date"], "file creation date")
    h["TELESCOP"] = ("TESS", "telescope")
    h["INSTRUME"] = ("TESS Photometer", "detector type")
    h["DATA_REL"] = (99, "data release version number (simulation)")
    h["PROCVER"] = (f"tasoc-sim-{__version__}", "SW version")
    h["FILEVER"] = ("1.0", "file format version")
    h["TIMVERSN"] = ("OGIP/93-003", "OGIP memo number for file format")
    h["SECTOR"] = (meta["sector"], "Observing sector")
    h["CAMERA"] = (meta["camera"], "Camera number")
    h["CCD"] = (meta["ccd"], "CCD chip number")
    h["CRMITEN"] = (meta["setup"].crmiten, "spacecraft cosmic ray mitigation enabled")
    h["CRBLKSZ"] = (10, "[exposures] s/c cosmic ray mitigation block siz")
    h["CRSPOC"] = (False, "SPOC cosmic ray cleaning enabled")
    h["RADESYS"] = ("ICRS", "reference frame of celestial coordinates")
    h["EQUINOX"] = (2000.0, "equinox of celestial coordinate system")


def _time_keys(
    h: fits.Header,
    meta: dict[str, Any],
    tstart: float,
    tstop: float,
    jd_start: float,
    jd_stop: float,
) -> None:
    setup: ExposureSetup = meta["setup"]
    date_obs, date_end = utc_iso([jd_start, jd_stop])
    h["TIMEREF"] = ("SOLARSYSTEM", "barycentric correction applied to times")
    h["TASSIGN"] = ("SPACECRAFT", "where time is assigned")
    h["TIMESYS"] = ("TDB", "time system is Barycentric Dynamical Time (TDB)")
    h["BJDREFI"] = (2457000, "integer part of BTJD reference date")
    h["BJDREFF"] = (0.0, "fraction of the day in BTJD reference date")
    h["TIMEUNIT"] = ("d", "time unit for TIME, TSTART and TSTOP")
    h["TELAPSE"] = (tstop - tstart, "[d] TSTOP - TSTART")
    h["LIVETIME"] = ((tstop - tstart) * setup.deadc, "[d] TELAPSE multiplied by DEADC")
    h["TSTART"] = (tstart, "observation start time in BTJD")
    h["TSTOP"] = (tstop, "observation stop time in BTJD")
    h["DATE-OBS"] = (date_obs, "TSTART as UTC calendar date")
    h["DATE-END"] = (date_end, "TSTOP as UTC calendar date")
    h["DEADC"] = (setup.deadc, "deadtime correction")
    h["TIMEPIXR"] = (0.5, "bin time beginning=0 middle=0.5 end=1")
    h["TIERRELA"] = (1.16e-05, "[d] relative time error")
    h["INT_TIME"] = (_INT_TIME, "[s] photon accumulation time per frame")
    h["READTIME"] = (_READ_TIME, "[s] readout time per frame")
    h["FRAMETIM"] = (_FRAME_TIME, "[s] frame time (INT_TIME + READTIME)")
    h["NUM_FRM"] = (setup.num_frm, "number of frames per time stamp")
    h["TIMEDEL"] = (setup.cadence / 86400.0, "[d] time resolution of data")
    h["NREADOUT"] = (setup.nreadout, "number of read per cadence")
    for out in "ABCD":
        h[f"GAIN{out}"] = (GAIN, f"[electrons/count] CCD output {out} gain")
    for out in "ABCD":
        h[f"READNOI{out}"] = (READ_NOISE, f"[electrons] read noise CCD output {out}")
    h["FXDOFF"] = (209700, "compression fixed offset")
    for out in "ABCD":
        h[f"MEANBLC{out}"] = (MEAN_BLACK, f"[count] FSW mean black level CCD output {out}")
    h[f"TMOFST{meta['camera']}{meta['ccd']}"] = (0.0, "(s) readout delay for camera and ccd")


def _ffi_headers(
    meta: dict[str, Any], wcs: WCS, origin: tuple[int, int], subframe: bool
) -> tuple[fits.Header, fits.Header]:
    """Primary and image headers of an FFI, without the per-frame values (cached per run)."""
    cache = meta.setdefault("_ffi_headers", {})
    key = (origin, subframe)
    if key in cache:
        return cache[key]
    setup: ExposureSetup = meta["setup"]
    primary = fits.Header()
    primary["SIMPLE"] = (True, "conforms to FITS standard")
    primary["BITPIX"] = (8, "array data type")
    primary["NAXIS"] = (0, "number of array dimensions")
    primary["EXTEND"] = True
    _common_primary(primary, meta)
    primary["CREATOR"] = ("tasoc simulate FfiExporter", "pipeline job and program used")
    for k, comment in _FRAME_KEYS.items():
        primary[k] = (0, comment)
    if subframe:
        local = wcs.deepcopy()
        local.wcs.crpix = [wcs.wcs.crpix[0] - origin[1], wcs.wcs.crpix[1] - origin[0]]
    else:
        local = wcs
    wcs_header = local.to_header(relax=True)
    for card in ("DATE-OBS", "MJD-OBS", "DATEREF", "MJDREFI", "MJDREFF"):
        wcs_header.remove(card, ignore_missing=True)
    h = fits.Header()
    h["INHERIT"] = (True, "inherit the primary header")
    h["TELESCOP"] = ("TESS", "telescope")
    h["INSTRUME"] = ("TESS Photometer", "detector type")
    h["CAMERA"] = (meta["camera"], "Camera number")
    h["CCD"] = (meta["ccd"], "CCD chip number")
    _time_keys(h, meta, 0.0, 0.0, 2451545.0, 2451545.0)
    for k, comment in _FRAME_KEYS.items():
        h[k] = (0, comment)
    h["EXPOSURE"] = (setup.exposure_s / 86400.0, "[d] time on source")
    h["BACKAPP"] = (False, "background is subtracted")
    h["DEADAPP"] = (True, "deadtime applied")
    h["VIGNAPP"] = (True, "vignetting or collimator correction applied")
    h["BUNIT"] = ("electrons/s", "physical units of image data")
    h["WCSAXES"] = (2, "number of World Coordinate System axes")
    h.extend(wcs_header, update=True)
    if subframe:
        h["WCSNAMEP"] = ("PHYSICAL", "name of world coordinate system alternate P")
        h["WCSAXESP"] = (2, "number of WCS physical axes")
        h["CTYPE1P"] = ("RAWX", "physical WCS axis 1 type CCD col")
        h["CUNIT1P"] = ("PIXEL", "physical WCS axis 1 unit")
        h["CRPIX1P"] = (1, "reference CCD column")
        h["CRVAL1P"] = (origin[1] + 1, "value at reference CCD column")
        h["CDELT1P"] = (1.0, "physical WCS axis 1 step")
        h["CTYPE2P"] = ("RAWY", "physical WCS axis 2 type CCD row")
        h["CUNIT2P"] = ("PIXEL", "physical WCS axis 2 units")
        h["CRPIX2P"] = (1, "reference CCD row")
        h["CRVAL2P"] = (origin[0] + 1, "value at reference CCD row")
        h["CDELT2P"] = (1.0, "physical WCS axis 2 step")
    cache[key] = (primary, h)
    return primary, h


_FRAME_KEYS = {
    "TSTART": "observation start time in BTJD",
    "TSTOP": "observation stop time in BTJD",
    "DATE-OBS": "TSTART as UTC calendar date",
    "DATE-END": "TSTOP as UTC calendar date",
    "BARYCORR": "[d] barycentric correction, CCD centre",
    "DQUALITY": "data quality flags",
    "FFIINDEX": "number of FFI cadence interval of frame",
}


_BLOCK = 2880
_CHECKSUM_EXCLUDE = (0x3A, 0x3B, 0x3C, 0x3D, 0x3E, 0x3F, 0x40, 0x5B, 0x5C, 0x5D, 0x5E, 0x5F, 0x60)


def _ones_complement_sum(buffer: bytes, start: int = 0) -> int:
    """32-bit ones' complement sum of big-endian words (the FITS checksum arithmetic)."""
    words = np.frombuffer(buffer, dtype=">u4").astype(np.uint64)
    total = int(words.sum(dtype=np.uint64)) + start
    while total >> 32:
        total = (total & 0xFFFFFFFF) + (total >> 32)
    return total


def _encode_checksum(value: int) -> str:
    """ASCII encoding of a 32-bit checksum complement (FITS checksum convention)."""
    chars = [0] * 16
    for i in range(4):
        byte = (value >> (24 - 8 * i)) & 0xFF
        quotient, remainder = byte // 4 + 0x30, byte % 4
        ch = [quotient + remainder, quotient, quotient, quotient]
        changed = True
        while changed:
            changed = False
            for j in (0, 2):
                while ch[j] in _CHECKSUM_EXCLUDE or ch[j + 1] in _CHECKSUM_EXCLUDE:
                    ch[j] += 1
                    ch[j + 1] -= 1
                    changed = True
        for j in range(4):
            chars[4 * j + i] = ch[j]
    text = "".join(map(chr, chars))
    return text[-1] + text[:-1]


class _HeaderTemplate:
    """A header rendered once; per-file values replace whole 80-character cards."""

    def __init__(self, header: fits.Header, when: str):
        h = header.copy()
        h["CHECKSUM"] = ("0" * 16, when)
        h["DATASUM"] = ("0", when)
        self.text = h.tostring()
        self.index = {key: i for i, key in enumerate(h.keys())}
        self.comments = {key: h.comments[key] for key in h}

    def render(self, values: dict[str, Any]) -> bytearray:
        out = bytearray(self.text.encode("ascii"))
        for key, value in values.items():
            i = self.index[key]
            out[80 * i : 80 * (i + 1)] = fits.Card(key, value, self.comments[key]).image.encode(
                "ascii"
            )
        return out

    def finish(self, header: bytearray, data: bytes) -> bytes:
        """Fill DATASUM and CHECKSUM for ``data`` (already padded)."""
        datasum = _ones_complement_sum(data)
        i = self.index["DATASUM"]
        header[80 * i : 80 * (i + 1)] = fits.Card(
            "DATASUM", str(datasum), self.comments["DATASUM"]
        ).image.encode("ascii")
        total = _ones_complement_sum(bytes(header), datasum)
        i = self.index["CHECKSUM"]
        card = fits.Card(
            "CHECKSUM", _encode_checksum(~total & 0xFFFFFFFF), self.comments["CHECKSUM"]
        )
        header[80 * i : 80 * (i + 1)] = card.image.encode("ascii")
        return bytes(header)


def _padded(buffer: bytes, fill: bytes) -> bytes:
    extra = (-len(buffer)) % _BLOCK
    return buffer + fill * extra


def write_ffi(
    path: Path,
    image: np.ndarray,
    uncertainty: np.ndarray,
    *,
    meta: dict[str, Any],
    wcs: WCS,
    origin: tuple[int, int],
    subframe: bool,
    tstart: float,
    tstop: float,
    jd_start: float,
    jd_stop: float,
    barycorr: float,
    quality: int,
    ffiindex: int,
) -> None:
    """Write one calibrated FFI (primary + image + uncertainty).

    ``wcs`` is the frame's WCS in full-image pixel coordinates; for a sub-frame
    (``subframe``) the image's first pixel is CCD ``origin`` (row, col) and the physical
    WCS keys CRVAL1P/CRVAL2P record it. The image's celestial WCS is in image pixels.

    The headers are rendered once per run by astropy and only the per-frame cards are
    replaced here; data, padding and checksums are written directly (astropy's header
    handling dominated the time per frame).
    """
    setup: ExposureSetup = meta["setup"]
    cache = meta.setdefault("_ffi_templates", {})
    key = (origin, subframe, image.shape)
    if key not in cache:
        primary_t, image_t = _ffi_headers(meta, wcs, origin, subframe)
        cam, ccd = meta["camera"], meta["ccd"]
        hdus = []
        for name, template in ((None, primary_t), ("cal", image_t), ("uncert", image_t)):
            if name is None:
                hdu = fits.PrimaryHDU(header=template.copy())
                hdu.header.set("EXTEND", True, "file contains extensions", after="NAXIS")
            else:
                h = template.copy()
                # SPOC's extension names are mixed case ("CAMERA.CCD 1.1 cal").
                h["EXTNAME"] = (f"CAMERA.CCD {cam}.{ccd} {name}", "extension name")
                hdu = fits.ImageHDU(np.zeros(image.shape, dtype=np.float32), header=h)
                hdu.header["EXTNAME"] = (f"CAMERA.CCD {cam}.{ccd} {name}", "extension name")
            hdus.append(_HeaderTemplate(hdu.header, meta["date"]))
        cache[key] = hdus
    t0, t1, t2 = cache[key]
    date_obs, date_end = utc_iso([jd_start, jd_stop])
    values = {
        "TSTART": tstart,
        "TSTOP": tstop,
        "DATE-OBS": date_obs,
        "DATE-END": date_end,
        "BARYCORR": barycorr,
        "DQUALITY": int(quality),
        "FFIINDEX": int(ffiindex),
    }
    crpix = (
        (wcs.wcs.crpix[0] - origin[1], wcs.wcs.crpix[1] - origin[0])
        if subframe
        else tuple(wcs.wcs.crpix)
    )
    ext_values = values | {
        "TELAPSE": tstop - tstart,
        "LIVETIME": (tstop - tstart) * setup.deadc,
        "CRPIX1": float(crpix[0]),
        "CRPIX2": float(crpix[1]),
    }
    blocks = [t0.finish(t0.render(values), b"")]
    for template, data in ((t1, image), (t2, uncertainty)):
        raw = _padded(np.ascontiguousarray(data, dtype=">f4").tobytes(), b"\0")
        blocks.append(template.finish(template.render(ext_values), raw))
        blocks.append(raw)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as fh:
        for block in blocks:
            fh.write(block)
    tmp.replace(path)


def local_linear_wcs(wcs: WCS, row: float, col: float) -> tuple[tuple[float, float], np.ndarray]:
    """Sky position and CD matrix (deg/px, axes (col, row)) of ``wcs`` at CCD (row, col)."""
    pts = np.array([[col, row], [col + 1, row], [col, row + 1]], dtype=float)
    sky = wcs.all_pix2world(pts, 0)
    ra0, dec0 = sky[0]
    dra = ((sky[1:, 0] - ra0 + 180.0) % 360.0 - 180.0) * math.cos(math.radians(dec0))
    ddec = sky[1:, 1] - dec0
    # Intermediate coordinates increase towards east (RA) and north.
    cd = np.array([[dra[0], dra[1]], [ddec[0], ddec[1]]])
    return (float(ra0), float(dec0)), cd


def _stamp_wcs_cards(
    wcs: WCS, stamp_origin: tuple[int, int], shape: tuple[int, int], n: int | None
) -> list[tuple[str, Any, str]]:
    """WCS cards of a stamp; ``n`` = table column number (TPF) or None (image HDU)."""
    rc, cc = stamp_origin[0] + (shape[0] - 1) / 2, stamp_origin[1] + (shape[1] - 1) / 2
    (ra, dec), cd = local_linear_wcs(wcs, rc, cc)
    scale = math.sqrt(abs(np.linalg.det(cd)))
    cdelt = np.array([-scale, scale])
    pc = cd / cdelt[:, None]
    crpix = (cc - stamp_origin[1] + 1, rc - stamp_origin[0] + 1)
    if n is None:
        names = {
            "wcsaxes": "WCSAXES", "ctype1": "CTYPE1", "ctype2": "CTYPE2", "crpix1": "CRPIX1", "crpix2": "CRPIX2",
            "crval1": "CRVAL1", "crval2": "CRVAL2", "cunit1": "CUNIT1", "cunit2": "CUNIT2", "cdelt1": "CDELT1",
            "cdelt2": "CDELT2", "pc11": "PC1_1", "pc12": "PC1_2", "pc21": "PC2_1", "pc22": "PC2_2",
            "wcsnp": "WCSNAMEP", "wcsaxp": "WCSAXESP", "cty1p": "CTYPE1P", "cty2p": "CTYPE2P", "cun1p": "CUNIT1P",
            "cun2p": "CUNIT2P", "crp1p": "CRPIX1P", "crp2p": "CRPIX2P", "crv1p": "CRVAL1P", "crv2p": "CRVAL2P",
            "cdl1p": "CDELT1P", "cdl2p": "CDELT2P",
        }  # fmt: skip
    else:
        names = {
            "wcsaxes": f"WCAX{n}", "ctype1": f"1CTYP{n}", "ctype2": f"2CTYP{n}", "crpix1": f"1CRPX{n}",
            "crpix2": f"2CRPX{n}", "crval1": f"1CRVL{n}", "crval2": f"2CRVL{n}", "cunit1": f"1CUNI{n}",
            "cunit2": f"2CUNI{n}", "cdelt1": f"1CDLT{n}", "cdelt2": f"2CDLT{n}", "pc11": f"11PC{n}",
            "pc12": f"12PC{n}", "pc21": f"21PC{n}", "pc22": f"22PC{n}", "wcsnp": f"WCSN{n}P", "wcsaxp": f"WCAX{n}P",
            "cty1p": f"1CTY{n}P", "cty2p": f"2CTY{n}P", "cun1p": f"1CUN{n}P", "cun2p": f"2CUN{n}P",
            "crp1p": f"1CRP{n}P", "crp2p": f"2CRP{n}P", "crv1p": f"1CRV{n}P", "crv2p": f"2CRV{n}P",
            "cdl1p": f"1CDL{n}P", "cdl2p": f"2CDL{n}P",
        }  # fmt: skip
    return [
        (names["wcsnp"], "PHYSICAL", "table column WCS name"),
        (names["wcsaxp"], 2, "table column physical WCS dimensions"),
        (names["cty1p"], "RAWX", "physical WCS axis 1 type, CCD col"),
        (names["cty2p"], "RAWY", "physical WCS axis 2 type, CCD row"),
        (names["cun1p"], "PIXEL", "physical WCS axis 1 unit"),
        (names["cun2p"], "PIXEL", "physical WCS axis 2 unit"),
        (names["crv1p"], int(stamp_origin[1]) + 1, "physical WCS ax 1 ref value"),
        (names["crv2p"], int(stamp_origin[0]) + 1, "physical WCS ax 2 ref value"),
        (names["cdl1p"], 1.0, "physical WCS a1 step"),
        (names["cdl2p"], 1.0, "physical WCS a2 step"),
        (names["crp1p"], 1, "physical WCS a1 reference"),
        (names["crp2p"], 1, "physical WCS a2 reference"),
        (names["wcsaxes"], 2, "number of WCS axes"),
        (names["ctype1"], "RA---TAN", "right ascension coordinate type"),
        (names["ctype2"], "DEC--TAN", "declination coordinate type"),
        (names["crpix1"], float(crpix[0]), "[pixel] reference pixel along image axis 1"),
        (names["crpix2"], float(crpix[1]), "[pixel] reference pixel along image axis 2"),
        (names["crval1"], ra, "[deg] right ascension at reference pixel"),
        (names["crval2"], dec, "[deg] declination at reference pixel"),
        (names["cunit1"], "deg", "physical unit in column dimension"),
        (names["cunit2"], "deg", "physical unit in row dimension"),
        (names["cdelt1"], float(cdelt[0]), "[deg] pixel scale in RA dimension"),
        (names["cdelt2"], float(cdelt[1]), "[deg] pixel scale in DEC dimension"),
        (names["pc11"], float(pc[0, 0]), "linear transformation matrix element"),
        (names["pc12"], float(pc[0, 1]), "linear transformation matrix element"),
        (names["pc21"], float(pc[1, 0]), "linear transformation matrix element"),
        (names["pc22"], float(pc[1, 1]), "linear transformation matrix element"),
    ]


def write_tpf(
    path: Path,
    *,
    meta: dict[str, Any],
    target: dict[str, Any],
    wcs: WCS,
    stamp_origin: tuple[int, int],
    columns: dict[str, np.ndarray],
    aperture: np.ndarray,
    tstart: float,
    tstop: float,
    jd_start: float,
    jd_stop: float,
) -> None:
    """Write a SPOC-format target pixel file (PRIMARY, PIXELS, APERTURE).

    ``columns`` holds TIME, TIMECORR, CADENCENO, RAW_CNTS, FLUX, FLUX_ERR, FLUX_BKG,
    FLUX_BKG_ERR, QUALITY, POS_CORR1, POS_CORR2 with pixel cubes shaped (T, rows, cols).
    """
    setup: ExposureSetup = meta["setup"]
    shape = columns["FLUX"].shape[1:]
    npix = shape[0] * shape[1]
    dim = f"({shape[1]},{shape[0]})"
    primary = fits.PrimaryHDU()
    h0 = primary.header
    _common_primary(h0, meta)
    h0["CREATOR"] = ("tasoc simulate TargetPixelExporterPipelineModule", "pipeline module")
    h0["TSTART"] = (tstart, "observation start time in TJD")
    h0["TSTOP"] = (tstop, "observation stop time in TJD")
    h0["DATE-OBS"] = (utc_iso(jd_start)[0], "TSTART as UTC calendar date")
    h0["DATE-END"] = (utc_iso(jd_stop)[0], "TSTOP as UTC calendar date")
    h0["OBJECT"] = (f"TIC {target['starid']}", "string version of target id")
    h0["TICID"] = (int(target["starid"]), "unique tess target identifier")
    h0["PXTABLE"] = (128, "pixel table id")
    h0["RA_OBJ"] = (float(target["ra_j2000"]), "[deg] right ascension")
    h0["DEC_OBJ"] = (float(target["dec_j2000"]), "[deg] declination")
    h0["PMRA"] = (float(target["pm_ra"]), "[mas/yr] RA proper motion")
    h0["PMDEC"] = (float(target["pm_dec"]), "[mas/yr] Dec proper motion")
    h0["PMTOTAL"] = (
        float(math.hypot(target["pm_ra"], target["pm_dec"])),
        "[mas/yr] total proper motion",
    )
    h0["TESSMAG"] = (float(target["tmag"]), "[mag] TESS magnitude")
    h0["TEFF"] = (float(target["teff"]), "[K] Effective temperature")
    h0["TICVER"] = (8, "TICVER")
    h0.remove("NEXTEND")
    h0.insert("EXTNAME", ("NEXTEND", 2, "number of standard extensions"))

    cols = [
        fits.Column("TIME", "D", unit="BJD - 2457000, days", disp="D14.7", array=columns["TIME"]),
        fits.Column("TIMECORR", "E", unit="d", disp="E14.7", array=columns["TIMECORR"]),
        fits.Column("CADENCENO", "J", disp="I10", array=columns["CADENCENO"]),
        fits.Column(
            "RAW_CNTS",
            f"{npix}J",
            unit="count",
            null=-1,
            disp="I8",
            dim=dim,
            array=columns["RAW_CNTS"],
        ),
        fits.Column("FLUX", f"{npix}E", unit="e-/s", disp="E14.7", dim=dim, array=columns["FLUX"]),
        fits.Column(
            "FLUX_ERR", f"{npix}E", unit="e-/s", disp="E14.7", dim=dim, array=columns["FLUX_ERR"]
        ),
        fits.Column(
            "FLUX_BKG", f"{npix}E", unit="e-/s", disp="E14.7", dim=dim, array=columns["FLUX_BKG"]
        ),
        fits.Column(
            "FLUX_BKG_ERR",
            f"{npix}E",
            unit="e-/s",
            disp="E14.7",
            dim=dim,
            array=columns["FLUX_BKG_ERR"],
        ),
        fits.Column("QUALITY", "J", disp="B16.16", array=columns["QUALITY"]),
        fits.Column("POS_CORR1", "E", unit="pixel", disp="E14.7", array=columns["POS_CORR1"]),
        fits.Column("POS_CORR2", "E", unit="pixel", disp="E14.7", array=columns["POS_CORR2"]),
    ]
    table = fits.BinTableHDU.from_columns(cols, name="PIXELS")
    h1 = table.header
    for n in range(4, 9):
        for key, value, comment in _stamp_wcs_cards(wcs, stamp_origin, shape, n):
            h1[key] = (value, comment)
    h1["INHERIT"] = (True, "inherit the primary header")
    h1["EXTNAME"] = ("PIXELS", "name of extension")
    h1["TELESCOP"] = ("TESS", "telescope")
    h1["INSTRUME"] = ("TESS Photometer", "detector type")
    h1["OBJECT"] = h0["OBJECT"]
    h1["TICID"] = h0["TICID"]
    h1["RA_OBJ"] = h0["RA_OBJ"]
    h1["DEC_OBJ"] = h0["DEC_OBJ"]
    h1["EXPOSURE"] = ((tstop - tstart) * setup.deadc, "[d] time on source")
    _time_keys(h1, meta, tstart, tstop, jd_start, jd_stop)
    h1["BACKAPP"] = (True, "background is subtracted")
    h1["DEADAPP"] = (True, "deadtime applied")
    h1["VIGNAPP"] = (True, "vignetting or collimator correction applied")
    h1["CROWDSAP"] = (
        float(target.get("crowdsap", 1.0)),
        "Ratio of target flux to total flux in op. ap.",
    )
    h1["FLFRCSAP"] = (
        float(target.get("flfrcsap", 1.0)),
        "Frac. of target flux w/in the op. aperture",
    )

    ap = fits.ImageHDU(np.asarray(aperture, dtype=np.int32), name="APERTURE")
    h2 = ap.header
    h2["INHERIT"] = (True, "inherit the primary header")
    h2["TELESCOP"] = ("TESS", "telescope")
    h2["INSTRUME"] = ("TESS Photometer", "detector type")
    h2["OBJECT"] = h0["OBJECT"]
    h2["TICID"] = h0["TICID"]
    h2["RADESYS"] = ("ICRS", "reference frame of celestial coordinates")
    h2["RA_OBJ"] = h0["RA_OBJ"]
    h2["DEC_OBJ"] = h0["DEC_OBJ"]
    h2["EQUINOX"] = (2000.0, "equinox of celestial coordinate system")
    for key, value, comment in _stamp_wcs_cards(wcs, stamp_origin, shape, None):
        h2[key] = (value, comment)
    h2["NPIXSAP"] = (int(np.count_nonzero(aperture & 2)), "Number of pixels in optimal aperture")
    h2["NPIXMISS"] = (0, "Number of op. aperture pixels not collected")
    _write(fits.HDUList([primary, table, ap]), path, meta["date"])
