"""Where a camera/CCD looks on the sky during a sector, and at which reference time.

The footprint of a CCD is its science pixels (for sub-frame FFIs, the sub-frame) mapped to
the sky through the WCS of the *reference frame*: the good-quality FFI closest in time to
the sector's reference time. A CCD without FFIs but with TPFs is covered by the footprints
of its TPFs instead.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from typing import Literal

import attrs
import numpy as np
from astropy.wcs import WCS
from scipy.spatial import cKDTree

from tasoc_core.catalog._sky import SkyPolygon, angular_distance, radec_to_vector
from tasoc_core.catalog._tpf import TPFHeader
from tasoc_core.data.target import Stamp
from tasoc_core.exceptions import CatalogError, InputFileError
from tasoc_core.geometry import camera_centre_pixel
from tasoc_core.io import FFIHeader, FFIName, read_ffi_header
from tasoc_core.sectors import reference_time

__all__ = [
    "CCDFootprint",
    "camera_distance",
    "footprint_from_ffis",
    "footprint_from_tpfs",
    "select_reference_frame",
    "stamp_polygon",
    "wcs_round_trip_ok",
]

logger = logging.getLogger(__name__)

# Pixels between vertices along a footprint edge. SIP distortion bends the edges; with
# TESS's second-order terms (~2e-5 /px) a 128-px chord is within 0.1 px of the true edge,
# far below the 0.1 deg (17 px) buffer.
_EDGE_STEP = 128
# Reading every FFI header of a sector is slow for real data; above this many files the
# frames nearest the reference time are found from the times in the file names first.
_READ_ALL_LIMIT = 64
_CANDIDATES = 8


@attrs.frozen
class CCDFootprint:
    """Sky coverage of one sector/camera/CCD.

    Attributes
    ----------
    sector, camera, ccd
        Which CCD.
    reference_time
        Sector reference time, BTJD (catalog epoch, reference frame).
    polygons
        Sky polygons of the science area (one) or of the TPFs (several).
    camera_centre
        RA, Dec (degrees) of the camera boresight.
    kind
        ``"ffi"`` or ``"tpf"``: what the polygons were made from.
    reference_frame
        File name of the reference FFI (empty for TPF footprints).
    wcs
        Celestial WCS of the reference frame in CCD coordinates (None for TPF footprints).
    science
        The science pixels covered by the FFIs (None for TPF footprints).
    """

    sector: int
    camera: int
    ccd: int
    reference_time: float
    polygons: tuple[SkyPolygon, ...] = attrs.field(converter=tuple, eq=False)
    camera_centre: tuple[float, float]
    kind: Literal["ffi", "tpf"]
    reference_frame: str = ""
    wcs: WCS | None = attrs.field(default=None, eq=False, repr=False)
    science: Stamp | None = None

    def contains(self, ra: np.ndarray, dec: np.ndarray, buffer: float = 0.0) -> np.ndarray:
        """True for positions within ``buffer`` degrees of any of the polygons."""
        ra = np.atleast_1d(np.asarray(ra, dtype=float))
        dec = np.atleast_1d(np.asarray(dec, dtype=float))
        inside = np.zeros(ra.shape, dtype=bool)
        if len(self.polygons) <= 4:
            for polygon in self.polygons:
                inside |= polygon.contains(ra, dec, buffer)
            return inside
        # Many small polygons (TPF stamps): test each only against the stars near it.
        tree = cKDTree(radec_to_vector(ra, dec).reshape(-1, 3))
        for polygon in self.polygons:
            chord = 2.0 * np.sin(np.radians(min(polygon.radius + buffer, 179.0)) / 2.0)
            near = np.asarray(
                tree.query_ball_point(radec_to_vector(*polygon.centre), chord), dtype=np.int64
            )
            if len(near):
                inside[near] |= polygon.contains(ra[near], dec[near], buffer)
        return inside


def stamp_polygon(wcs: WCS, stamp: Stamp, *, step: int = _EDGE_STEP) -> SkyPolygon:
    """Sky polygon of the outer edges of ``stamp``'s pixels through ``wcs`` (CCD coordinates)."""
    r0, r1 = stamp.row_min - 0.5, stamp.row_max - 0.5
    c0, c1 = stamp.col_min - 0.5, stamp.col_max - 0.5

    def edge(a: float, b: float) -> np.ndarray:
        n = max(1, int(np.ceil(abs(b - a) / step)))
        return np.linspace(a, b, n + 1)[:-1]

    # Walk the border: bottom (row r0), right (col c1), top (row r1), left (col c0).
    cols = np.concatenate(
        [edge(c0, c1), np.full(len(edge(r0, r1)), c1), edge(c1, c0), np.full(len(edge(r1, r0)), c0)]
    )
    rows = np.concatenate(
        [np.full(len(edge(c0, c1)), r0), edge(r0, r1), np.full(len(edge(c1, c0)), r1), edge(r1, r0)]
    )
    ra, dec = wcs.all_pix2world(cols, rows, 0)
    if not (np.all(np.isfinite(ra)) and np.all(np.isfinite(dec))):
        raise CatalogError(f"WCS gives no sky position for some corners of {stamp.as_tuple()}")
    return SkyPolygon(ra, dec)


