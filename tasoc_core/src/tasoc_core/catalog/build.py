"""``tasoc catalog``: one catalog file per sector/camera/CCD from a catalog source."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, Literal

import attrs
import numpy as np
from astropy.table import Table, vstack

from tasoc_core import __version__
from tasoc_core.catalog._sky import SkyPolygon, btjd_to_epoch, propagate_proper_motion
from tasoc_core.catalog._tpf import TPFHeader, read_tpf
from tasoc_core.catalog.footprint import CCDFootprint, footprint_from_ffis, footprint_from_tpfs
from tasoc_core.catalog.store import CatalogSettings, CatalogStars, catalog_path, write_catalog
from tasoc_core.config import Config
from tasoc_core.config._structure import structure, unstructure
from tasoc_core.exceptions import CatalogError, InputFileError, TasocError
from tasoc_core.families import CATALOG_COLUMNS, CatalogSource
from tasoc_core.io import FFIName, find_ffis, find_tpfs

__all__ = [
    "CatalogBuildResult",
    "build_catalog",
    "catalog_dir",
    "catalog_source_from_config",
    "check_requested",
    "make_catalogs",
    "scan_inputs",
]

logger = logging.getLogger(__name__)

CCDKey = tuple[int, int, int]  # sector, camera, ccd


@attrs.frozen
class CatalogBuildResult:
    """Outcome of building (or skipping) one catalog file."""

    sector: int
    camera: int
    ccd: int
    path: Path
    status: Literal["built", "exists", "failed"]
    stars: int = 0
    footprint_kind: str = ""
    reference_time: float = float("nan")
    reference_frame: str = ""
    error: str = ""

    def to_dict(self) -> dict[str, Any]:
        out = attrs.asdict(self)
        out["path"] = str(self.path)
        return out


def catalog_dir(config: Config) -> Path:
    """Directory of the catalog files: ``<paths.output>/catalog``."""
    return Path(config.paths.output) / "catalog"


def catalog_source_from_config(config: Config, pm: Any, name: str | None = None) -> CatalogSource:
    """Instantiate the configured catalog source with its settings.

    The ``file`` source takes its path from ``catalog.sources.file.path`` or, by default,
    ``paths.catalog``; relative paths are relative to the configuration file.

    Raises
    ------
    UnknownNameError, ConfigError
        For an unknown source name or invalid settings (naming the key).
    """
    name = name or config.catalog.source
    registration = pm.lookup("catalog_sources", name)
    cls = registration.cls
    table = dict(config.catalog.sources.get(name, {}))
    settings = structure(cls.Settings, table, f"catalog.sources.{name}")
    if attrs.has(type(settings)) and "path" in attrs.fields_dict(type(settings)):
        path = settings.path if settings.path is not None else config.paths.catalog
        if path is not None and not Path(path).is_absolute() and config.source is not None:
            path = Path(config.source).resolve().parent / path
        settings = attrs.evolve(settings, path=path)
    return cls(settings)


def _check_columns(table: Table, name: str) -> None:
    missing = [c for c in CATALOG_COLUMNS if c not in table.colnames]
    if missing:
        raise CatalogError(f"catalog source {name!r} returned no column(s) {', '.join(missing)}")


def build_catalog(
    footprint: CCDFootprint,
    source: CatalogSource,
    output: Path,
    *,
    buffer_deg: float = 0.1,
    tmag_max: float | None = None,
) -> CatalogBuildResult:
    """Query ``source`` for the footprint, propagate proper motions, trim, and write the file.

    Parameters
    ----------
    footprint
        The CCD's sky coverage and reference time.
    source
        Where the stars come from.
    output
        Catalog file to write (replaced if it exists).
    buffer_deg
        Stars within this many degrees of the footprint (at the reference epoch) are kept.
    tmag_max
        Faintest magnitude kept (None: all).
    """
    epoch = float(btjd_to_epoch(footprint.reference_time))
    limit = np.inf if tmag_max is None else float(tmag_max)
    # Query a little wider than the buffer: stars move by their proper motion before the
    # exact trim below.
    query_buffer = buffer_deg + 0.02
    # Several footprints (TPF stamps): one query for the hull around them all, trimmed below.
    polygons = footprint.polygons
    if len(polygons) > 1:
        polygons = (SkyPolygon.hull([p.enlarged(query_buffer) for p in polygons]),)
        query_buffer = 0.0
    parts = []
    for polygon in polygons:
        try:
            part = source.query(polygon.enlarged(query_buffer).vertices(), tmag_max=limit)
        except TasocError:
            raise
        except Exception as exc:
            raise CatalogError(
                f"catalog source {source.name!r} failed: {type(exc).__name__}: {exc}"
            ) from exc
        _check_columns(part, source.name)
        parts.append(part[list(CATALOG_COLUMNS)])
    table = vstack(parts, metadata_conflicts="silent") if len(parts) > 1 else parts[0]
    starid = np.asarray(table["starid"], dtype=np.int64)
    _, first = np.unique(starid, return_index=True)
    table = table[np.sort(first)]

    def col(name: str) -> np.ndarray:
        return np.asarray(
            np.ma.filled(np.ma.asarray(table[name], dtype=float), np.nan), dtype=float
        )

    ra0, dec0, pm_ra, pm_dec = col("ra"), col("dec"), col("pm_ra"), col("pm_dec")
    ra, dec = propagate_proper_motion(ra0, dec0, pm_ra, pm_dec, epoch - 2000.0)
    keep = footprint.contains(ra, dec, buffer_deg) & (col("tmag") <= limit)
    stars = CatalogStars(
        starid=np.asarray(table["starid"], dtype=np.int64)[keep],
        ra=ra[keep],
        dec=dec[keep],
        ra_j2000=ra0[keep],
        dec_j2000=dec0[keep],
        pm_ra=pm_ra[keep],
        pm_dec=pm_dec[keep],
        tmag=col("tmag")[keep],
        teff=col("teff")[keep],
    )
    order = np.argsort(stars.starid, kind="stable")
    stars = stars.select(order)
    source_settings = unstructure(source.settings) if attrs.has(type(source.settings)) else {}
    settings = CatalogSettings(
        sector=footprint.sector,
        camera=footprint.camera,
        ccd=footprint.ccd,
        ticver=str(getattr(source.settings, "ticver", "") or ""),
        reference_time=footprint.reference_time,
        epoch=epoch,
        coord_buffer=buffer_deg,
        camera_centre_ra=footprint.camera_centre[0],
        camera_centre_dec=footprint.camera_centre[1],
        footprint=footprint.polygons,
        footprint_kind=footprint.kind,
        reference_frame=footprint.reference_frame,
        catalog_source=source.name,
        catalog_source_settings=source_settings,
        tmag_max=tmag_max,
        tasoc_version=__version__,
    )
    write_catalog(output, settings, stars)
    logger.info(
        "sector %d camera %d CCD %d: %d stars written to %s",
        footprint.sector, footprint.camera, footprint.ccd, len(stars), output,
    )  # fmt: skip
    return CatalogBuildResult(
        footprint.sector, footprint.camera, footprint.ccd, Path(output), "built", len(stars),
        footprint.kind, footprint.reference_time, footprint.reference_frame,
    )  # fmt: skip


@attrs.frozen
class InputScan:
    """FFIs and TPFs found under the input directory, grouped by sector/camera/CCD."""

    ffis: dict[CCDKey, list[FFIName]]
    tpfs: dict[CCDKey, list[TPFHeader]]  #: TPFs whose headers were read in full
    tpf_counts: dict[CCDKey, int]  #: number of readable TPFs per CCD (read in full or not)
    bad_tpfs: list[str]  #: messages about TPFs that could not be read

    def ccds(self) -> list[CCDKey]:
        return sorted(set(self.ffis) | set(self.tpf_counts))


def scan_inputs(
    directory: Path,
    *,
    sectors: Iterable[int] | None = None,
    read_tpfs: bool | Callable[[CCDKey], bool] = True,
    progress: Callable[[Sequence[Any], str], Iterable[Any]] | None = None,
) -> InputScan:
    """Find FFIs (by name) and TPFs under ``directory``.

    Parameters
    ----------
    directory
        Searched recursively.
    sectors
        Only these sectors (by file name).
    read_tpfs
        False: ignore TPFs. True: read every TPF's headers and APERTURE image. A callable
        ``wanted(key)``: read only the primary header of each TPF, and the rest only for
        TPFs on the CCDs it accepts (reading a TPF in full is the expensive part).
    progress
        Wraps the TPF list for progress display: ``progress(items, label)``.

    TPFs whose header sector disagrees with their name, or that cannot be read, are
    reported in ``bad_tpfs`` and left out.
    """
    wanted = None if sectors is None else set(sectors)
    ffis: dict[CCDKey, list[FFIName]] = {}
    for f in find_ffis(directory):
        if wanted is not None and f.sector not in wanted:
            continue
        ffis.setdefault((f.sector, f.camera, f.ccd), []).append(f)
    tpfs: dict[CCDKey, list[TPFHeader]] = {}
    counts: dict[CCDKey, int] = {}
    bad: list[str] = []
    if read_tpfs:
        names = [t for t in find_tpfs(directory) if wanted is None or t.sector in wanted]
        iterator = progress(names, "Reading TPF headers") if progress else names
        for name in iterator:
            try:
                key, header = read_tpf(name.path, read_tpfs if callable(read_tpfs) else None)
            except InputFileError as exc:
                logger.error("%s", exc)
                bad.append(str(exc))
                continue
            if key[0] != name.sector:
                msg = f"{name.path}: header SECTOR {key[0]} disagrees with the file name (sector {name.sector})"
                logger.error("%s", msg)
                bad.append(msg)
                continue
            counts[key] = counts.get(key, 0) + 1
            if header is not None:
                tpfs.setdefault(key, []).append(header)
    return InputScan(ffis, tpfs, counts, bad)


def check_requested(
    have: set[CCDKey],
    sectors: Sequence[int],
    cameras: Sequence[int] | None,
    ccds: Sequence[int] | None,
    sel_cameras: set[int],
    sel_ccds: set[int],
    input_dir: Path,
) -> None:
    """Raise if a camera or CCD asked for on the command line has no FFI or TPF at all.

    ``--ccd 1`` means "CCD 1 of every selected camera that has data": only a requested
    camera (or CCD) without data on any of the selected CCDs (or cameras) is an error.
    """
    for sector in sectors:
        for camera in cameras or ():
            if not any((sector, camera, d) in have for d in sel_ccds):
                where = (
                    f"CCD {next(iter(sel_ccds))}"
                    if len(sel_ccds) == 1
                    else f"CCDs {sorted(sel_ccds)}"
                )
                raise CatalogError(
                    f"no FFIs or TPFs for sector {sector} camera {camera} {where} under {input_dir}"
                )
        for ccd in ccds or ():
            if not any((sector, c, ccd) in have for c in sel_cameras):
                where = (
                    f"camera {next(iter(sel_cameras))}"
                    if len(sel_cameras) == 1
                    else f"cameras {sorted(sel_cameras)}"
                )
                raise CatalogError(
                    f"no FFIs or TPFs for sector {sector} {where} CCD {ccd} under {input_dir}"
                )


def make_catalogs(
    config: Config,
    pm: Any,
    *,
    sectors: Sequence[int] | None = None,
    cameras: Sequence[int] | None = None,
    ccds: Sequence[int] | None = None,
    overwrite: bool = False,
    source_name: str | None = None,
    progress: Callable[[Sequence[Any], str], Iterable[Any]] | None = None,
) -> list[CatalogBuildResult]:
    """Build the catalog file of every selected sector/camera/CCD that has FFIs or TPFs.

    Parameters
    ----------
    config
        Run configuration (paths, ``[selection]``, ``[catalog]``).
    pm
        Plugin manager (for the catalog source).
    sectors, cameras, ccds
        Explicit selection (see :func:`check_requested` for what is an error).
        Default: ``[selection]`` of the configuration, where CCDs without data are skipped.
    overwrite
        Rebuild catalog files that exist (otherwise they are kept: a re-run resumes).
    source_name
        Catalog source to use instead of ``catalog.source``.
    progress
        Wraps a sequence for progress display: ``progress(items, label)``.

    Returns
    -------
    list of CatalogBuildResult
        One per CCD, including failures (status ``"failed"`` with the message).

    Raises
    ------
    CatalogError
        If no FFI or TPF matches the selection, or an explicitly requested camera/CCD has
        none (names the input directory and the selection).
    """
    input_dir = Path(config.paths.input)
    if not input_dir.is_dir():
        raise InputFileError(f"input directory {input_dir} (paths.input) does not exist")
    sel_sectors = (
        list(sectors)
        if sectors
        else ([config.selection.sector] if config.selection.sector else None)
    )
    sel_cameras = set(cameras or config.selection.cameras)
    sel_ccds = set(ccds or config.selection.ccds)

    scan = scan_inputs(input_dir, sectors=sel_sectors, read_tpfs=False)
    tpf_sectors = {
        t.sector for t in find_tpfs(input_dir) if not sel_sectors or t.sector in sel_sectors
    }
    found_sectors = sorted({k[0] for k in scan.ffis} | tpf_sectors)
    if not found_sectors:
        what = f"sector {', '.join(map(str, sel_sectors))}" if sel_sectors else "any sector"
        raise CatalogError(f"no FFIs or TPFs for {what} under {input_dir} (paths.input)")
    wanted = [
        (s, c, d) for s in found_sectors for c in sorted(sel_cameras) for d in sorted(sel_ccds)
    ]
    no_ffis = {k for k in wanted if k not in scan.ffis}
    if tpf_sectors and no_ffis:
        # Some CCDs have no FFIs: their TPFs may still define a footprint.
        scan = scan_inputs(
            input_dir, sectors=found_sectors, read_tpfs=no_ffis.__contains__, progress=progress
        )
    have = set(scan.ccds())
    check_requested(have, found_sectors, cameras, ccds, sel_cameras, sel_ccds, input_dir)
    selected = [k for k in wanted if k in have]
    if not selected:
        raise CatalogError(
            f"no FFIs or TPFs for the selected cameras {sorted(sel_cameras)} / CCDs {sorted(sel_ccds)} "
            f"of sector(s) {found_sectors} under {input_dir}"
        )
    out_dir = catalog_dir(config)
    source: CatalogSource | None = None
    results = []
    for key in progress(selected, "Building catalogs") if progress else selected:
        sector, camera, ccd = key
        path = catalog_path(out_dir, sector, camera, ccd)
        if path.exists() and not overwrite:
            logger.info("%s exists; keeping it (use --overwrite to rebuild)", path)
            results.append(CatalogBuildResult(sector, camera, ccd, path, "exists"))
            continue
        try:
            if key in scan.ffis:
                footprint = footprint_from_ffis(sector, camera, ccd, scan.ffis[key])
            else:
                footprint = footprint_from_tpfs(sector, camera, ccd, scan.tpfs[key])
        except TasocError as exc:
            # A CCD that cannot be placed on the sky must not stop the others.
            logger.error("sector %d camera %d CCD %d: %s", sector, camera, ccd, exc)
            results.append(CatalogBuildResult(sector, camera, ccd, path, "failed", error=str(exc)))
            continue
        if source is None:
            source = catalog_source_from_config(config, pm, source_name)
        # Errors of the source itself (unreadable extract, ...) concern every CCD: raise.
        results.append(
            build_catalog(
                footprint,
                source,
                path,
                buffer_deg=config.catalog.buffer_deg,
                tmag_max=config.catalog.tmag_max,
            )
        )
    return results
