"""``tasoc cbv build``: build the CBVs of every CBV area before running the ``cbv`` corrector."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import Any

import click

from tasoc_cbv.build import CBVBuildError, build_cbvs
from tasoc_cbv.io import cbv_filename
from tasoc_cbv.settings import CBVSettings
from tasoc_core.cli._app import AppContext, echo_json, pass_app
from tasoc_core.cli.options import ccd_options
from tasoc_core.config import Config
from tasoc_core.exceptions import PluginError, TasocError
from tasoc_core.families import CorrectionContext
from tasoc_core.sectors import ffi_cadence

__all__ = ["cbv", "open_correction_context"]


@contextlib.contextmanager
def open_correction_context(config: Config) -> Iterator[CorrectionContext]:
    """The correction context of a run, from tasoc-core's correction framework.

    Expects ``tasoc_core.correct.open_context(config, *, corrector) -> context manager``
    yielding a :class:`~tasoc_core.families.CorrectionContext` whose ``work_dir`` is the
    corrector's product directory.
    """
    try:
        from tasoc_core.correct import open_context  # type: ignore[import-not-found]
    except ImportError as exc:
        raise PluginError(
            "tasoc cbv build is not wired yet: it needs "
            "tasoc_core.correct.open_context(config, *, corrector) from tasoc-core's "
            f"correction framework ({exc})"
        ) from None
    with open_context(config, corrector="cbv") as context:
        yield context


@click.group("cbv")
def cbv() -> None:
    """Co-trending basis vectors (CBVs) for the cbv corrector."""


@cbv.command("build")
@click.option("--sector", type=int, help="Sector (default: selection.sector of the configuration).")
@ccd_options
@click.option(
    "--area",
    "areas",
    type=int,
    multiple=True,
    help="Only these CBV areas, e.g. --area 114 (repeatable).",
)
@click.option("--cadence", type=int, help="Cadence in seconds (default: the sector's FFI cadence).")
@click.option(
    "--method",
    help="Photometry method whose light curves are used (default: correctors.cbv.build_method).",
)
@click.option(
    "--release",
    type=click.IntRange(1),
    help="Data-release version in the file names (default: correctors.cbv.version).",
)
@click.option("--overwrite", is_flag=True, help="Rebuild areas whose CBV file exists.")
@click.option("--no-plot", is_flag=True, help="Do not write the PNG plot of each area.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable summary.")
@pass_app
@click.pass_context
def build(
    ctx: click.Context,
    app: AppContext,
    sector: int | None,
    cameras: tuple[int, ...],
    ccds: tuple[int, ...],
    areas: tuple[int, ...],
    cadence: int | None,
    method: str | None,
    release: int | None,
    overwrite: bool,
    no_plot: bool,
    as_json: bool,
) -> None:
    """Build the CBVs of each CBV area and write one CBV file (and plot) per area.

    Areas are camera·100 + ccd·10 + ring (rings 1-4 around the camera centre). An area with
    too few stars is reported and skipped; its targets get a clear error from the corrector.
    Areas without any light curve are listed on one line (status "empty" in --json).
    Existing files built with the same settings are kept, so an interrupted build resumes.
    """
    config = app.config
    settings: CBVSettings = config.settings_for("correctors", "cbv", CBVSettings)
    sector = sector if sector is not None else config.selection.sector
    todo = _areas(areas, cameras or config.selection.cameras, ccds or config.selection.ccds)
    results: list[dict[str, Any]] = []
    with open_correction_context(config) as context:
        if sector is None:
            sector = getattr(context, "sector", None)
        if sector is None:
            raise TasocError("tasoc cbv build: no sector given (use --sector or selection.sector)")
        cad = cadence or ffi_cadence(sector)
        # Progress goes to stderr (stdout may carry --json); nothing when not shown.
        with click.progressbar(
            todo,
            label="Building CBVs",
            show_pos=True,
            file=sys.stderr if app.show_progress else _Null(),
        ) as bar:
            for cam, ccd, area in bar:
                results.append(
                    _build_one(context, settings, sector, cam, ccd, cad, area, method,
                               release, overwrite, not no_plot)
                )  # fmt: skip
    if as_json:
        echo_json({"sector": sector, "areas": results})
    else:
        empty = [str(r["area"]) for r in results if r["status"] == "empty"]
        if empty:
            click.echo(f"areas without light curves (nothing to build): {', '.join(empty)}")
        for r in results:
            if r["status"] == "empty":
                continue
            line = f"area {r['area']}: {r['status']}"
            line += f" {r['file']}" if r.get("file") else ""
            line += f" ({r['message']})" if r.get("message") else ""
            click.echo(line)
    failed = [r for r in results if r["status"] == "error"]
    if failed or not any(r["status"] in ("built", "kept") for r in results):
        ctx.exit(1)


class _Null:
    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        pass


def _areas(
    areas: tuple[int, ...], cameras: tuple[int, ...], ccds: tuple[int, ...]
) -> list[tuple[int, int, int]]:
    if areas:
        out = []
        for area in areas:
            cam, ccd, ring = area // 100, (area // 10) % 10, area % 10
            if not (1 <= cam <= 4 and 1 <= ccd <= 4 and 1 <= ring <= 4):
                raise click.BadParameter(f"{area} is not a CBV area (camera·100 + ccd·10 + ring)",
                                         param_hint="--area")  # fmt: skip
            out.append((cam, ccd, area))
        return out
    return [(c, d, c * 100 + d * 10 + r) for c in cameras for d in ccds for r in (1, 2, 3, 4)]


def _build_one(
    context: CorrectionContext,
    settings: CBVSettings,
    sector: int,
    camera: int,
    ccd: int,
    cadence: int,
    area: int,
    method: str | None,
    release: int | None,
    overwrite: bool,
    plot: bool,
) -> dict[str, Any]:
    version = release or settings.version
    existed = (context.work_dir / cbv_filename(sector, cadence, area, version)).exists()
    try:
        path = build_cbvs(
            context,
            sector=sector,
            camera=camera,
            ccd=ccd,
            cadence=cadence,
            method=method or settings.build_method,
            area=area,
            version=version,
            settings=settings.build,
            overwrite=overwrite,
            plot=plot,
        )
    except CBVBuildError as exc:
        if exc.stars == 0:
            return {"area": area, "status": "empty", "message": "no light curves in this area"}
        status = "skipped" if exc.stars is not None else "error"
        return {"area": area, "status": status, "message": str(exc)}
    except TasocError as exc:
        return {"area": area, "status": "error", "message": str(exc)}
    return {
        "area": area,
        "status": "kept" if existed and not overwrite else "built",
        "file": str(path),
    }