def wcs_round_trip_ok(wcs: WCS, stamp: Stamp, *, tolerance: float = 0.01) -> bool:
    """True if sky→pixel inverts pixel→sky at the corners and centre of ``stamp``."""
    rows = np.array(
        [
            stamp.row_min,
            stamp.row_min,
            stamp.row_max - 1,
            stamp.row_max - 1,
            0.5 * (stamp.row_min + stamp.row_max),
        ]
    )
    cols = np.array(
        [
            stamp.col_min,
            stamp.col_max - 1,
            stamp.col_min,
            stamp.col_max - 1,
            0.5 * (stamp.col_min + stamp.col_max),
        ]
    )
    try:
        ra, dec = wcs.all_pix2world(cols, rows, 0)
        col2, row2 = wcs.all_world2pix(ra, dec, 0, maxiter=50, tolerance=1e-6)
    except Exception:
        return False
    err = np.hypot(col2 - cols, row2 - rows)
    return bool(np.all(np.isfinite(err)) and np.all(err < tolerance))


def _name_time(ffi: FFIName) -> float | None:
    """Seconds since 2000 of the date in an FFI file name (``YYYYDDDHHMMSS``)."""
    try:
        stamp = dt.datetime.strptime(ffi.date, "%Y%j%H%M%S")
    except ValueError:
        return None
    return (stamp - dt.datetime(2000, 1, 1)).total_seconds()


def _read(ffi: FFIName) -> FFIHeader | None:
    try:
        return read_ffi_header(ffi.path)
    except InputFileError as exc:
        logger.warning("skipping FFI for the reference frame: %s", exc)
        return None


def _good(header: FFIHeader) -> bool:
    return (
        header.quality == 0
        and header.wcs is not None
        and wcs_round_trip_ok(header.wcs, header.science)
    )


def select_reference_frame(ffis: Sequence[FFIName]) -> tuple[FFIHeader, float]:
    """The reference frame of a camera/CCD and the sector reference time.

    The reference time is :func:`tasoc_core.sectors.reference_time` of the first FFI's
    TSTART and the last FFI's TSTOP (files sorted by name, which is time order). The
    reference frame is the FFI closest to that time with quality 0 and a WCS that inverts
    cleanly; if there is none, the closest with any usable WCS (with a warning).

    Raises
    ------
    CatalogError
        If no FFI has a usable WCS (names the first file).
    """
    if not ffis:
        raise CatalogError("no FFIs given")
    ffis = sorted(ffis, key=lambda f: f.path.name)
    first, last = _read(ffis[0]), _read(ffis[-1])
    if first is None or last is None:
        readable = [h for h in (_read(f) for f in ffis) if h is not None]
        if not readable:
            raise CatalogError(
                f"none of the {len(ffis)} FFIs starting with {ffis[0].path} can be read"
            )
        first, last = readable[0], readable[-1]
    t_ref = reference_time(first.tstart, last.tstop)

    if len(ffis) <= _READ_ALL_LIMIT:
        ordered = list(ffis)
    else:
        # Estimate each file's time from its name, scaled onto [first, last] header times.
        nt = np.array([_name_time(f) or np.nan for f in ffis])
        if np.all(np.isfinite(nt)) and nt[-1] > nt[0]:
            est = first.time + (nt - nt[0]) / (nt[-1] - nt[0]) * (last.time - first.time)
        else:
            est = np.linspace(first.time, last.time, len(ffis))
        ordered = [ffis[i] for i in np.argsort(np.abs(est - t_ref), kind="stable")]

    headers: list[FFIHeader] = []
    best: FFIHeader | None = None
    for start in range(0, len(ordered), _CANDIDATES):
        batch = [
            h for h in (_read(f) for f in ordered[start : start + _CANDIDATES]) if h is not None
        ]
        headers += batch
        good = [h for h in batch if _good(h)]
        if good:
            best = min(good, key=lambda h: abs(h.time - t_ref))
            if len(ordered) > _READ_ALL_LIMIT:
                break
    if best is None:
        usable = [h for h in headers if h.wcs is not None and wcs_round_trip_ok(h.wcs, h.science)]
        if not usable:
            raise CatalogError(
                f"no FFI with a usable WCS among {len(ffis)} files (first {ffis[0].path}); "
                "cannot place the CCD on the sky"
            )
        best = min(usable, key=lambda h: abs(h.time - t_ref))
        logger.warning(
            "%s: no FFI with quality 0 and a good WCS; using %s (quality %d) as reference frame",
            ffis[0].path.parent, best.path.name, best.quality,
        )  # fmt: skip
    return best, t_ref


