"""An independent, deliberately plain re-computation of a TODO-file's targets.

Used to check ``tasoc todo`` on any sector directory (the fixture sector, and the
simulator's ``ci_sector`` when it is available). It shares no code with tasoc's catalog
and TODO stages: files are read with astropy, WCS headers parsed by astropy, proper
motions applied with ``SkyCoord.apply_space_motion``, secondaries found with loops over
TPFs and stars, and edge distances measured by brute force. Only the *choice* of the
reference frame (recorded in the catalog file) and the sector reference epoch are taken
from tasoc's catalog, since those are inputs to the rules checked here.
"""

from __future__ import annotations

import sqlite3
import warnings
from pathlib import Path

import numpy as np
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.table import Table
from astropy.time import Time
from astropy.wcs import WCS, FITSFixedWarning, Sip

Key = tuple[int, str, int]  # starid, datasource, cadence


def _wcs_in_ccd(header: fits.Header) -> tuple[WCS, int, int]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FITSFixedWarning)
        wcs = WCS(header, relax=True).celestial
    col0 = int(header["CRVAL1P"]) - 1 if "CRVAL1P" in header else 0
    row0 = int(header["CRVAL2P"]) - 1 if "CRVAL2P" in header else 0
    wcs.wcs.crpix = [wcs.wcs.crpix[0] + col0, wcs.wcs.crpix[1] + row0]
    if wcs.sip is not None:
        wcs.sip = Sip(wcs.sip.a, wcs.sip.b, wcs.sip.ap, wcs.sip.bp, wcs.wcs.crpix)
    return wcs, row0, col0


def read_extract(path: Path, epoch_jyear: float) -> Table:
    """The extract without flagged rows, with positions at ``epoch_jyear``."""
    t = Table.read(path)
    names = {c.lower(): c for c in t.colnames}
    disp = (
        np.ma.filled(t[names["disposition"]].astype(str), "")
        if "disposition" in names
        else np.full(len(t), "")
    )
    tmag = np.ma.filled(np.ma.asarray(t[names["tmag"]], dtype=float), np.nan)
    t = t[(np.char.strip(disp.astype(str)) == "") & np.isfinite(tmag)]
    pm_ra = np.ma.filled(np.ma.asarray(t[names["pmra"]], dtype=float), np.nan)
    pm_dec = np.ma.filled(np.ma.asarray(t[names["pmdec"]], dtype=float), np.nan)
    known = np.isfinite(pm_ra) & np.isfinite(pm_dec)
    ra = np.asarray(t[names["ra"]], dtype=float).copy()
    dec = np.asarray(t[names["dec"]], dtype=float).copy()
    if np.any(known):
        speed = np.maximum(np.hypot(pm_ra[known], pm_dec[known]) / 1000.0, 1e-3)
        c = SkyCoord(
            ra=ra[known] * u.deg, dec=dec[known] * u.deg, pm_ra_cosdec=pm_ra[known] * u.mas / u.yr,
            pm_dec=pm_dec[known] * u.mas / u.yr, distance=20.0 / speed * u.pc,
            radial_velocity=0 * u.km / u.s, obstime=Time("J2000", scale="tdb"),
        )  # fmt: skip
        moved = c.apply_space_motion(new_obstime=Time(epoch_jyear, format="jyear", scale="tdb"))
        ra[known], dec[known] = moved.ra.deg, moved.dec.deg
    return Table(
        {
            "starid": np.asarray(t[names["id"]], dtype=np.int64),
            "ra": ra,
            "dec": dec,
            "tmag": np.asarray(t[names["tmag"]], float),
        }
    )


