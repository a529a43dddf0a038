"""CBV files: tasoc's product (paper 004 §5.1) and the mission's (SPOC) CBV files.

tasoc CBV file ``tess-s{SSSS}-c{cad:04d}-a{area}-v{VER:02d}-tasoc_cbv.fits`` (FILEVER 1.0):

* HDU 0: ORIGIN, DATE, TELESCOP, INSTRUME, SECTOR, VERSION, CADENCE, PROCVER, FILEVER,
  TSTART/TSTOP, DATE-OBS/DATE-END, CAMERA, CCD, CBV_AREA, the build settings (``THR_*``…)
  and statistics (NSTARS…).
* ``CBV.SINGLE-SCALE.{area}`` and ``CBV.SPIKE.{area}``: binary tables with TIME (D, TJD
  without barycentric correction), CADENCENO (J), GAP (L, true where the vectors are
  undefined) and VECTOR_1..K (E; NaN at gaps in the normal table, 0 in the spike table).
* ``CBV.COEFFICIENTS.{area}`` (optional): every star of the area fitted with all K CBVs —
  TICID (K), ROW, COLUMN, TMAG (D) and C0, CBV_1..K, CBVS_1..K (D) — for the prior.

SPOC CBV files (``tess{date}-s{SSSS}-{cam}-{ccd}-{scid}-s_cbv.fits``, also ``fast-cbv``)
are read from their ``CBV.single-scale.{cam}.{ccd}`` and ``CBV.spike.{cam}.{ccd}``
extensions (columns TIME, CADENCENO, GAP, VECTOR_n), the layout lightkurve's
``load_tess_cbvs`` reads.
"""

from __future__ import annotations

import datetime
import os
import re
import tempfile
from importlib import metadata
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.time import Time

from tasoc_cbv.basis import CBVCoefficients, CBVSet
from tasoc_core.exceptions import InputFileError

__all__ = [
    "FILEVER",
    "cbv_filename",
    "find_spoc_cbv_files",
    "read_cbv_fits",
    "read_spoc_cbvs",
    "write_atomic",
    "write_cbv_fits",
]

#: Primary-header keys that describe how a product was built (returned as ``CBVSet.meta``).
_META_KEYS = frozenset(
    ["NCOMP", "THR_VAR", "THR_COR", "THR_SNR", "THR_ENT", "MAX_ENT", "MIN_STAR", "NAREA",
     "NLOWVAR", "NCORR", "NENTREM", "NSTARS", "AVGINTP", "PROCVER"]
)  # fmt: skip

#: Version of the tasoc CBV file format.
FILEVER = "1.0"
_NAME = re.compile(r"^tess-s(\d{4})-c(\d{4})-a(\d{3})-v(\d{2})-tasoc_cbv\.fits$")

try:
    _PROCVER = metadata.version("tasoc-cbv")
except metadata.PackageNotFoundError:  # source tree without installation
    _PROCVER = "0.0.0+unknown"


def cbv_filename(sector: int, cadence: int, area: int, version: int) -> str:
    """File name of a tasoc CBV product (paper 004 §5.1)."""
    return f"tess-s{sector:04d}-c{cadence:04d}-a{area:03d}-v{version:02d}-tasoc_cbv.fits"


def parse_cbv_filename(name: str) -> tuple[int, int, int, int] | None:
    """(sector, cadence, area, version) of a tasoc CBV file name, or None."""
    m = _NAME.match(name)
    return tuple(int(g) for g in m.groups()) if m else None  # type: ignore[return-value]


