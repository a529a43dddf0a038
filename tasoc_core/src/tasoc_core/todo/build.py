"""``tasoc todo``: build the TODO-file from the catalogs, the FFIs and the TPFs."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import attrs

from tasoc_core.catalog.build import check_requested, scan_inputs
from tasoc_core.catalog.footprint import select_reference_frame, wcs_round_trip_ok
from tasoc_core.catalog.store import CatalogFile, catalog_path
from tasoc_core.config import Config
from tasoc_core.exceptions import CatalogError, InputFileError
from tasoc_core.io import FFIHeader, FFIName, find_tpfs, read_ffi_header
from tasoc_core.sectors import ffi_cadence
from tasoc_core.todo.targets import (
    CCDCatalog,
    ffi_targets,
    select_secondaries,
    tpf_targets,
    unique_rows,
)
from tasoc_core.todo.todofile import TodoFile, TodoRow, utc_now

__all__ = ["TodoBuildResult", "make_todo", "todo_path"]

logger = logging.getLogger(__name__)

Progress = Callable[[Sequence[Any], str], Iterable[Any]]


def todo_path(config: Config) -> Path:
    """``<paths.output>/todo.sqlite``."""
    return Path(config.paths.output) / "todo.sqlite"


@attrs.frozen
class TodoBuildResult:
    """What ``tasoc todo`` wrote."""

    path: Path
    counts: dict[str, int]
    messages: tuple[str, ...] = attrs.field(converter=tuple)

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "counts": dict(self.counts),
            "messages": list(self.messages),
        }


def _relative(path: Path, base: Path) -> str:
    try:
        return Path(path).resolve().relative_to(base.resolve()).as_posix()
    except ValueError:
        return Path(path).resolve().as_posix()


def _reference_header(ffis: Sequence[FFIName], name: str) -> FFIHeader:
    """The FFI the catalog used as reference frame, or a freshly selected one."""
    for f in ffis:
        if f.path.name == name:
            try:
                header = read_ffi_header(f.path)
            except InputFileError as exc:
                logger.warning(
                    "reference frame of the catalog is unreadable (%s); selecting another", exc
                )
                break
            if header.wcs is not None and wcs_round_trip_ok(header.wcs, header.science):
                return header
            logger.warning("%s: WCS unusable; selecting another reference frame", f.path)
            break
    else:
        if name:
            logger.warning(
                "reference frame %s of the catalog is not among the FFIs; selecting again", name
            )
    header, _ = select_reference_frame(ffis)
    return header


def _ffi_cadence(header: FFIHeader, sector: int) -> int:
    timedel = header.header.get("TIMEDEL")
    try:
        value = round(float(timedel) * 86400.0)
    except (TypeError, ValueError):
        return ffi_cadence(sector)
    return value if value > 0 else ffi_cadence(sector)


def make_todo(
    config: Config,
    *,
    sectors: Sequence[int] | None = None,
    cameras: Sequence[int] | None = None,
    ccds: Sequence[int] | None = None,
    overwrite: bool = False,
    progress: Progress | None = None,
    command: str | None = None,
) -> TodoBuildResult:
    """Build ``<paths.output>/todo.sqlite``.

    Parameters
    ----------
    config
        Run configuration (paths, ``[selection]``, ``[todo]``).
    sectors, cameras, ccds
        Selection; default ``[selection]`` of the configuration.
    overwrite
        Replace an existing TODO-file that holds results.
    progress
        Wraps a sequence for progress display: ``progress(items, label)``.
    command
        Command line, recorded in the ``runs`` table.

    Raises
    ------
    CatalogError
        If no FFI or TPF matches the selection, or a needed catalog file is missing.
    TodoFileExistsError
        If the TODO-file exists with results and ``overwrite`` is False.
    """
    started = utc_now()
    opts = config.todo
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
    use_ffi, use_tpf = "ffi" in opts.datasources, "tpf" in opts.datasources
    messages: list[str] = []
    counts = {
        "ffi": 0, "tpf": 0, "secondaries": 0, "secondaries_also_primary": 0,
        "secondaries_in_several_tpfs": 0, "excluded": 0, "tpfs_other_sector": 0,
        "tpfs_other_ccd": 0, "tpfs_unreadable": 0, "tpfs_primary_not_in_catalog": 0,
    }  # fmt: skip

    if sel_sectors and use_tpf:
        others = [t for t in find_tpfs(input_dir) if t.sector not in sel_sectors]
        if others:
            counts["tpfs_other_sector"] = len(others)
            msg = f"skipping {len(others)} TPFs of other sectors (e.g. {others[0].path.name})"
            logger.info("%s", msg)
            messages.append(msg)

    def selected(key: tuple[int, int, int]) -> bool:
        return key[1] in sel_cameras and key[2] in sel_ccds

    scan = scan_inputs(
        input_dir, sectors=sel_sectors, read_tpfs=selected if use_tpf else False, progress=progress
    )
    counts["tpfs_unreadable"] = len(scan.bad_tpfs)
    messages += scan.bad_tpfs
    keys = []
    for key in scan.ccds():
        if selected(key):
            keys.append(key)
        elif key in scan.tpf_counts:
            n = scan.tpf_counts[key]
            counts["tpfs_other_ccd"] += n
            msg = (
                f"skipping {n} TPFs of sector {key[0]} camera {key[1]} CCD {key[2]} (not selected)"
            )
            logger.info("%s", msg)
            messages.append(msg)
    have = set(scan.ccds())
    check_requested(
        have, sorted({k[0] for k in have}), cameras, ccds, sel_cameras, sel_ccds, input_dir
    )
    if not use_ffi:
        keys = [k for k in keys if k in scan.tpf_counts]
    if not use_tpf:
        keys = [k for k in keys if k in scan.ffis]
    if not keys:
        what = f"sector(s) {sel_sectors}" if sel_sectors else "any sector"
        raise CatalogError(
            f"no FFIs or TPFs for {what}, cameras {sorted(sel_cameras)}, CCDs {sorted(sel_ccds)} under {input_dir}"
        )

    rows: list[TodoRow] = []
    catalog_root = Path(config.paths.output) / "catalog"
    for key in progress(keys, "Selecting targets") if progress else keys:
        sector, camera, ccd = key
        path = catalog_path(catalog_root, sector, camera, ccd)
        if not path.is_file():
            raise CatalogError(
                f"catalog {path} for sector {sector} camera {camera} CCD {ccd} is missing; run 'tasoc catalog' first"
            )
        with CatalogFile(path) as cat:
            settings = cat.settings
            stars = cat.read_all()
        if (settings.sector, settings.camera, settings.ccd) != key:
            raise CatalogError(
                f"{path}: settings say sector {settings.sector} camera {settings.camera} CCD {settings.ccd}, not {key}"
            )
        if use_ffi and key in scan.ffis and settings.footprint_kind != "ffi":
            raise CatalogError(
                f"{path} covers only the TPFs of sector {sector} camera {camera} CCD {ccd}, which now has FFIs; "
                "rebuild it with 'tasoc catalog --overwrite'"
            )
        if settings.tmag_max is not None and settings.tmag_max < opts.faint_limit:
            msg = (
                f"{path} holds stars to Tmag {settings.tmag_max} only (catalog.tmag_max), "
                f"fainter than which no target can be found (todo.faint_limit = {opts.faint_limit})"
            )
            logger.warning("%s", msg)
            messages.append(msg)
        catalog = CCDCatalog.build(settings, stars, opts.faint_limit)
        if use_ffi and key in scan.ffis:
            header = _reference_header(scan.ffis[key], settings.reference_frame)
            found = ffi_targets(
                catalog,
                header.wcs,
                header.science,
                cadence=_ffi_cadence(header, sector),
                faint_limit=opts.faint_limit,
            )
            counts["ffi"] += len(found)
            rows += found
        if use_tpf:
            for tpf in scan.tpfs.get(key, []):
                found, notes = tpf_targets(
                    tpf,
                    catalog,
                    faint_limit=opts.faint_limit,
                    secondaries=opts.secondaries,
                    tpf_path=_relative(tpf.path, input_dir),
                )
                if notes:
                    counts["tpfs_primary_not_in_catalog"] += 1
                messages += notes
                rows += found

    excluded = set(opts.exclude)
    if excluded:
        before = len(rows)
        rows = [
            r
            for r in rows
            if r.starid not in excluded
            and not (r.datasource.startswith("tpf:") and int(r.datasource[4:]) in excluded)
        ]
        counts["excluded"] = before - len(rows)
    rows, _ = unique_rows(rows)
    rows, cleanup = select_secondaries(rows)
    counts["secondaries_also_primary"] = len(cleanup.also_primary)
    counts["secondaries_in_several_tpfs"] = len(cleanup.duplicates)
    counts["tpf"] = sum(r.datasource == "tpf" for r in rows)
    counts["secondaries"] = sum(r.datasource.startswith("tpf:") for r in rows)
    counts["ffi"] = sum(r.datasource == "ffi" for r in rows)
    if opts.forced_methods:
        forced = {int(k): v for k, v in opts.forced_methods.items()}
        rows = [
            attrs.evolve(r, forced_method=forced[r.starid]) if r.starid in forced else r
            for r in rows
        ]
    counts["targets"] = len(rows)
    if counts["targets"] == 0:
        logger.warning("no targets selected: the TODO-file will be empty")

    out = todo_path(config)
    run = {
        "stage": "todo",
        "started_at": started,
        "command": command,
        "config": config.to_dict(),
        "counts": counts,
    }
    with TodoFile.create(out, rows, overwrite=overwrite, run=run):
        pass
    logger.info(
        "%s: %d targets (%d FFI, %d TPF primaries, %d secondaries)",
        out, counts["targets"], counts["ffi"], counts["tpf"], counts["secondaries"],
    )  # fmt: skip
    return TodoBuildResult(out, counts, messages)
