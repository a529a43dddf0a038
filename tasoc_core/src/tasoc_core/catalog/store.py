"""Catalog SQLite files: one per sector/camera/CCD, written once, then read-only.

Layout (``docs/catalog.md`` has the full description):

* ``settings`` — one row: sector, camera, ccd, ticver, reference_time (BTJD), epoch
  (Julian year), coord_buffer (deg), camera_centre_ra/dec, footprint (JSON polygons) and
  provenance (footprint_kind, reference_frame, catalog_source, tmag_max, created,
  tasoc_version, format_version);
* ``catalog`` — starid, ra/decl at the reference epoch, ra_J2000/decl_J2000, pm_ra,
  pm_decl (mas/yr), tmag, teff; index ``ra_dec_idx (ra, decl)``.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import sqlite3
from pathlib import Path
from typing import Any

import attrs
import numpy as np

from tasoc_core import __version__
from tasoc_core.catalog._sky import SkyPolygon
from tasoc_core.exceptions import CatalogError

__all__ = [
    "CATALOG_FORMAT_VERSION",
    "CatalogFile",
    "CatalogSettings",
    "CatalogStars",
    "catalog_path",
    "write_catalog",
]

logger = logging.getLogger(__name__)

#: Version of the catalog file layout, stored in ``PRAGMA user_version``.
CATALOG_FORMAT_VERSION = 1

_SCHEMA = """
CREATE TABLE settings (
    sector INTEGER NOT NULL,
    camera INTEGER NOT NULL,
    ccd INTEGER NOT NULL,
    ticver TEXT NOT NULL,
    reference_time DOUBLE NOT NULL,
    epoch DOUBLE NOT NULL,
    coord_buffer DOUBLE NOT NULL,
    camera_centre_ra DOUBLE NOT NULL,
    camera_centre_dec DOUBLE NOT NULL,
    footprint TEXT NOT NULL,
    footprint_kind TEXT NOT NULL,
    reference_frame TEXT NOT NULL,
    catalog_source TEXT NOT NULL,
    catalog_source_settings TEXT NOT NULL,
    tmag_max DOUBLE,
    created TEXT NOT NULL,
    tasoc_version TEXT NOT NULL
);
CREATE TABLE catalog (
    starid INTEGER PRIMARY KEY NOT NULL,
    ra DOUBLE NOT NULL,
    decl DOUBLE NOT NULL,
    ra_J2000 DOUBLE NOT NULL,
    decl_J2000 DOUBLE NOT NULL,
    pm_ra REAL,
    pm_decl REAL,
    tmag REAL NOT NULL,
    teff REAL
);
"""


def catalog_path(directory: Path, sector: int, camera: int, ccd: int) -> Path:
    """``directory/catalog_sector{SSS}_camera{C}_ccd{D}.sqlite``."""
    return Path(directory) / f"catalog_sector{sector:03d}_camera{camera:d}_ccd{ccd:d}.sqlite"


@attrs.frozen
class CatalogSettings:
    """The ``settings`` row of a catalog file."""

    sector: int
    camera: int
    ccd: int
    ticver: str
    reference_time: float  #: BTJD
    epoch: float  #: Julian year of ``reference_time``; ra/decl are at this epoch
    coord_buffer: float  #: degrees around the footprint
    camera_centre_ra: float
    camera_centre_dec: float
    footprint: tuple[SkyPolygon, ...] = attrs.field(converter=tuple, eq=False, repr=False)
    footprint_kind: str  #: "ffi" or "tpf"
    reference_frame: str  #: file name of the reference FFI ("" for TPF footprints)
    catalog_source: str
    catalog_source_settings: dict[str, Any] = attrs.field(factory=dict, eq=False, repr=False)
    tmag_max: float | None = None
    created: str = ""
    tasoc_version: str = ""


def _nan_array(values: list[Any]) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=float)


@attrs.frozen
class CatalogStars:
    """Stars of a catalog file as parallel arrays (NaN for unknown values)."""

    starid: np.ndarray
    ra: np.ndarray  #: at the catalog epoch
    dec: np.ndarray
    ra_j2000: np.ndarray
    dec_j2000: np.ndarray
    pm_ra: np.ndarray
    pm_dec: np.ndarray
    tmag: np.ndarray
    teff: np.ndarray

    @classmethod
    def from_rows(cls, rows: list[tuple[Any, ...]]) -> CatalogStars:
        if not rows:
            empty = np.zeros(0)
            return cls(np.zeros(0, np.int64), *(empty.copy() for _ in range(8)))
        columns = list(zip(*rows))
        return cls(
            np.asarray(columns[0], dtype=np.int64),
            *(_nan_array(list(c)) for c in columns[1:]),
        )

    def __len__(self) -> int:
        return len(self.starid)

    def select(self, mask: np.ndarray) -> CatalogStars:
        """Rows where ``mask`` (boolean or index array) selects."""
        return CatalogStars(*(getattr(self, f.name)[mask] for f in attrs.fields(CatalogStars)))


_COLUMNS = "starid, ra, decl, ra_J2000, decl_J2000, pm_ra, pm_decl, tmag, teff"


def write_catalog(path: Path, settings: CatalogSettings, stars: CatalogStars) -> Path:
    """Write a catalog file atomically (temporary name in the same directory, then rename).

    An existing file at ``path`` is replaced.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.tmp{os.getpid()}")
    tmp.unlink(missing_ok=True)
    conn = sqlite3.connect(tmp, isolation_level=None)
    try:
        conn.execute("PRAGMA page_size=4096")
        conn.execute("PRAGMA journal_mode=OFF")  # a temporary file: no rollback needed
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute(f"PRAGMA user_version={CATALOG_FORMAT_VERSION}")
        conn.executescript(_SCHEMA)
        conn.execute("BEGIN")
        s = settings
        conn.execute(
            "INSERT INTO settings VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                s.sector, s.camera, s.ccd, s.ticver, s.reference_time, s.epoch, s.coord_buffer,
                s.camera_centre_ra, s.camera_centre_dec, SkyPolygon.dumps(s.footprint),
                s.footprint_kind, s.reference_frame, s.catalog_source,
                json.dumps(s.catalog_source_settings, default=str), s.tmag_max,
                s.created or dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), s.tasoc_version or __version__,
            ),
        )  # fmt: skip
        # SQLite stores a bound NaN as NULL, which is what unknown values should be.
        rows = zip(
            stars.starid.tolist(),
            stars.ra.tolist(),
            stars.dec.tolist(),
            stars.ra_j2000.tolist(),
            stars.dec_j2000.tolist(),
            np.asarray(stars.pm_ra, dtype=float).tolist(),
            np.asarray(stars.pm_dec, dtype=float).tolist(),
            stars.tmag.tolist(),
            np.asarray(stars.teff, dtype=float).tolist(),
        )
        conn.executemany(f"INSERT INTO catalog ({_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?)", rows)
        conn.execute("CREATE INDEX ra_dec_idx ON catalog (ra, decl)")
        conn.execute("COMMIT")
        conn.execute("ANALYZE")
    except BaseException:
        conn.close()
        tmp.unlink(missing_ok=True)
        raise
    conn.close()
    os.replace(tmp, path)
    return path