def _camera_centre(wcs: WCS, camera: int, ccd: int) -> tuple[float, float]:
    row, col = camera_centre_pixel(camera, ccd)
    ra, dec = wcs.all_pix2world([col], [row], 0)
    return float(ra[0]), float(dec[0])


def footprint_from_ffis(
    sector: int, camera: int, ccd: int, ffis: Sequence[FFIName]
) -> CCDFootprint:
    """Footprint of a CCD from its FFIs (reference-frame WCS, science pixels of the frame)."""
    header, t_ref = select_reference_frame(ffis)
    if header.camera != camera or header.ccd != ccd:
        raise CatalogError(
            f"{header.path}: header says camera {header.camera}, CCD {header.ccd}, "
            f"but the file name says camera {camera}, CCD {ccd}"
        )
    assert header.wcs is not None
    polygon = stamp_polygon(header.wcs, header.science)
    logger.info(
        "sector %d camera %d CCD %d: reference time %.5f BTJD, reference frame %s",
        sector, camera, ccd, t_ref, header.path.name,
    )  # fmt: skip
    return CCDFootprint(
        sector=sector,
        camera=camera,
        ccd=ccd,
        reference_time=t_ref,
        polygons=(polygon,),
        camera_centre=_camera_centre(header.wcs, camera, ccd),
        kind="ffi",
        reference_frame=header.path.name,
        wcs=header.wcs,
        science=header.science,
    )


def footprint_from_tpfs(
    sector: int, camera: int, ccd: int, tpfs: Sequence[TPFHeader]
) -> CCDFootprint:
    """Footprint of a CCD without FFIs: the union of its TPF stamps.

    The camera centre is extrapolated through the WCS of the TPF nearest to it.

    Raises
    ------
    CatalogError
        If none of the TPFs has a usable WCS.
    """
    usable = [t for t in tpfs if t.wcs is not None]
    if not usable:
        names = ", ".join(str(t.path) for t in tpfs[:3])
        raise CatalogError(
            f"sector {sector} camera {camera} CCD {ccd}: no TPF with a celestial WCS ({names})"
        )
    polygons = tuple(stamp_polygon(t.wcs, t.stamp, step=max(t.stamp.shape)) for t in usable)  # type: ignore[arg-type]
    starts = [t.tstart for t in usable if np.isfinite(t.tstart)]
    stops = [t.tstop for t in usable if np.isfinite(t.tstop)]
    if not starts or not stops:
        raise CatalogError(f"sector {sector} camera {camera} CCD {ccd}: TPFs lack TSTART/TSTOP")
    t_ref = reference_time(min(starts), max(stops))
    c_row, c_col = camera_centre_pixel(camera, ccd)
    nearest = min(
        usable,
        key=lambda t: np.hypot(
            0.5 * (t.stamp.row_min + t.stamp.row_max) - c_row,
            0.5 * (t.stamp.col_min + t.stamp.col_max) - c_col,
        ),
    )
    return CCDFootprint(
        sector=sector,
        camera=camera,
        ccd=ccd,
        reference_time=t_ref,
        polygons=polygons,
        camera_centre=_camera_centre(nearest.wcs, camera, ccd),  # type: ignore[arg-type]
        kind="tpf",
    )


def camera_distance(
    footprint_centre: tuple[float, float], ra: np.ndarray, dec: np.ndarray
) -> np.ndarray:
    """Angle (degrees) between positions and a camera centre."""
    return angular_distance(radec_to_vector(ra, dec), radec_to_vector(*footprint_centre))
