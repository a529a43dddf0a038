"""A small SPOC-like sector directory with known truth, for the catalog and TODO tests.

Layout (as ``tasoc simulate`` writes it)::

    tasoc.toml, ffi/, tpf/, catalog/tic.csv

* Five sub-frame FFIs of sector 1, camera 4, CCD 1 (CCD rows 340–469, columns 1560–1689)
  whose TAN-SIP WCS is the real sector-1 solution of that CCD (``tesswcs``). Frame 1 is
  closest to the reference time but has bad quality, so frame 2 is the reference frame;
  the other frames' WCS are shifted by 0.4 px per frame so a wrong choice shows.
* TPFs: the real SPOC TPF of TIC 25155310 (which lies on this sub-frame) and synthetic
  ones (TAN WCS fitted to the FFI WCS, APERTURE images with holes), one of them with a
  20-s twin; a TPF on camera 4 CCD 2 (no FFIs there); a TPF of sector 2; an unreadable
  file; a TPF whose primary is not in the catalog.
* A TIC extract with stars placed at chosen CCD positions *at the reference time* and
  moved back to J2000 with astropy's ``apply_space_motion``: interior stars, stars 0.1 px
  either side of the sub-frame edges, high-proper-motion stars crossing an edge, stars
  0.09° and 0.11° beyond the footprint, secondaries, DUPLICATE/SPLIT/ARTIFACT rows, a
  row without Tmag, a star on the other side of the sky.

Every star carries labels (``Star.label``) stating what should happen to it; the tests
compute expectations from those labels and from independent astropy computations.
"""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import attrs
import numpy as np
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.table import MaskedColumn, Table
from astropy.time import Time
from astropy.wcs import WCS, FITSFixedWarning, Sip
from astropy.wcs.utils import fit_wcs_from_points

from tasoc_core.data.target import Stamp
from tasoc_core.sectors import reference_time

DATA = Path(__file__).resolve().parents[1] / "data"
REAL_TPF = DATA / "tess25155310-s01-first-cadences.fits.gz"
REAL_TIC = 25155310

SECTOR = 1
CAMERA = 4
T0 = 1325.30
FFI_OFFSETS = (0.0, 6.0, 8.0, 20.0, 27.5)
FFI_QUALITY = (0, 32, 0, 0, 0)
REF_INDEX = 2
FFI_CADENCE = 1800
SUBFRAME = Stamp(340, 470, 1560, 1690)


def reference_btjd() -> float:
    return reference_time(T0 + FFI_OFFSETS[0], T0 + FFI_OFFSETS[-1] + FFI_CADENCE / 86400.0)


def reference_epoch() -> Time:
    return Time(reference_btjd() + 2457000.0, format="jd", scale="tdb")


def ccd_wcs(ccd: int) -> WCS:
    """Real sector-1 camera-4 TAN-SIP WCS in 0-based CCD coordinates."""
    data = json.loads((DATA / "tesswcs_s01_camera4.json").read_text())["ccds"][f"4-{ccd}"]
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN-SIP", "DEC--TAN-SIP"]
    wcs.wcs.crval = data["crval0"]
    wcs.wcs.crpix = data["crpix0"]
    wcs.wcs.cd = data["cd"]
    wcs.sip = Sip(
        np.array(data["sip_a"]),
        np.array(data["sip_b"]),
        np.array(data["sip_ap"]),
        np.array(data["sip_bp"]),
        wcs.wcs.crpix,
    )
    wcs.wcs.set()
    return wcs


def pixel_to_sky(wcs: WCS, row: float, col: float) -> tuple[float, float]:
    ra, dec = wcs.all_pix2world([col], [row], 0)
    return float(ra[0]), float(dec[0])


def _distance(pm_ra: np.ndarray, pm_dec: np.ndarray) -> u.Quantity:
    """Distances giving ~100 km/s tangential speeds (ERFA overrides superluminal ones)."""
    return 20.0 / np.maximum(np.hypot(pm_ra, pm_dec) / 1000.0, 1e-3) * u.pc


