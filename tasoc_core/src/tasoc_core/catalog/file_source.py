"""The default catalog source: a TIC extract saved as a file (CSV, ECSV, FITS or VOTable).

A TIC query saved from MAST (or written by ``tasoc simulate``) has the columns ``ID, ra,
dec, pmRA, pmDEC, Tmag, Teff, disposition, duplicate_id``. Column names are matched without
regard to case, common alternatives are recognised (``TIC``/``TICID`` for ``ID``, ``RAJ2000``
for ``ra``, ...), and any name can be given explicitly in the source's settings.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import attrs
import numpy as np
from astropy.table import Table

from tasoc_core.catalog._sky import SkyPolygon, propagate_proper_motion
from tasoc_core.exceptions import CatalogError
from tasoc_core.families import CatalogSource

__all__ = ["COLUMN_ALIASES", "FileCatalogSource", "FileSourceSettings", "read_extract"]

logger = logging.getLogger(__name__)

#: Names recognised for each column (compared in lower case), first match wins.
COLUMN_ALIASES: Mapping[str, tuple[str, ...]] = {
    "starid": ("id", "tic", "ticid", "tic_id", "starid"),
    "ra": ("ra", "raj2000", "ra_j2000", "ra_deg"),
    "dec": ("dec", "decl", "dej2000", "dec_j2000", "dec_deg"),
    "pm_ra": ("pmra", "pm_ra"),
    "pm_dec": ("pmdec", "pm_dec", "pm_decl", "pmde"),
    "tmag": ("tmag", "tessmag"),
    "teff": ("teff",),
    "disposition": ("disposition",),
}
_REQUIRED = ("starid", "ra", "dec", "tmag")
_OPTIONAL = ("pm_ra", "pm_dec", "teff", "disposition")

_FORMATS = {
    ".csv": "ascii.csv",
    ".ecsv": "ascii.ecsv",
    ".fits": "fits",
    ".fit": "fits",
    ".fts": "fits",
    ".vot": "votable",
    ".xml": "votable",
}


def _check_columns(instance: object, attribute: attrs.Attribute, value: Mapping[str, str]) -> None:
    known = set(COLUMN_ALIASES)
    for key in value:
        if key not in known:
            raise ValueError(
                f"{attribute.name}: unknown column {key!r} (known: {', '.join(sorted(known))})"
            )


@attrs.frozen(kw_only=True)
class FileSourceSettings:
    """Settings of the ``file`` catalog source (``[catalog.sources.file]``)."""

    #: The extract; default ``paths.catalog``. Relative paths are relative to the config file.
    path: Path | None = None
    #: Column names in the file for our columns, e.g. ``{starid = "TIC_ID"}``.
    columns: dict[str, str] = attrs.field(factory=dict, validator=_check_columns)
    #: Rows whose ``disposition`` is one of these (case-insensitive) are left out.
    drop_dispositions: tuple[str, ...] = ("DUPLICATE", "SPLIT", "ARTIFACT")
    #: Epoch (Julian year) of the positions in the file; TIC ``ra``/``dec`` are at 2000.0.
    epoch: float = 2000.0
    #: TIC version recorded in the catalog files.
    ticver: str = "8.2"


def _format_of(path: Path) -> str | None:
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in (".gz", ".bz2", ".xz"):
        suffixes = suffixes[:-1]
    return _FORMATS.get(suffixes[-1]) if suffixes else None


def _resolve_columns(table: Table, overrides: Mapping[str, str], path: Path) -> dict[str, str]:
    by_lower: dict[str, str] = {}
    for name in table.colnames:
        by_lower.setdefault(name.lower(), name)
    found: dict[str, str] = {}
    for ours, aliases in COLUMN_ALIASES.items():
        if ours in overrides:
            wanted = overrides[ours]
            if wanted.lower() not in by_lower:
                raise CatalogError(
                    f"{path}: column {wanted!r} (catalog.sources.file.columns.{ours}) is not in the file "
                    f"(columns: {', '.join(table.colnames)})"
                )
            found[ours] = by_lower[wanted.lower()]
            continue
        for alias in aliases:
            if alias in by_lower:
                found[ours] = by_lower[alias]
                break
    missing = [c for c in _REQUIRED if c not in found]
    if missing:
        hints = ", ".join(f"{c} (tried {'/'.join(COLUMN_ALIASES[c])})" for c in missing)
        raise CatalogError(
            f"{path}: required column(s) missing: {hints}; the file has {', '.join(table.colnames)}; "
            "name them in [catalog.sources.file.columns]"
        )
    return found


def _float_column(table: Table, name: str | None, n: int) -> np.ndarray:
    if name is None:
        return np.full(n, np.nan)
    col = table[name]
    try:
        data = np.ma.filled(np.ma.asarray(col).astype(float), np.nan)
    except (TypeError, ValueError):
        # Text columns with blanks: convert value by value.
        data = np.array([_to_float(v) for v in np.ma.filled(np.ma.asarray(col).astype(str), "")])
    return np.asarray(data, dtype=float)


def _to_float(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return np.nan


def _id_column(table: Table, name: str, path: Path) -> tuple[np.ndarray, np.ndarray]:
    """int64 IDs and a mask of rows whose ID is a valid positive integer."""
    raw = _float_column(table, name, len(table))
    col = table[name]
    if np.issubdtype(np.asarray(col).dtype, np.integer):
        ids = np.ma.filled(np.ma.asarray(col), -1).astype(np.int64)
        valid = ids > 0
        if np.ma.is_masked(col):
            valid &= ~np.ma.getmaskarray(col)
        return ids, valid
    valid = np.isfinite(raw) & (raw > 0) & (raw == np.round(raw))
    ids = np.where(valid, raw, -1).astype(np.int64)
    return ids, valid


def read_extract(path: Path, settings: FileSourceSettings | None = None) -> Table:
    """Read a TIC extract into a table with the columns of :data:`CATALOG_COLUMNS`.

    Rows flagged in ``disposition`` as one of ``settings.drop_dispositions`` are left out,
    rows without a valid ID, position or magnitude are left out with a warning, and
    positions are moved from ``settings.epoch`` to J2000.0 if they differ.

    Raises
    ------
    CatalogError
        If the file cannot be read or lacks a required column (names the file, the
        column and the columns present).
    """
    settings = settings or FileSourceSettings()
    path = Path(path)
    if not path.is_file():
        raise CatalogError(f"catalog extract {path} does not exist")
    fmt = _format_of(path)
    try:
        if fmt == "ascii.csv":
            table = Table.read(path, format=fmt, fast_reader=True)
        elif fmt is not None:
            table = Table.read(path, format=fmt)
        else:
            table = Table.read(path, format="ascii")
    except Exception as exc:  # astropy raises many kinds for unreadable input
        kind = fmt or "text table"
        raise CatalogError(f"{path}: cannot read as {kind}: {type(exc).__name__}: {exc}") from None
    if len(table.colnames) == 0:
        raise CatalogError(f"{path}: no columns")
    cols = _resolve_columns(table, settings.columns, path)
    n = len(table)
    starid, valid_id = _id_column(table, cols["starid"], path)
    ra = _float_column(table, cols["ra"], n)
    dec = _float_column(table, cols["dec"], n)
    tmag = _float_column(table, cols["tmag"], n)
    pm_ra = _float_column(table, cols.get("pm_ra"), n)
    pm_dec = _float_column(table, cols.get("pm_dec"), n)
    teff = _float_column(table, cols.get("teff"), n)
    for c in ("pm_ra", "pm_dec"):
        if c not in cols:
            logger.warning(
                "%s: no %s column; positions are not propagated for proper motion", path, c
            )

    keep = np.ones(n, dtype=bool)
    if "disposition" in cols and settings.drop_dispositions:
        disp = np.char.upper(
            np.char.strip(np.ma.filled(np.ma.asarray(table[cols["disposition"]]).astype(str), ""))
        )
        flagged = np.isin(disp, [d.upper() for d in settings.drop_dispositions])
        if np.any(flagged):
            logger.info(
                "%s: leaving out %d rows flagged %s",
                path,
                int(flagged.sum()),
                "/".join(settings.drop_dispositions),
            )
        keep &= ~flagged
    good = valid_id & np.isfinite(ra) & np.isfinite(dec) & (np.abs(dec) <= 90) & np.isfinite(tmag)
    bad = keep & ~good
    if np.any(bad):
        rows = np.flatnonzero(bad)
        logger.warning(
            "%s: leaving out %d rows without a valid ID, position or Tmag (first at data row %s)",
            path, len(rows), ", ".join(str(r + 1) for r in rows[:5]),
        )  # fmt: skip
    keep &= good
    half = np.isfinite(pm_ra) != np.isfinite(pm_dec)
    if np.any(half & keep):
        logger.warning(
            "%s: %d stars have only one proper-motion component; they are not propagated",
            path, int(np.sum(half & keep)),
        )  # fmt: skip
        pm_ra = np.where(half, np.nan, pm_ra)
        pm_dec = np.where(half, np.nan, pm_dec)

    idx = np.flatnonzero(keep)
    ids = starid[idx]
    order = np.argsort(ids, kind="stable")
    sorted_ids = ids[order]
    dup = np.flatnonzero(sorted_ids[1:] == sorted_ids[:-1])
    if len(dup):
        logger.warning(
            "%s: %d IDs appear more than once (e.g. TIC %s); keeping the first row of each",
            path, len(dup), ", ".join(str(i) for i in sorted_ids[dup[:5] + 1]),
        )  # fmt: skip
        first = np.ones(len(sorted_ids), dtype=bool)
        first[dup + 1] = False
        idx = idx[np.sort(order[first])]

    ra_k, dec_k = ra[idx], dec[idx]
    if settings.epoch != 2000.0:
        ra_k, dec_k = propagate_proper_motion(
            ra_k, dec_k, pm_ra[idx], pm_dec[idx], 2000.0 - settings.epoch
        )
    out = Table(
        {
            "starid": starid[idx],
            "ra": ra_k,
            "dec": dec_k,
            "pm_ra": pm_ra[idx],
            "pm_dec": pm_dec[idx],
            "tmag": tmag[idx],
            "teff": teff[idx],
        }
    )
    out.meta["source_path"] = str(path)
    return out


class FileCatalogSource(CatalogSource):
    """TIC extract in a file (CSV, ECSV, FITS or VOTable) with MAST column names."""

    name: ClassVar[str] = "file"
    Settings: ClassVar[type] = FileSourceSettings

    def __init__(self, settings: FileSourceSettings | None = None) -> None:
        super().__init__(settings)
        self._table: Table | None = None

    def _load(self) -> Table:
        if self._table is None:
            if self.settings.path is None:
                raise CatalogError(
                    "catalog source 'file' has no path: set paths.catalog or catalog.sources.file.path"
                )
            self._table = read_extract(self.settings.path, self.settings)
        return self._table

    def query(self, footprint: np.ndarray, *, tmag_max: float) -> Table:
        """Stars of the extract inside ``footprint`` (RA, Dec vertices) brighter than ``tmag_max``."""
        table = self._load()
        footprint = np.asarray(footprint, dtype=float)
        if footprint.ndim != 2 or footprint.shape[1] != 2:
            raise CatalogError(
                f"catalog source 'file': footprint must be (N, 2), got {footprint.shape}"
            )
        polygon = SkyPolygon(footprint[:, 0], footprint[:, 1])
        mask = np.asarray(table["tmag"]) <= tmag_max
        mask &= polygon.contains(np.asarray(table["ra"]), np.asarray(table["dec"]))
        return table[mask]