def _pixels(
    wcs: WCS, stars: Table, centre: SkyCoord, radius_deg: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Indices of stars within ``radius_deg`` of ``centre`` and their CCD (row, col)."""
    near = np.flatnonzero(
        SkyCoord(stars["ra"] * u.deg, stars["dec"] * u.deg).separation(centre).deg < radius_deg
    )
    if len(near) == 0:
        return near, np.zeros(0), np.zeros(0)
    col, row = wcs.all_world2pix(stars["ra"][near], stars["dec"][near], 0)
    return near, np.asarray(row), np.asarray(col)


def _edge_distance_brute(
    row: float, col: float, row0: int, col0: int, collected: np.ndarray
) -> float:
    """Distance to the nearest non-collected pixel (outside the stamp counts), by sampling."""
    best = np.inf
    s = np.linspace(-0.5, 0.5, 201)
    for r in range(-1, collected.shape[0] + 1):
        for c in range(-1, collected.shape[1] + 1):
            if 0 <= r < collected.shape[0] and 0 <= c < collected.shape[1] and collected[r, c]:
                continue
            cr, cc = row0 + r, col0 + c
            if abs(row - cr) <= 0.5 and abs(col - cc) <= 0.5:
                return 0.0
            d = min(
                np.min(np.hypot(row - (cr + s), col - (cc - 0.5))), np.min(np.hypot(row - (cr + s), col - (cc + 0.5))),
                np.min(np.hypot(row - (cr - 0.5), col - (cc + s))), np.min(np.hypot(row - (cr + 0.5), col - (cc + s))),
            )  # fmt: skip
            best = min(best, d)
    return float(best)


def expected_todo(
    input_dir: Path, catalog_dir: Path, extract: Path, sector: int, faint_limit: float = 15.0
) -> dict[Key, tuple[int, int, float]]:
    """{(starid, datasource, cadence): (camera, ccd, edge_dist)} that ``tasoc todo`` must produce."""
    out: dict[Key, tuple[int, int, float]] = {}
    catalogs = sorted(catalog_dir.glob(f"catalog_sector{sector:03d}_camera*_ccd*.sqlite"))
    assert catalogs, f"no catalogs in {catalog_dir}"
    ffis = {p.name: p for p in input_dir.rglob("*_ffic.fits*")}
    tpfs = []
    for p in sorted(input_dir.rglob("*tp.fits*")):
        try:
            with fits.open(p) as hdul:
                h0, h1 = hdul[0].header, hdul[1].header
                ap = hdul["APERTURE"]
                if h0["SECTOR"] != sector:
                    continue
                wcs, row0, col0 = _wcs_in_ccd(ap.header)
                tpfs.append((h0["TICID"], h0["CAMERA"], h0["CCD"], round(h1["TIMEDEL"] * 86400), wcs, row0, col0,
                             (np.asarray(ap.data) & 1) != 0))  # fmt: skip
        except (OSError, KeyError):
            continue  # unreadable files are skipped by tasoc too
    primaries = {(t[0], t[3]) for t in tpfs}
    secondaries: dict[tuple[int, int], list[tuple[float, int, int, int]]] = {}
    for path in catalogs:
        conn = sqlite3.connect(path)
        camera, ccd, epoch, frame = conn.execute(
            "SELECT camera, ccd, epoch, reference_frame FROM settings"
        ).fetchone()
        conn.close()
        stars = read_extract(extract, epoch)
        bright = stars[stars["tmag"] < faint_limit]
        if frame:
            with fits.open(ffis[frame]) as hdul:
                header = hdul[0].header.copy()
                header.update(hdul[1].header)
                shape = hdul[1].data.shape
            wcs, row0, col0 = _wcs_in_ccd(header)
            if shape == (2078, 2136):
                r_lo, r_hi, c_lo, c_hi = -0.5, 2047.5, 43.5, 2091.5
            else:
                r_lo, r_hi, c_lo, c_hi = (
                    row0 - 0.5,
                    row0 + shape[0] - 0.5,
                    col0 - 0.5,
                    col0 + shape[1] - 0.5,
                )
            centre = SkyCoord(
                *wcs.all_pix2world([0.5 * (c_lo + c_hi)], [0.5 * (r_lo + r_hi)], 0), unit="deg"
            )[0]
            corner = SkyCoord(*wcs.all_pix2world([c_lo], [r_lo], 0), unit="deg")[0]
            idx, row, col = _pixels(wcs, bright, centre, centre.separation(corner).deg + 0.5)
            for i, r, c in zip(idx, row, col):
                edge = min(r - r_lo, r_hi - r, c - c_lo, c_hi - c)
                if edge >= 0:
                    out[(int(bright["starid"][i]), "ffi", _ffi_cadence(ffis[frame]))] = (
                        camera,
                        ccd,
                        edge,
                    )
        for tic, cam, cd, cadence, wcs, row0, col0, collected in tpfs:
            if (cam, cd) != (camera, ccd):
                continue
            out[(int(tic), "tpf", cadence)] = (cam, cd, np.nan)
            mid_r, mid_c = (
                row0 + 0.5 * (collected.shape[0] - 1),
                col0 + 0.5 * (collected.shape[1] - 1),
            )
            centre = SkyCoord(*wcs.all_pix2world([mid_c], [mid_r], 0), unit="deg")[0]
            idx, row, col = _pixels(wcs, bright, centre, 1.0)
            for i, r, c in zip(idx, row, col):
                starid = int(bright["starid"][i])
                pr, pc = int(np.floor(r + 0.5)) - row0, int(np.floor(c + 0.5)) - col0
                if starid == tic or not (
                    0 <= pr < collected.shape[0] and 0 <= pc < collected.shape[1]
                ):
                    continue
                if not collected[pr, pc] or not (0 <= pr + row0 < 2048 and 44 <= pc + col0 < 2092):
                    continue
                if (starid, cadence) in primaries:
                    continue
                edge = _edge_distance_brute(r, c, row0, col0, collected)
                secondaries.setdefault((starid, cadence), []).append((edge, -int(tic), cam, cd))
    for (starid, cadence), found in secondaries.items():
        edge, neg_tic, cam, cd = max(found)
        out[(starid, f"tpf:{-neg_tic}", cadence)] = (cam, cd, edge)
    return out


def _ffi_cadence(path: Path) -> int:
    timedel = fits.getval(path, "TIMEDEL", ext=1)
    return round(float(timedel) * 86400)