def write_atomic(path: Path, write) -> None:
    """Call ``write(tmp_path)`` on a temporary name beside ``path``, then rename it into place."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _utc(tjd: float) -> str:
    return Time(tjd + 2457000.0, format="jd", scale="tdb").utc.isot


def _vector_table(
    cbvs: CBVSet, vectors: np.ndarray, name: str, gap: np.ndarray
) -> fits.BinTableHDU:
    cols = [
        fits.Column(name="TIME", format="D", unit="TJD - 2457000, days", array=cbvs.time, disp="D14.7"),
        fits.Column(name="CADENCENO", format="J", array=cbvs.cadenceno, disp="I10"),
        fits.Column(name="GAP", format="L", array=gap, disp="L1"),
    ]  # fmt: skip
    for k in range(vectors.shape[1]):
        cols.append(
            fits.Column(name=f"VECTOR_{k + 1}", format="E", array=vectors[:, k], disp="F8.5")
        )
    hdu = fits.BinTableHDU.from_columns(cols, name=name)
    return hdu


def write_cbv_fits(cbvs: CBVSet, path: Path, header: dict | None = None) -> Path:
    """Write ``cbvs`` as a tasoc CBV file (atomically: temporary name, then rename).

    Parameters
    ----------
    cbvs
        The vectors of one area.
    path
        Output file.
    header
        Extra primary-header cards ``{KEY: (value, comment)}`` (settings, statistics).
    """
    if cbvs.area is None:
        raise ValueError("only area CBVs (with an area number) are written as tasoc CBV files")
    path = Path(path)
    area = cbvs.area
    finite_t = cbvs.time[np.isfinite(cbvs.time)]
    tstart, tstop = (float(finite_t.min()), float(finite_t.max())) if len(finite_t) else (0, 0)
    primary = fits.PrimaryHDU()
    h = primary.header
    cards = {
        "ORIGIN": ("tasoc", "institution responsible for creating this file"),
        "DATE": (datetime.date.today().isoformat(), "file creation date"),
        "TELESCOP": ("TESS", "telescope"),
        "INSTRUME": ("TESS Photometer", "detector type"),
        "SECTOR": (cbvs.sector, "Observing sector"),
        "VERSION": (cbvs.version, "TASOC data release version"),
        "CADENCE": (cbvs.cadence, "[s] cadence of the vectors"),
        "PROCVER": (_PROCVER, "tasoc-cbv version"),
        "FILEVER": (FILEVER, "file format version"),
        "TSTART": (tstart, "first cadence mid-time in TJD"),
        "TSTOP": (tstop, "last cadence mid-time in TJD"),
        "DATE-OBS": (_utc(tstart), "TSTART as UTC calendar date"),
        "DATE-END": (_utc(tstop), "TSTOP as UTC calendar date"),
        "CAMERA": (cbvs.camera, "Camera number"),
        "CCD": (cbvs.ccd, "CCD chip number"),
        "CBV_AREA": (area, "CBV area"),
        "NSTARS": (cbvs.nstars, "Stars used to compute the CBVs"),
    }
    cards.update(header or {})
    for key, (value, comment) in cards.items():
        h[key] = (value, comment)
    gap = ~np.all(np.isfinite(cbvs.single), axis=1)
    single = _vector_table(cbvs, cbvs.single, f"CBV.SINGLE-SCALE.{area}", gap)
    spike = _vector_table(cbvs, np.nan_to_num(cbvs.spike), f"CBV.SPIKE.{area}", gap)
    for hdu in (single, spike):
        th = hdu.header
        th["TIMEREF"] = ("LOCAL", "no barycentric correction applied to times")
        th["TIMESYS"] = ("TDB", "time system")
        th["JDREFI"] = (2457000, "integer part of TJD reference date")
        th["JDREFF"] = (0.0, "fraction of the day in TJD reference date")
        th["TIMEUNIT"] = ("d", "time unit for TIME, TSTART and TSTOP")
        th["TSTART"] = (tstart, "first cadence mid-time in TJD")
        th["TSTOP"] = (tstop, "last cadence mid-time in TJD")
        th["TELAPSE"] = (tstop - tstart, "[d] TSTOP - TSTART")
        th["TIMEPIXR"] = (0.5, "bin time beginning=0 middle=0.5 end=1")
        th["TIMEDEL"] = (cbvs.cadence / 86400.0, "[d] time resolution of data")
        th["CAMERA"] = (cbvs.camera, "Camera number")
        th["CCD"] = (cbvs.ccd, "CCD chip number")
        th["CBV_AREA"] = (area, "CBV area")
        for key in ("THR_COR", "THR_VAR", "THR_SNR", "THR_ENT"):
            if key in cards:
                th[key] = cards[key]
    hdus = [primary, single, spike]
    if cbvs.coefficients is not None:
        c = cbvs.coefficients
        k = cbvs.ncomponents
        cols = [
            fits.Column(name="TICID", format="K", array=c.starid),
            fits.Column(name="ROW", format="D", array=c.row, unit="pixels"),
            fits.Column(name="COLUMN", format="D", array=c.col, unit="pixels"),
            fits.Column(name="TMAG", format="D", array=c.tmag),
            fits.Column(name="C0", format="D", array=c.values[:, 0]),
        ]
        cols += [
            fits.Column(name=f"CBV_{j + 1}", format="D", array=c.values[:, 1 + j]) for j in range(k)
        ]
        cols += [fits.Column(name=f"CBVS_{j + 1}", format="D", array=c.values[:, 1 + k + j]) for j in range(k)]  # fmt: skip
        hdus.append(fits.BinTableHDU.from_columns(cols, name=f"CBV.COEFFICIENTS.{area}"))
    write_atomic(
        path, lambda tmp: fits.HDUList(hdus).writeto(tmp, checksum=True, output_verify="exception")
    )
    return path


def _vectors(hdu: fits.BinTableHDU) -> np.ndarray:
    names = sorted(
        (n for n in hdu.columns.names if n.upper().startswith("VECTOR_")),
        key=lambda n: int(n.split("_")[1]),
    )
    if not names:
        return np.zeros((len(hdu.data), 0))
    return np.column_stack([np.asarray(hdu.data[n], dtype=np.float64) for n in names])


def read_cbv_fits(path: Path) -> CBVSet:
    """Read a tasoc CBV file.

    Raises
    ------
    InputFileError
        If the file is missing, unreadable or lacks the expected extensions (names the file).
    """
    path = Path(path)
    try:
        with fits.open(path, memmap=False) as hdul:
            h = hdul[0].header
            area = int(h["CBV_AREA"])
            single_hdu = hdul[f"CBV.SINGLE-SCALE.{area}"]
            spike_hdu = hdul[f"CBV.SPIKE.{area}"]
            single = _vectors(single_hdu)
            spike = _vectors(spike_hdu)
            gap = np.asarray(single_hdu.data["GAP"], dtype=bool)
            single[gap] = np.nan
            coefficients = None
            name = f"CBV.COEFFICIENTS.{area}"
            if name in hdul:
                d = hdul[name].data
                k = single.shape[1]
                values = np.column_stack(
                    [d["C0"]]
                    + [d[f"CBV_{j + 1}"] for j in range(k)]
                    + [d[f"CBVS_{j + 1}"] for j in range(k)]
                )
                coefficients = CBVCoefficients(
                    starid=d["TICID"], row=d["ROW"], col=d["COLUMN"], tmag=d["TMAG"], values=values
                )
            meta = {key: h[key] for key in h if key in _META_KEYS}
            return CBVSet(
                sector=int(h["SECTOR"]),
                camera=int(h["CAMERA"]),
                ccd=int(h["CCD"]),
                cadence=int(h["CADENCE"]),
                area=area,
                time=np.asarray(single_hdu.data["TIME"], dtype=np.float64),
                cadenceno=np.asarray(single_hdu.data["CADENCENO"], dtype=np.int64),
                single=single,
                spike=spike,
                source="tasoc",
                version=int(h["VERSION"]),
                nstars=int(h.get("NSTARS", 0)),
                coefficients=coefficients,
                meta=meta,
            )
    except FileNotFoundError:
        raise InputFileError(f"CBV file {path} does not exist") from None
    except (OSError, KeyError, ValueError, TypeError) as exc:
        raise InputFileError(f"CBV file {path} is not a valid tasoc CBV file: {exc}") from None


_SPOC = re.compile(r"-s(\d{4})-(\d)-(\d)-\d{4}-[a-z]_(fast-)?cbv\.fits(\.gz)?$")


def find_spoc_cbv_files(directory: Path, sector: int, camera: int, ccd: int) -> list[Path]:
    """SPOC CBV files in ``directory`` for one sector, camera and CCD (sorted by name)."""
    out = []
    for path in sorted(Path(directory).glob("*cbv.fits*")):
        m = _SPOC.search(path.name)
        if m and (int(m.group(1)), int(m.group(2)), int(m.group(3))) == (sector, camera, ccd):
            out.append(path)
    return out


def read_spoc_cbvs(path: Path) -> CBVSet:
    """Read the single-scale and spike vectors of a SPOC CBV file.

    The cadence is taken from the TIME column. Spike vectors (SPOC has fewer of them than
    single-scale vectors) are paired with the single-scale vectors of the same index; the
    rest get a zero spike column.

    Raises
    ------
    InputFileError
        If the file is missing or not a SPOC CBV file (names the file).
    """
    path = Path(path)
    try:
        with fits.open(path, memmap=False) as hdul:
            h0 = hdul[0].header
            names = {hdu.name.upper(): hdu for hdu in hdul[1:]}
            singles = [n for n in names if n.startswith("CBV.SINGLE-SCALE.")]
            if not singles:
                raise KeyError("no CBV.single-scale.<camera>.<ccd> extension")
            single_hdu = names[singles[0]]
            camera = int(single_hdu.header["CAMERA"])
            ccd = int(single_hdu.header["CCD"])
            single = _vectors(single_hdu)
            spike = np.zeros_like(single)
            spike_hdu = names.get(f"CBV.SPIKE.{camera}.{ccd}")
            if spike_hdu is not None:
                sv = np.nan_to_num(_vectors(spike_hdu))
                k = min(sv.shape[1], single.shape[1])
                spike[:, :k] = sv[:, :k]
            time = np.asarray(single_hdu.data["TIME"], dtype=np.float64)
            cadenceno = np.asarray(single_hdu.data["CADENCENO"], dtype=np.int64)
            if "GAP" in single_hdu.columns.names:
                gap = np.asarray(single_hdu.data["GAP"], dtype=bool)
                single[gap] = np.nan
            finite = np.isfinite(time)
            if finite.sum() < 2:
                raise ValueError("fewer than two valid times")
            dt = np.median(np.diff(time[finite]) / np.maximum(np.diff(cadenceno[finite]), 1))
            return CBVSet(
                sector=int(h0["SECTOR"]),
                camera=camera,
                ccd=ccd,
                cadence=round(dt * 86400.0),
                area=None,
                time=time,
                cadenceno=cadenceno,
                single=single,
                spike=spike,
                source="spoc",
                version=int(h0.get("DATA_REL", 0)),
                meta={"FILE": path.name, "PROCVER": h0.get("PROCVER", "")},
            )
    except FileNotFoundError:
        raise InputFileError(f"SPOC CBV file {path} does not exist") from None
    except (OSError, KeyError, ValueError, TypeError) as exc:
        raise InputFileError(f"{path} is not a readable SPOC CBV file: {exc}") from None
