"""Sector pointings and per-CCD TAN-SIP WCS solutions, real where available.

Sources (shipped in ``tasoc_core/data_files``, see its PROVENANCE.md):

* ``pointings.csv``: spacecraft boresight RA, Dec and roll of sectors 1–135;
* ``TESS_wcs_data.json.bz2``: TAN-SIP solutions fitted to real FFIs, sectors 1–108.

A sector's real solution for a camera is used when it is self-consistent: the camera
boresight pixel of each CCD (``tasoc_core.geometry.CAMERA_CENTRE_PIXEL``) must map to the
same sky position within 30″ on all four CCDs (some early solutions are off by degrees).
Otherwise the camera geometry of a template sector (13, consistent to ~2″) is rotated
rigidly onto the sector's pointing. Rotating a gnomonic projection about the sphere's
centre only moves the tangent point and turns the plane, so the rotated WCS is exact: new
CRVAL, CD turned by the local angle between the rotated and the new north, SIP unchanged.
Sectors beyond the pointing table get a synthetic pointing (the cycle-1/2 pointing of
the same sector in the 26-sector pattern, at later dates).
"""

from __future__ import annotations

import bz2
import csv
import functools
import json
from importlib import resources
from typing import Any

import attrs
import numpy as np
from astropy.wcs import WCS, Sip

from tasoc_core.exceptions import SimulationError
from tasoc_core.geometry import camera_centre_pixel

__all__ = [
    "MAX_SECTOR",
    "TEMPLATE_SECTOR",
    "CcdGeometry",
    "SectorPointing",
    "attitude_matrix",
    "ccd_geometry",
    "sector_pointing",
]

#: Highest sector the simulator accepts (the planetary ephemeris ends in 2053).
MAX_SECTOR = 400
#: Sector whose camera geometry is rotated onto sectors without a usable real solution.
TEMPLATE_SECTOR = 13
_CONSISTENCY_ARCSEC = 30.0
_SECTOR_DAYS = 27.4


@attrs.frozen
class SectorPointing:
    """Spacecraft boresight of a sector.

    Attributes
    ----------
    sector
        Sector number.
    ra, dec, roll
        Boresight RA, Dec and roll (degrees), as in the mission's pointing table.
    start_jd, end_jd
        Sector start and end (JD, from the pointing table).
    source
        ``"real"`` (pointing table) or ``"synthetic"``.
    """

    sector: int
    ra: float
    dec: float
    roll: float
    start_jd: float
    end_jd: float
    source: str


@attrs.frozen
class CcdGeometry:
    """Where one CCD looks: its WCS and the camera boresight.

    Attributes
    ----------
    sector, camera, ccd
        Which CCD.
    wcs
        TAN-SIP WCS of the full FFI image (0-based pixel (x, y) = CCD (col, row)).
    source
        ``"real"`` (sector's own solution) or ``"template"`` (rotated template sector).
    camera_centre_pixel
        CCD (row, col) of the camera boresight (``tasoc_core.geometry``).
    camera_centre_sky
        (RA, Dec) of the camera boresight: ``camera_centre_pixel`` through ``wcs``.
    """

    sector: int
    camera: int
    ccd: int
    wcs: WCS = attrs.field(eq=False, repr=False)
    source: str
    camera_centre_pixel: tuple[float, float]
    camera_centre_sky: tuple[float, float]


def _data_file(name: str) -> Any:
    return resources.files("tasoc_core").joinpath("data_files", name)


@functools.cache
def _pointing_table() -> dict[int, tuple[float, float, float, float, float]]:
    with _data_file("pointings.csv").open("r", encoding="utf-8-sig") as fh:
        rows = list(csv.DictReader(fh))
    return {
        int(r["Sector"]): (
            float(r["RA"]),
            float(r["Dec"]),
            float(r["Roll"]),
            float(r["Start"]),
            float(r["End"]),
        )
        for r in rows
    }


@functools.cache
def _wcs_table() -> dict[str, Any]:
    with _data_file("TESS_wcs_data.json.bz2").open("rb") as fh:
        return json.loads(bz2.decompress(fh.read()))


def sector_pointing(sector: int) -> SectorPointing:
    """Boresight and dates of ``sector`` (real if tabulated, else synthetic).

    Raises
    ------
    SimulationError
        If the sector is not between 1 and :data:`MAX_SECTOR`.
    """
    table = _pointing_table()
    if not 1 <= int(sector) <= MAX_SECTOR:
        raise SimulationError(
            f"sector {sector} is unknown (sectors 1–{MAX_SECTOR} can be simulated)"
        )
    sector = int(sector)
    if sector in table:
        ra, dec, roll, start, end = table[sector]
        return SectorPointing(sector, ra, dec, roll, start, end, "real")
    last = max(s for s in table if s <= MAX_SECTOR)  # the table also has special pointings (1751)
    ra, dec, roll, _, _ = table[(sector - 1) % 26 + 1]
    start = table[last][4] + (sector - last - 1) * _SECTOR_DAYS
    return SectorPointing(sector, ra, dec, roll, start, start + _SECTOR_DAYS, "synthetic")