def to_j2000(ra: float, dec: float, pm_ra: float, pm_dec: float) -> tuple[float, float]:
    """Move a reference-epoch position back to J2000 with astropy (independent of tasoc)."""
    if not (np.isfinite(pm_ra) and np.isfinite(pm_dec)) or (pm_ra == 0 and pm_dec == 0):
        return ra, dec
    c = SkyCoord(
        ra=ra * u.deg, dec=dec * u.deg, pm_ra_cosdec=pm_ra * u.mas / u.yr, pm_dec=pm_dec * u.mas / u.yr,
        distance=_distance(pm_ra, pm_dec), radial_velocity=0 * u.km / u.s, obstime=reference_epoch(),
    )  # fmt: skip
    c0 = c.apply_space_motion(new_obstime=Time("J2000", scale="tdb"))
    return float(c0.ra.deg), float(c0.dec.deg)


def at_reference(
    ra: np.ndarray, dec: np.ndarray, pm_ra: np.ndarray, pm_dec: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """J2000 positions moved to the reference epoch with astropy (NaN pm: unchanged)."""
    ra, dec = np.array(ra, dtype=float), np.array(dec, dtype=float)
    known = np.isfinite(pm_ra) & np.isfinite(pm_dec)
    if np.any(known):
        c = SkyCoord(
            ra=ra[known] * u.deg, dec=dec[known] * u.deg,
            pm_ra_cosdec=np.asarray(pm_ra)[known] * u.mas / u.yr, pm_dec=np.asarray(pm_dec)[known] * u.mas / u.yr,
            distance=_distance(np.asarray(pm_ra)[known], np.asarray(pm_dec)[known]),
            radial_velocity=0 * u.km / u.s, obstime=Time("J2000", scale="tdb"),
        )  # fmt: skip
        c1 = c.apply_space_motion(new_obstime=reference_epoch())
        ra[known], dec[known] = c1.ra.deg, c1.dec.deg
    return ra, dec


def offset_on_sky(
    ra: float, dec: float, toward_ra: float, toward_dec: float, angle_deg: float
) -> tuple[float, float]:
    """Point ``angle_deg`` from (ra, dec) on the great circle away from (toward_ra, toward_dec)."""
    start = SkyCoord(ra * u.deg, dec * u.deg)
    other = SkyCoord(toward_ra * u.deg, toward_dec * u.deg)
    pa = other.position_angle(start)  # direction continuing from `other` through `start`
    moved = start.directional_offset_by(pa, angle_deg * u.deg)
    return float(moved.ra.deg), float(moved.dec.deg)


def edge_normal_point(
    wcs: WCS, edge_row: float, edge_col: float, axis: str, outward: int, angle_deg: float
) -> tuple[float, float]:
    """A point ``angle_deg`` beyond a straight pixel edge, perpendicular to it on the sky.

    ``axis`` is the direction along the edge ("row" or "col"); ``outward`` is the sign of
    the pixel direction leaving the footprint across it.
    """
    e_ra, e_dec = pixel_to_sky(wcs, edge_row, edge_col)
    if axis == "col":  # edge along columns at a fixed row
        a = pixel_to_sky(wcs, edge_row, edge_col - 1.0)
        b = pixel_to_sky(wcs, edge_row, edge_col + 1.0)
        inner = pixel_to_sky(wcs, edge_row - outward * 1.0, edge_col)
    else:
        a = pixel_to_sky(wcs, edge_row - 1.0, edge_col)
        b = pixel_to_sky(wcs, edge_row + 1.0, edge_col)
        inner = pixel_to_sky(wcs, edge_row, edge_col - outward * 1.0)
    e = SkyCoord(e_ra * u.deg, e_dec * u.deg)
    va = SkyCoord(a[0] * u.deg, a[1] * u.deg).cartesian.xyz.value
    vb = SkyCoord(b[0] * u.deg, b[1] * u.deg).cartesian.xyz.value
    ve = e.cartesian.xyz.value
    normal = np.cross(va, vb)
    normal /= np.linalg.norm(normal)
    vin = SkyCoord(inner[0] * u.deg, inner[1] * u.deg).cartesian.xyz.value
    if np.dot(normal, vin - ve) > 0:
        normal = -normal
    # Rotate e towards `normal` (perpendicular to the edge's great circle) by the angle.
    t = np.radians(angle_deg)
    p = ve * np.cos(t) + normal * np.sin(t)
    c = SkyCoord(x=p[0], y=p[1], z=p[2], representation_type="cartesian").spherical
    return float(c.lon.deg), float(c.lat.deg)


@attrs.define
class Star:
    """One row of the TIC extract and what should become of it."""

    starid: int
    ra: float  #: J2000
    dec: float
    pm_ra: float
    pm_dec: float
    tmag: float
    teff: float = 5500.0
    disposition: str = ""
    duplicate_id: int | None = None
    ccd: int = 1
    label: str = ""
    #: Expected secondary rows: {(primary TIC, cadence): edge distance}.
    secondary_in: dict[tuple[int, int], float] = attrs.field(factory=dict)
    in_catalog: bool = True
    in_extract: bool = True


@attrs.define
class TPFSpec:
    starid: int
    stamp: Stamp
    ccd: int = 1
    sector: int = SECTOR
    cadence: int = 120
    holes: tuple[tuple[int, int], ...] = ()  #: CCD (row, col) of pixels not collected
    uncollected_cols: tuple[int, ...] = ()
    header_star: Star | None = None  #: header values (RA_OBJ, ...) come from this star


@attrs.define
class SectorFixture:
    """The written directory and its truth."""

    root: Path
    config: Path
    stars: list[Star]
    tpfs: list[TPFSpec]
    ffi_paths: list[Path]
    reference_frame: str

    def star(self, starid: int) -> Star:
        return next(s for s in self.stars if s.starid == starid)


def _grid_ok(row: float, col: float, stamps: list[Stamp], margin: float = 3.0) -> bool:
    return not any(
        s.row_min - margin <= row <= s.row_max + margin
        and s.col_min - margin <= col <= s.col_max + margin
        for s in stamps
    )


# --- writers ---------------------------------------------------------------------------------


def _ffi_name(btjd: float, ccd: int, sector: int = SECTOR) -> str:
    t = Time(btjd + 2457000.0, format="jd", scale="tdb").utc.to_datetime()
    return f"tess{t:%Y%j%H%M%S}-s{sector:04d}-{CAMERA}-{ccd}-0120-s_ffic.fits"


def write_ffi(
    path: Path, wcs: WCS, sub: Stamp, *, tstart: float, quality: int, index: int, ccd: int = 1
) -> None:
    local = wcs.deepcopy()
    local.wcs.crpix = [wcs.wcs.crpix[0] - sub.col_min, wcs.wcs.crpix[1] - sub.row_min]
    if local.sip is not None:
        local.sip = Sip(wcs.sip.a, wcs.sip.b, wcs.sip.ap, wcs.sip.bp, local.wcs.crpix)
    tstop = tstart + FFI_CADENCE / 86400.0
    common = {
        "TSTART": tstart, "TSTOP": tstop, "CAMERA": CAMERA, "CCD": ccd, "BARYCORR": 0.003,
        "DQUALITY": quality, "FFIINDEX": 4697 + index, "TIMEDEL": FFI_CADENCE / 86400.0,
    }  # fmt: skip
    primary = fits.PrimaryHDU()
    primary.header.update(
        {"TELESCOP": "TESS", "ORIGIN": "NASA/Ames", "CREATOR": "tasoc tests", **common}
    )
    image = np.zeros(sub.shape, dtype=np.float32)
    header = local.to_header(relax=True)
    header.update(common)
    header.update(
        {"WCSNAMEP": "PHYSICAL", "CTYPE1P": "RAWX", "CTYPE2P": "RAWY", "CRPIX1P": 1, "CRPIX2P": 1,
         "CRVAL1P": sub.col_min + 1, "CRVAL2P": sub.row_min + 1, "CDELT1P": 1.0, "CDELT2P": 1.0}
    )  # fmt: skip
    cal = fits.ImageHDU(image, header=header, name=f"CAMERA.CCD {CAMERA}.{ccd} cal")
    err = fits.ImageHDU(np.ones_like(image), name=f"CAMERA.CCD {CAMERA}.{ccd} uncert")
    fits.HDUList([primary, cal, err]).writeto(path)


def fitted_tan(wcs: WCS, stamp: Stamp) -> WCS:
    """TAN WCS of the stamp (pixel (0, 0) = first stamp pixel), fitted to ``wcs`` like SPOC's."""
    rows, cols = np.mgrid[stamp.row_min : stamp.row_max, stamp.col_min : stamp.col_max]
    ra, dec = wcs.all_pix2world(cols.ravel(), rows.ravel(), 0)
    xy = (cols.ravel() - stamp.col_min, rows.ravel() - stamp.row_min)
    return fit_wcs_from_points(xy, SkyCoord(ra * u.deg, dec * u.deg), projection="TAN")


def write_tpf(path: Path, spec: TPFSpec, wcs: WCS, star: Star) -> WCS:
    """Write a SPOC-like TPF; returns its TAN WCS in stamp pixel coordinates."""
    s = spec.stamp
    tan = fitted_tan(wcs, s)
    nrow, ncol = s.shape
    aperture = np.full(s.shape, 1 | 2 | 256, dtype=np.int32)
    for r, c in spec.holes:
        aperture[r - s.row_min, c - s.col_min] = 256
    for c in spec.uncollected_cols:
        aperture[:, c - s.col_min] = 256
    tstart, tstop = T0, T0 + 27.6
    primary = fits.PrimaryHDU()
    primary.header.update(
        {"ORIGIN": "NASA/Ames", "CREATOR": "TargetPixelExporterPipelineModule", "TELESCOP": "TESS",
         "OBJECT": f"TIC {spec.starid}", "TICID": spec.starid, "SECTOR": spec.sector, "CAMERA": CAMERA,
         "CCD": spec.ccd, "RA_OBJ": star.ra, "DEC_OBJ": star.dec, "PMRA": star.pm_ra, "PMDEC": star.pm_dec,
         "TESSMAG": star.tmag, "TEFF": star.teff, "TSTART": tstart, "TSTOP": tstop, "EQUINOX": 2000.0}
    )  # fmt: skip
    n = 3
    npix = nrow * ncol
    tdim = f"({ncol},{nrow})"
    cols = [
        fits.Column("TIME", "D", array=tstart + np.arange(n) * spec.cadence / 86400.0),
        fits.Column("TIMECORR", "E", array=np.zeros(n)),
        fits.Column("CADENCENO", "J", array=np.arange(n)),
        fits.Column("RAW_CNTS", f"{npix}J", dim=tdim, array=np.zeros((n, nrow, ncol), np.int32)),
        fits.Column(
            "FLUX", f"{npix}E", dim=tdim, unit="e-/s", array=np.zeros((n, nrow, ncol), np.float32)
        ),
        fits.Column(
            "FLUX_ERR",
            f"{npix}E",
            dim=tdim,
            unit="e-/s",
            array=np.ones((n, nrow, ncol), np.float32),
        ),
        fits.Column("FLUX_BKG", f"{npix}E", dim=tdim, array=np.zeros((n, nrow, ncol), np.float32)),
        fits.Column(
            "FLUX_BKG_ERR", f"{npix}E", dim=tdim, array=np.zeros((n, nrow, ncol), np.float32)
        ),
        fits.Column("QUALITY", "J", array=np.zeros(n, np.int32)),
        fits.Column("POS_CORR1", "E", array=np.zeros(n)),
        fits.Column("POS_CORR2", "E", array=np.zeros(n)),
    ]
    table = fits.BinTableHDU.from_columns(cols, name="PIXELS")
    th = table.header
    th["TIMEDEL"] = spec.cadence / 86400.0
    th["TSTART"], th["TSTOP"], th["BJDREFI"] = tstart, tstop, 2457000
    h = tan.to_header()
    for k in (4, 5, 6, 7, 8):
        th[f"1CTYP{k}"], th[f"2CTYP{k}"] = h["CTYPE1"], h["CTYPE2"]
        th[f"1CRPX{k}"], th[f"2CRPX{k}"] = h["CRPIX1"], h["CRPIX2"]
        th[f"1CRVL{k}"], th[f"2CRVL{k}"] = h["CRVAL1"], h["CRVAL2"]
        th[f"1CDLT{k}"], th[f"2CDLT{k}"] = h.get("CDELT1", 1.0), h.get("CDELT2", 1.0)
        for ij in ("1_1", "1_2", "2_1", "2_2"):
            th[f"{ij[0]}{ij[2]}PC{k}"] = h.get(f"PC{ij}", 1.0 if ij[0] == ij[2] else 0.0)
        th[f"1CRV{k}P"], th[f"2CRV{k}P"] = s.col_min + 1, s.row_min + 1
    ap_header = tan.to_header()
    ap_header.update({"CRVAL1P": s.col_min + 1, "CRVAL2P": s.row_min + 1, "WCSNAMEP": "PHYSICAL"})
    ap = fits.ImageHDU(aperture, header=ap_header, name="APERTURE")
    fits.HDUList([primary, table, ap]).writeto(path)
    return tan


def _tpf_name(spec: TPFSpec) -> str:
    suffix = "a_fast-tp" if spec.cadence == 20 else "s_tp"
    return f"tess2018206045859-s{spec.sector:04d}-{spec.starid:016d}-0120-{suffix}.fits"


# --- the fixture ------------------------------------------------------------------------------


def build_sector(root: Path) -> SectorFixture:
    """Write the fixture directory under ``root`` and return it with its truth."""
    root.mkdir(parents=True, exist_ok=True)
    for d in ("ffi", "tpf", "catalog"):
        (root / d).mkdir(exist_ok=True)
    w1, w2 = ccd_wcs(1), ccd_wcs(2)
    stars: list[Star] = []
    placed: dict[str, tuple[float, float]] = {}

    def add(starid: int, row: float, col: float, tmag: float, *, ccd: int = 1, pm: tuple[float, float] = (0.0, 0.0),
            label: str = "", wcs: WCS | None = None, **kw: object) -> Star:  # fmt: skip
        ra, dec = pixel_to_sky(wcs or (w1 if ccd == 1 else w2), row, col)
        ra0, dec0 = to_j2000(ra, dec, *pm)
        star = Star(starid, ra0, dec0, pm[0], pm[1], tmag, ccd=ccd, label=label, **kw)  # type: ignore[arg-type]
        stars.append(star)
        placed[label or str(starid)] = (row, col)
        return star

    # TPF stamps (CCD coordinates) on camera 4 CCD 1 and CCD 2.
    tpf_a = TPFSpec(
        1001, Stamp(420, 431, 1580, 1591), holes=((427, 1582),), uncollected_cols=(1590,)
    )
    tpf_a_fast = TPFSpec(1001, Stamp(422, 429, 1582, 1589), cadence=20)
    tpf_b = TPFSpec(1002, Stamp(428, 441, 1570, 1583))
    tpf_g = TPFSpec(1004, Stamp(418, 429, 1588, 1599))
    tpf_c = TPFSpec(999000001, Stamp(450, 461, 1655, 1666))
    tpf_e = TPFSpec(1007, Stamp(1000, 1011, 1000, 1011), ccd=2)
    tpf_d = TPFSpec(1005, Stamp(400, 411, 1600, 1611), sector=2)
    real_stamp = Stamp(388, 399, 1618, 1629)
    stamps = [t.stamp for t in (tpf_a, tpf_b, tpf_g, tpf_c)] + [real_stamp]

    # Interior grid of FFI stars, Tmag 8-16.5, away from the TPFs.
    rng = np.random.default_rng(42)
    sid = 100
    for row in np.arange(352.3, 466, 13.0):
        for col in np.arange(1571.4, 1686, 13.0):
            if not _grid_ok(row, col, stamps):
                continue
            pm = tuple(rng.normal(0, 30, 2))
            add(sid, row, col, float(rng.uniform(8.0, 16.5)), pm=pm, label=f"grid{sid}")  # type: ignore[arg-type]
            sid += 1
    # Make sure both sides of the faint limit are represented exactly at the limit.
    add(190, 460.0, 1600.0, 15.0, label="at_limit")  # not < 15: no FFI target
    add(191, 460.0, 1612.0, 14.999, label="just_bright")
    # Edges of the sub-frame: 0.1 px inside / outside (pixel edges at 339.5, 469.5, 1559.5, 1689.5).
    add(201, 339.6, 1600.3, 10.0, label="edge_row_min_in")
    add(202, 339.4, 1610.3, 10.0, label="edge_row_min_out")
    add(203, 469.4, 1640.2, 10.0, label="edge_row_max_in")
    add(204, 469.6, 1650.2, 10.0, label="edge_row_max_out")
    add(205, 400.2, 1559.6, 10.0, label="edge_col_min_in")
    add(206, 410.2, 1559.4, 10.0, label="edge_col_min_out")
    add(207, 440.2, 1689.4, 10.0, label="edge_col_max_in")
    add(208, 446.2, 1689.6, 10.0, label="edge_col_max_out")
    # High proper motion: J2000 position outside, reference position inside (and vice versa).
    ref_in = pixel_to_sky(w1, 341.0, 1630.2)
    j2000_out = pixel_to_sky(w1, 336.0, 1630.2)
    ref_out = pixel_to_sky(w1, 338.0, 1660.3)
    j2000_in = pixel_to_sky(w1, 343.0, 1660.3)
    years = reference_epoch().jyear - 2000.0
    for starid, (ra1, dec1), (ra0, dec0), label in (
        (211, ref_in, j2000_out, "pm_moves_in"),
        (212, ref_out, j2000_in, "pm_moves_out"),
    ):
        c0, c1 = SkyCoord(ra0 * u.deg, dec0 * u.deg), SkyCoord(ra1 * u.deg, dec1 * u.deg)
        dra, ddec = c0.spherical_offsets_to(c1)
        pm = (dra.to_value(u.mas) / years, ddec.to_value(u.mas) / years)
        stars.append(Star(starid, ra0, dec0, pm[0], pm[1], 9.0, label=label))
    # Beyond the footprint: 0.09 deg (kept) and 0.11 deg (dropped); corners checked by distance.
    for starid, (er, ec, axis, out), angle, label, keep in (
        (221, (404.7, 1559.5, "row", -1), 0.09, "buffer_in_left", True),
        (222, (339.5, 1625.0, "col", -1), 0.11, "buffer_out_bottom", False),
        (223, (469.5, 1610.0, "col", +1), 0.095, "buffer_in_top", True),
        (224, (430.0, 1689.5, "row", +1), 0.105, "buffer_out_right", False),
    ):
        ra, dec = edge_normal_point(w1, er, ec, axis, out, angle)
        stars.append(Star(starid, ra, dec, 0.0, 0.0, 11.0, label=label, in_catalog=keep))
    corner = pixel_to_sky(w1, 339.5, 1559.5)
    inner = pixel_to_sky(w1, 404.5, 1624.5)
    for starid, angle, keep in ((225, 0.09, True), (226, 0.12, False)):
        ra, dec = offset_on_sky(*corner, *inner, angle)
        stars.append(
            Star(starid, ra, dec, 0.0, 0.0, 11.0, label=f"corner_{angle}", in_catalog=keep)
        )
    # Flagged rows: never in the catalog.
    g = next(s for s in stars if s.label.startswith("grid"))
    for starid, disp in ((231, "DUPLICATE"), (232, "SPLIT"), (233, "artifact")):
        stars.append(Star(starid, g.ra + 1e-4, g.dec, g.pm_ra, g.pm_dec, g.tmag, disposition=disp,
                          duplicate_id=g.starid if disp == "DUPLICATE" else None, label=f"flag_{disp}", in_catalog=False))  # fmt: skip
    # Other side of the sky.
    stars.append(
        Star(241, (g.ra + 180.0) % 360.0, -g.dec, 0.0, 0.0, 8.0, label="far", in_catalog=False)
    )

    # TPF primaries and secondaries (positions on CCD 1 through the FFI WCS).
    add(1001, 425.2, 1585.3, 8.0, label="P1")
    add(1002, 434.2, 1576.3, 9.0, label="P2")
    add(1004, 423.4, 1589.2, 10.0, label="P4_primary_and_secondary")
    add(2001, 423.1, 1587.2, 12.0, label="S_in", secondary_in={(1001, 120): 2.3, (1001, 20): 1.3})
    add(2002, 427.2, 1583.3, 13.0, label="S_hole", secondary_in={(1001, 120): 0.8, (1001, 20): 1.3})
    add(2003, 429.8, 1590.2, 12.5, label="S_not_collected")
    add(2004, 429.0, 1584.0, 15.5, label="S_faint")
    add(2005, 429.6, 1581.0, 11.0, label="S_dup", secondary_in={(1002, 120): 1.5})
    # TPF on CCD 2 (no FFIs there).
    add(1007, 1005.3, 1005.1, 7.5, ccd=2, label="P_ccd2")
    add(2007, 1002.2, 1008.3, 13.0, ccd=2, label="S_ccd2", secondary_in={(1007, 120): 2.2})
    add(2008, 1003.0, 1003.0, 16.0, ccd=2, label="faint_ccd2")
    e_out = edge_normal_point(w2, 1010.5, 1005.0, "col", +1, 0.15)
    stars.append(
        Star(2009, *e_out, 0.0, 0.0, 12.0, ccd=2, label="ccd2_beyond_buffer", in_catalog=False)
    )
    e_in = edge_normal_point(w2, 999.5, 1005.0, "col", -1, 0.05)
    stars.append(Star(2010, *e_in, 0.0, 0.0, 12.0, ccd=2, label="ccd2_in_buffer"))

    # The real TPF: its primary from its own header, a secondary placed with its own WCS.
    with fits.open(REAL_TPF) as hdul:
        h0 = hdul[0].header
        real = Star(
            REAL_TIC,
            h0["RA_OBJ"],
            h0["DEC_OBJ"],
            h0["PMRA"],
            h0["PMDEC"],
            h0["TESSMAG"],
            teff=h0["TEFF"],
            label="real_primary",
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FITSFixedWarning)
            real_wcs = WCS(hdul["APERTURE"].header).celestial
    stars.append(real)
    ra, dec = real_wcs.all_pix2world([7.0 - 0.2], [2.0 + 0.1], 0)  # stamp pixel (row 2, col 7)
    stars.append(Star(2006, *to_j2000(float(ra[0]), float(dec[0]), 0.0, 0.0), 0.0, 0.0, 12.0, label="S_real",
                      secondary_in={(REAL_TIC, 120): 2.6}))  # fmt: skip

    # TPF C's primary is not in the catalog (header values only).
    c_star = add(999000001, 455.3, 1660.2, 9.5, pm=(40.0, -25.0), label="C_not_in_catalog")
    c_star.in_catalog = c_star.in_extract = False
    # TPF D (sector 2) primary.
    add(1005, 405.2, 1605.3, 10.5, label="D_sector2")

    # Rows the reader must drop or handle.
    bad_tmag = Star(251, g.ra + 0.01, g.dec, 0.0, 0.0, np.nan, label="no_tmag", in_catalog=False)
    stars.append(bad_tmag)
    half_pm = add(252, 365.5, 1680.5, 12.0, label="half_pm")
    half_pm.pm_dec = np.nan  # only pmRA known: not propagated (pmRA 0 here, so position holds)

    # --- write the files ---
    ffi_paths = []
    for i, (dt_, q) in enumerate(zip(FFI_OFFSETS, FFI_QUALITY)):
        w = w1.deepcopy()
        w.wcs.crpix = [w.wcs.crpix[0] + 0.4 * (i - REF_INDEX), w.wcs.crpix[1]]
        w.sip = Sip(w1.sip.a, w1.sip.b, w1.sip.ap, w1.sip.bp, w.wcs.crpix)
        path = root / "ffi" / _ffi_name(T0 + dt_, 1)
        write_ffi(path, w, SUBFRAME, tstart=T0 + dt_, quality=q, index=i)
        ffi_paths.append(path)

    by_id = {s.starid: s for s in stars}
    tpfs = [tpf_a, tpf_a_fast, tpf_b, tpf_g, tpf_c, tpf_e, tpf_d]
    for spec in tpfs:
        write_tpf(
            root / "tpf" / _tpf_name(spec), spec, w1 if spec.ccd == 1 else w2, by_id[spec.starid]
        )
    shutil.copy(
        REAL_TPF, root / "tpf" / "tess2018206045859-s0001-0000000025155310-0120-s_tp.fits.gz"
    )
    (root / "tpf" / "tess2018206045859-s0001-0000000000001006-0120-s_tp.fits").write_bytes(
        b"not a FITS file\n" * 10
    )

    write_extract(root / "catalog" / "tic.csv", stars)
    config = root / "tasoc.toml"
    config.write_text(
        'paths.input = "."\npaths.output = "out"\npaths.catalog = "catalog/tic.csv"\n[selection]\nsector = 1\n'
    )
    return SectorFixture(root, config, stars, tpfs, ffi_paths, ffi_paths[REF_INDEX].name)


def make_config(fx: SectorFixture, out: Path, extra: str = "") -> Path:
    """A configuration reading ``fx`` and writing under ``out`` (which is created)."""
    out.mkdir(parents=True, exist_ok=True)
    config = out / "tasoc.toml"
    config.write_text(
        f'[paths]\ninput = "{fx.root}"\noutput = "{out}"\ncatalog = "{fx.root / "catalog" / "tic.csv"}"\n'
        f"[selection]\nsector = {SECTOR}\n{extra}"
    )
    return config


def extract_table(stars: list[Star]) -> Table:
    """The stars as a TIC extract with MAST column names (blank = masked)."""
    stars = [s for s in stars if s.in_extract]

    def masked(values: list[float]) -> MaskedColumn:
        arr = np.array(values, dtype=float)
        return MaskedColumn(np.nan_to_num(arr), mask=~np.isfinite(arr))

    return Table(
        {
            "ID": np.array([s.starid for s in stars], dtype=np.int64),
            "ra": [s.ra for s in stars],
            "dec": [s.dec for s in stars],
            "pmRA": masked([s.pm_ra for s in stars]),
            "pmDEC": masked([s.pm_dec for s in stars]),
            "Tmag": masked([s.tmag for s in stars]),
            "Teff": masked([s.teff for s in stars]),
            "disposition": MaskedColumn(
                [s.disposition for s in stars], mask=[not s.disposition for s in stars]
            ),
            "duplicate_id": MaskedColumn(
                [s.duplicate_id or 0 for s in stars],
                mask=[s.duplicate_id is None for s in stars],
                dtype=np.int64,
            ),
        }
    )


def write_extract(path: Path, stars: list[Star], fmt: str | None = None) -> Path:
    extract_table(stars).write(path, format=fmt or "ascii.csv", overwrite=True)
    return path


__all__ = [
    "REAL_TIC",
    "SUBFRAME",
    "SectorFixture",
    "Star",
    "TPFSpec",
    "at_reference",
    "build_sector",
    "ccd_wcs",
    "extract_table",
    "make_config",
    "reference_btjd",
    "reference_epoch",
    "write_extract",
]
