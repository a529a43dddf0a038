"""Which stars become targets: FFI targets, TPF primaries and TPF secondaries.

The rules are those of paper 003 §3.1:

* **FFI targets** — catalog stars brighter than the faint limit whose position at the
  reference time, through the reference frame's WCS (with SIP), falls on the science
  pixels of the FFIs;
* **TPF primaries** — the target of each TPF, at its cadence (``TIMEDEL``);
* **TPF secondaries** — other catalog stars brighter than the faint limit that fall on a
  *collected* pixel (APERTURE bit 1) of a TPF, with datasource ``tpf:<primary TIC>``;
  a secondary that is itself the primary of a TPF with the same cadence is removed, and
  one found in several TPFs is kept only in the TPF where it lies farthest from the edge
  of the collected area.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import attrs
import numpy as np
from astropy.wcs import WCS
from astropy.wcs.utils import proj_plane_pixel_scales
from scipy.spatial import cKDTree

from tasoc_core.catalog._sky import propagate_proper_motion, radec_to_vector
from tasoc_core.catalog._tpf import TPFHeader
from tasoc_core.catalog.footprint import camera_distance
from tasoc_core.catalog.lookup import project_stars
from tasoc_core.catalog.store import CatalogSettings, CatalogStars
from tasoc_core.data.target import SCIENCE_COLUMNS, SCIENCE_ROWS, Stamp
from tasoc_core.geometry import cbv_area
from tasoc_core.todo.todofile import TodoRow

__all__ = [
    "CCDCatalog",
    "SecondaryCleanup",
    "collected_edge_distance",
    "ffi_targets",
    "select_secondaries",
    "stamp_edge_distance",
    "tpf_targets",
    "unique_rows",
]

logger = logging.getLogger(__name__)


def stamp_edge_distance(row: np.ndarray, col: np.ndarray, stamp: Stamp) -> np.ndarray:
    """Distance (pixels) from positions to the nearest outer edge of ``stamp``'s pixels."""
    row = np.asarray(row, dtype=float)
    col = np.asarray(col, dtype=float)
    return np.minimum.reduce(
        [
            row - (stamp.row_min - 0.5),
            (stamp.row_max - 0.5) - row,
            col - (stamp.col_min - 0.5),
            (stamp.col_max - 0.5) - col,
        ]
    )


def collected_edge_distance(
    row: np.ndarray, col: np.ndarray, stamp: Stamp, collected: np.ndarray
) -> np.ndarray:
    """Distance (pixels) from positions to the nearest pixel that was not collected.

    Everything outside ``stamp`` counts as not collected, so this is the distance to the
    stamp edge or to a hole in the collected area, whichever is nearer. Pixels are unit
    squares centred on integer coordinates; the distance is to the nearest point of such a
    square (exact, also near inner corners). Positions on a non-collected pixel get 0.
    """
    row = np.atleast_1d(np.asarray(row, dtype=float))
    col = np.atleast_1d(np.asarray(col, dtype=float))
    padded = np.zeros((collected.shape[0] + 2, collected.shape[1] + 2), dtype=bool)
    padded[1:-1, 1:-1] = collected
    rr, cc = np.nonzero(~padded)
    rr = rr + stamp.row_min - 1.0
    cc = cc + stamp.col_min - 1.0
    dy = np.maximum(np.abs(row[:, None] - rr[None, :]) - 0.5, 0.0)
    dx = np.maximum(np.abs(col[:, None] - cc[None, :]) - 0.5, 0.0)
    return np.hypot(dx, dy).min(axis=1)


def _pixel(value: np.ndarray) -> np.ndarray:
    """Index of the pixel holding a coordinate (pixel centres at integers)."""
    return np.floor(np.asarray(value, dtype=float) + 0.5).astype(np.int64)


@attrs.frozen
class CCDCatalog:
    """A CCD's catalog as the TODO stage uses it: settings, stars and a sky index."""

    settings: CatalogSettings
    stars: CatalogStars
    _tree: cKDTree = attrs.field(repr=False, eq=False)
    _bright: np.ndarray = attrs.field(repr=False, eq=False)

    @classmethod
    def build(
        cls, settings: CatalogSettings, stars: CatalogStars, faint_limit: float
    ) -> CCDCatalog:
        bright = np.flatnonzero(stars.tmag < faint_limit)
        tree = cKDTree(radec_to_vector(stars.ra[bright], stars.dec[bright]).reshape(-1, 3))
        return cls(settings, stars, tree, bright)

    def index_of(self, starid: int) -> int | None:
        i = int(np.searchsorted(self.stars.starid, starid))
        if i < len(self.stars) and self.stars.starid[i] == starid:
            return i
        return None

    def bright_near(self, ra: float, dec: float, radius_deg: float) -> np.ndarray:
        """Indices (into ``stars``) of stars brighter than the faint limit within the radius."""
        chord = 2.0 * np.sin(np.radians(radius_deg) / 2.0)
        hits = self._tree.query_ball_point(radec_to_vector(ra, dec), chord)
        return self._bright[np.sort(np.asarray(hits, dtype=np.int64))]

    def cbv_areas(self, ra: np.ndarray, dec: np.ndarray) -> np.ndarray:
        s = self.settings
        dist = camera_distance((s.camera_centre_ra, s.camera_centre_dec), ra, dec)
        return np.atleast_1d(cbv_area(s.camera, s.ccd, dist))