class CatalogFile:
    """Read access to a catalog file (opened read-only).

    Parameters
    ----------
    path
        A file written by :func:`write_catalog`.

    Raises
    ------
    CatalogError
        If the file does not exist or is not a tasoc catalog (names the file).
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise CatalogError(
                f"catalog file {self.path} does not exist (run 'tasoc catalog' first)"
            )
        try:
            self._conn = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True)
            tables = {
                r[0]
                for r in self._conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
            }
            version = self._conn.execute("PRAGMA user_version").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            raise CatalogError(f"{self.path}: not a readable SQLite catalog ({exc})") from None
        if not {"settings", "catalog"} <= tables:
            self._conn.close()
            raise CatalogError(
                f"{self.path}: not a tasoc catalog file (no settings/catalog tables)"
            )
        if version > CATALOG_FORMAT_VERSION:
            self._conn.close()
            raise CatalogError(
                f"{self.path}: catalog format version {version} is newer than this tasoc "
                f"understands ({CATALOG_FORMAT_VERSION}); upgrade tasoc-core"
            )
        self._settings: CatalogSettings | None = None

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> CatalogFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def settings(self) -> CatalogSettings:
        """The settings row."""
        if self._settings is None:
            cur = self._conn.execute("SELECT * FROM settings")
            names = [d[0] for d in cur.description]
            row = cur.fetchone()
            if row is None:
                raise CatalogError(f"{self.path}: settings table is empty")
            values = dict(zip(names, row))
            try:
                values["footprint"] = SkyPolygon.loads(values["footprint"])
                values["catalog_source_settings"] = json.loads(
                    values["catalog_source_settings"] or "{}"
                )
            except (ValueError, KeyError, TypeError) as exc:
                raise CatalogError(
                    f"{self.path}: settings.footprint is malformed ({exc})"
                ) from None
            known = {f.name for f in attrs.fields(CatalogSettings)}
            self._settings = CatalogSettings(**{k: v for k, v in values.items() if k in known})
        return self._settings

    def __len__(self) -> int:
        return int(self._conn.execute("SELECT COUNT(*) FROM catalog").fetchone()[0])

    def _select(self, where: str = "", params: tuple[Any, ...] = ()) -> CatalogStars:
        sql = f"SELECT {_COLUMNS} FROM catalog {where} ORDER BY starid"
        return CatalogStars.from_rows(self._conn.execute(sql, params).fetchall())

    def read_all(self, *, tmag_max: float | None = None) -> CatalogStars:
        """Every star (optionally only those with ``tmag <= tmag_max``), sorted by starid."""
        if tmag_max is None:
            return self._select()
        return self._select("WHERE tmag <= ?", (float(tmag_max),))

    def stars(self, starids: np.ndarray | list[int]) -> CatalogStars:
        """The stars with these TIC numbers that are in the catalog, sorted by starid."""
        ids = json.dumps([int(s) for s in np.atleast_1d(starids)])
        return self._select("WHERE starid IN (SELECT value FROM json_each(?))", (ids,))

    def stars_in_box(
        self,
        ra_min: float,
        ra_max: float,
        dec_min: float,
        dec_max: float,
        *,
        tmag_max: float | None = None,
    ) -> CatalogStars:
        """Stars with ``dec_min <= decl <= dec_max`` and RA in ``[ra_min, ra_max]``.

        RA limits are taken modulo 360; ``ra_min > ra_max`` selects the range that crosses
        RA = 0. A box reaching a pole (``dec_max >= 90`` or ``dec_min <= -90``) ignores RA.
        """
        clauses = ["decl BETWEEN ? AND ?"]
        params: list[Any] = [float(dec_min), float(dec_max)]
        if dec_max < 90.0 and dec_min > -90.0 and (ra_max - ra_min) < 360.0:
            lo, hi = float(ra_min) % 360.0, float(ra_max) % 360.0
            if lo <= hi:
                clauses.append("ra BETWEEN ? AND ?")
            else:
                clauses.append("(ra >= ? OR ra <= ?)")
            params += [lo, hi]
        if tmag_max is not None:
            clauses.append("tmag <= ?")
            params.append(float(tmag_max))
        return self._select("WHERE " + " AND ".join(clauses), tuple(params))