def _rot(axis: int, angle_deg: float) -> np.ndarray:
    a = np.radians(angle_deg)
    c, s = np.cos(a), np.sin(a)
    i, j = [(1, 2), (2, 0), (0, 1)][axis]
    m = np.eye(3)
    m[i, i] = m[j, j] = c
    m[i, j], m[j, i] = -s, s
    return m


def attitude_matrix(ra: float, dec: float, roll: float) -> np.ndarray:
    """Rotation from the spacecraft frame to ICRS for a boresight (ra, dec) and roll.

    The convention (Rz(ra)·Ry(−dec)·Rx(roll)) reproduces the real camera positions of
    different sectors from the pointing table to ~40″.
    """
    return _rot(2, ra) @ _rot(1, -dec) @ _rot(0, roll)


def _unit(ra: float, dec: float) -> np.ndarray:
    a, d = np.radians(ra), np.radians(dec)
    return np.array([np.cos(d) * np.cos(a), np.cos(d) * np.sin(a), np.sin(d)])


def _radec(v: np.ndarray) -> tuple[float, float]:
    v = v / np.linalg.norm(v)
    return float(np.degrees(np.arctan2(v[1], v[0])) % 360.0), float(
        np.degrees(np.arcsin(np.clip(v[2], -1, 1)))
    )


def _east_north(ra: float, dec: float) -> tuple[np.ndarray, np.ndarray]:
    a, d = np.radians(ra), np.radians(dec)
    east = np.array([-np.sin(a), np.cos(a), 0.0])
    north = np.array([-np.sin(d) * np.cos(a), -np.sin(d) * np.sin(a), np.cos(d)])
    return east, north


def _wcs_from_entry(entry: dict[str, Any]) -> WCS:
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN-SIP", "DEC--TAN-SIP"]
    wcs.wcs.crval = entry["crval0"]
    wcs.wcs.crpix = entry["crpix0"]
    wcs.wcs.cd = np.array(entry["cd"], dtype=float)
    wcs.sip = Sip(
        np.array(entry["sip_a"]), np.array(entry["sip_b"]),
        np.array(entry["sip_ap"]), np.array(entry["sip_bp"]), entry["crpix0"],
    )  # fmt: skip
    wcs.wcs.set()
    return wcs


def _rotate_wcs(wcs: WCS, rotation: np.ndarray) -> WCS:
    """The WCS of the same camera after a rigid rotation of the sky (exact for TAN-SIP)."""
    old_ra, old_dec = wcs.wcs.crval
    e_old, n_old = _east_north(old_ra, old_dec)
    new_ra, new_dec = _radec(rotation @ _unit(old_ra, old_dec))
    e_new, n_new = _east_north(new_ra, new_dec)
    e_rot, n_rot = rotation @ e_old, rotation @ n_old
    turn = np.array([[e_rot @ e_new, n_rot @ e_new], [e_rot @ n_new, n_rot @ n_new]])
    out = wcs.deepcopy()
    out.wcs.crval = [new_ra, new_dec]
    out.wcs.cd = turn @ wcs.wcs.cd
    out.wcs.set()
    return out


def _camera_spread_arcsec(sector: int, camera: int) -> float:
    entries = _wcs_table()[str(sector)][str(camera)]
    vecs = []
    for ccd in (1, 2, 3, 4):
        row, col = camera_centre_pixel(camera, ccd)
        ra, dec = _wcs_from_entry(entries[str(ccd)]).all_pix2world([[col, row]], 0)[0]
        vecs.append(_unit(ra, dec))
    vecs = np.array(vecs)
    mean = vecs.mean(axis=0)
    mean /= np.linalg.norm(mean)
    return float(np.degrees(np.arccos(np.clip(vecs @ mean, -1, 1))).max() * 3600.0)


@functools.cache
def ccd_geometry(sector: int, camera: int, ccd: int) -> CcdGeometry:
    """WCS and camera boresight of one CCD in one sector.

    Raises
    ------
    SimulationError
        If the sector, camera or CCD is unknown.
    """
    for name, value in (("camera", camera), ("ccd", ccd)):
        if not 1 <= int(value) <= 4:
            raise SimulationError(f"{name} {value} is unknown (cameras and CCDs are 1–4)")
    pointing = sector_pointing(sector)
    table = _wcs_table()
    key = str(int(sector))
    if key in table and _camera_spread_arcsec(int(sector), camera) < _CONSISTENCY_ARCSEC:
        wcs = _wcs_from_entry(table[key][str(camera)][str(ccd)])
        source = "real"
    else:
        template = _wcs_from_entry(table[str(TEMPLATE_SECTOR)][str(camera)][str(ccd)])
        tp = table[str(TEMPLATE_SECTOR)]
        rotation = (
            attitude_matrix(pointing.ra, pointing.dec, pointing.roll)
            @ attitude_matrix(tp["ra"], tp["dec"], tp["roll"]).T
        )
        wcs = _rotate_wcs(template, rotation)
        source = "template"
    row, col = camera_centre_pixel(camera, ccd)
    ra, dec = wcs.all_pix2world([[col, row]], 0)[0]
    return CcdGeometry(
        sector=int(sector),
        camera=int(camera),
        ccd=int(ccd),
        wcs=wcs,
        source=source,
        camera_centre_pixel=(row, col),
        camera_centre_sky=(float(ra), float(dec)),
    )