def _row(
    catalog: CCDCatalog,
    i: int,
    *,
    cadence: int,
    datasource: str,
    edge_dist: float,
    area: int,
    tpf_path: str | None = None,
) -> TodoRow:
    s, st = catalog.settings, catalog.stars
    return TodoRow(
        starid=int(st.starid[i]), sector=s.sector, camera=s.camera, ccd=s.ccd, cadence=cadence,
        datasource=datasource, tmag=float(st.tmag[i]), ra=float(st.ra[i]), dec=float(st.dec[i]),
        pm_ra=st.pm_ra[i], pm_dec=st.pm_dec[i], teff=st.teff[i], cbv_area=area,
        edge_dist=edge_dist, tpf_path=tpf_path,
    )  # fmt: skip


def ffi_targets(
    catalog: CCDCatalog, wcs: WCS, science: Stamp, *, cadence: int, faint_limit: float
) -> list[TodoRow]:
    """FFI target rows: catalog stars brighter than ``faint_limit`` on ``science`` pixels.

    Parameters
    ----------
    catalog
        The CCD's catalog (positions at the reference epoch).
    wcs
        Reference-frame WCS in CCD coordinates.
    science
        The science pixels the FFIs hold (the sub-frame for sub-frame FFIs).
    cadence
        FFI cadence in seconds.
    faint_limit
        Stars must have ``tmag < faint_limit``.
    """
    st = catalog.stars
    idx = np.flatnonzero(st.tmag < faint_limit)
    row, col = project_stars(wcs, st.ra[idx], st.dec[idx])
    edge = stamp_edge_distance(row, col, science)
    inside = np.isfinite(edge) & (edge >= 0)
    idx, edge = idx[inside], edge[inside]
    areas = catalog.cbv_areas(st.ra[idx], st.dec[idx])
    return [
        _row(catalog, int(i), cadence=cadence, datasource="ffi", edge_dist=float(e), area=int(a))
        for i, e, a in zip(idx, edge, areas)
    ]


def tpf_targets(
    tpf: TPFHeader,
    catalog: CCDCatalog,
    *,
    faint_limit: float,
    secondaries: bool = True,
    tpf_path: str | None = None,
) -> tuple[list[TodoRow], list[str]]:
    """The primary row of a TPF and its secondary rows (before the clean-up rules).

    A primary missing from the catalog is kept with its header values (RA_OBJ/DEC_OBJ
    moved to the catalog epoch with PMRA/PMDEC, TESSMAG) and a warning; without usable
    header values it is left out.

    Returns
    -------
    rows, messages
        The rows, and warnings about this TPF.
    """
    messages: list[str] = []
    rows: list[TodoRow] = []
    s = catalog.settings
    collected = tpf.collected
    path_text = tpf_path if tpf_path is not None else str(tpf.path)

    i = catalog.index_of(tpf.starid)
    if i is not None:
        ra, dec, tmag = (
            float(catalog.stars.ra[i]),
            float(catalog.stars.dec[i]),
            float(catalog.stars.tmag[i]),
        )
    else:
        ra, dec = propagate_proper_motion(
            np.array([tpf.ra]),
            np.array([tpf.dec]),
            np.array([tpf.pm_ra]),
            np.array([tpf.pm_dec]),
            s.epoch - 2000.0,
        )
        ra, dec, tmag = float(ra[0]), float(dec[0]), tpf.tmag
        if not (np.isfinite(ra) and np.isfinite(dec) and np.isfinite(tmag)):
            msg = f"{tpf.path}: primary TIC {tpf.starid} is not in the catalog and the header lacks RA_OBJ/DEC_OBJ/TESSMAG; TPF left out"
            logger.warning("%s", msg)
            return [], [msg]
        msg = f"{tpf.path}: primary TIC {tpf.starid} is not in the catalog; using the TPF header values"
        logger.warning("%s", msg)
        messages.append(msg)
    prow, pcol = tpf.world_to_pixel(np.array([ra]), np.array([dec]))
    p_edge = (
        collected_edge_distance(prow, pcol, tpf.stamp, collected)[0]
        if np.isfinite(prow[0])
        else np.nan
    )
    area = int(catalog.cbv_areas(np.array([ra]), np.array([dec]))[0])
    if i is not None:
        rows.append(
            _row(
                catalog,
                i,
                cadence=tpf.cadence,
                datasource="tpf",
                edge_dist=p_edge,
                area=area,
                tpf_path=path_text,
            )
        )
    else:
        rows.append(
            TodoRow(
                starid=tpf.starid, sector=s.sector, camera=s.camera, ccd=s.ccd, cadence=tpf.cadence,
                datasource="tpf", tmag=tmag, ra=ra, dec=dec, pm_ra=tpf.pm_ra, pm_dec=tpf.pm_dec,
                teff=tpf.teff, cbv_area=area, edge_dist=p_edge, tpf_path=path_text,
            )
        )  # fmt: skip
    if not secondaries or tpf.wcs is None:
        return rows, messages

    # Candidates: bright stars within the stamp's circumscribed circle (+ a margin).
    centre_r = 0.5 * (tpf.stamp.row_min + tpf.stamp.row_max) - 0.5
    centre_c = 0.5 * (tpf.stamp.col_min + tpf.stamp.col_max) - 0.5
    c_ra, c_dec = tpf.wcs.all_pix2world([centre_c], [centre_r], 0)
    scale = float(np.max(proj_plane_pixel_scales(tpf.wcs)))
    radius = (0.5 * np.hypot(*tpf.stamp.shape) + 3.0) * scale
    cand = catalog.bright_near(float(c_ra[0]), float(c_dec[0]), radius)
    cand = cand[catalog.stars.starid[cand] != tpf.starid]
    if len(cand) == 0:
        return rows, messages
    row, col = tpf.world_to_pixel(catalog.stars.ra[cand], catalog.stars.dec[cand])
    ok = np.isfinite(row) & np.isfinite(col)
    pr, pc = _pixel(np.where(ok, row, -(10**6))), _pixel(np.where(ok, col, -(10**6)))
    in_stamp = (
        (pr >= tpf.stamp.row_min)
        & (pr < tpf.stamp.row_max)
        & (pc >= tpf.stamp.col_min)
        & (pc < tpf.stamp.col_max)
    )
    on_silicon = (
        (pr >= SCIENCE_ROWS[0])
        & (pr < SCIENCE_ROWS[1])
        & (pc >= SCIENCE_COLUMNS[0])
        & (pc < SCIENCE_COLUMNS[1])
    )
    keep = ok & in_stamp & on_silicon
    sel = np.flatnonzero(keep)
    is_collected = collected[pr[sel] - tpf.stamp.row_min, pc[sel] - tpf.stamp.col_min]
    sel = sel[is_collected]
    if len(sel) == 0:
        return rows, messages
    edges = collected_edge_distance(row[sel], col[sel], tpf.stamp, collected)
    idx = cand[sel]
    areas = catalog.cbv_areas(catalog.stars.ra[idx], catalog.stars.dec[idx])
    for j, e, a in zip(idx, edges, areas):
        rows.append(
            _row(
                catalog,
                int(j),
                cadence=tpf.cadence,
                datasource=f"tpf:{tpf.starid}",
                edge_dist=float(e),
                area=int(a),
                tpf_path=path_text,
            )
        )
    return rows, messages


@attrs.frozen
class SecondaryCleanup:
    """What :func:`select_secondaries` removed."""

    also_primary: tuple[TodoRow, ...]
    duplicates: tuple[TodoRow, ...]


def select_secondaries(rows: Sequence[TodoRow]) -> tuple[list[TodoRow], SecondaryCleanup]:
    """Apply the secondary-target rules to TPF rows.

    * a secondary whose star is the primary of a TPF with the same sector, camera, CCD and
      cadence is removed;
    * a secondary found in several TPFs (same sector, camera, CCD, cadence) is kept only in
      the TPF where its distance to the edge of the collected area is largest (ties: the
      TPF with the smaller primary TIC).

    Rows that are not secondaries pass through unchanged; order is preserved.
    """
    primaries = {
        (r.starid, r.sector, r.camera, r.ccd, r.cadence) for r in rows if r.datasource == "tpf"
    }
    also_primary: list[TodoRow] = []
    best: dict[tuple[int, int, int, int, int], TodoRow] = {}
    for r in rows:
        if not r.datasource.startswith("tpf:"):
            continue
        key = (r.starid, r.sector, r.camera, r.ccd, r.cadence)
        if key in primaries:
            also_primary.append(r)
            continue
        current = best.get(key)
        edge = -np.inf if r.edge_dist is None else r.edge_dist
        if current is None:
            best[key] = r
            continue
        cur_edge = -np.inf if current.edge_dist is None else current.edge_dist
        if edge > cur_edge or (
            edge == cur_edge and int(r.datasource[4:]) < int(current.datasource[4:])
        ):
            best[key] = r
    kept_ids = {id(r) for r in best.values()}
    removed_ids = {id(r) for r in also_primary}
    duplicates = [
        r
        for r in rows
        if r.datasource.startswith("tpf:") and id(r) not in kept_ids and id(r) not in removed_ids
    ]
    out = [r for r in rows if not r.datasource.startswith("tpf:") or id(r) in kept_ids]
    return out, SecondaryCleanup(tuple(also_primary), tuple(duplicates))


def unique_rows(rows: Sequence[TodoRow]) -> tuple[list[TodoRow], int]:
    """Rows with duplicate keys (starid, datasource, sector, camera, ccd, cadence) removed.

    Returns the rows (first of each key kept, order preserved) and the number removed.
    """
    seen: set[tuple[int, str, int, int, int, int]] = set()
    out = []
    for r in rows:
        if r.key not in seen:
            seen.add(r.key)
            out.append(r)
    return out, len(rows) - len(out)
