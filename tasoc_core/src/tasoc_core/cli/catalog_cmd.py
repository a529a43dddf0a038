"""``tasoc catalog``: per-CCD star catalogs from a TIC extract or another catalog source."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import click

from tasoc_core.catalog import make_catalogs
from tasoc_core.cli._app import AppContext, cli, echo_json, pass_app
from tasoc_core.cli.options import ccd_options

__all__ = ["catalog", "progress_for"]


def progress_for(app: AppContext) -> Any:
    """``progress(items, label)`` showing a click progress bar when the app allows it."""

    def progress(items: Sequence[Any], label: str) -> Iterable[Any]:
        if not app.show_progress or len(items) < 2:
            return items
        return _bar(items, label)

    return progress


def _bar(items: Sequence[Any], label: str) -> Iterator[Any]:
    with click.progressbar(items, label=label, file=click.get_text_stream("stderr")) as bar:
        yield from bar


@cli.command()
@click.option(
    "--sector",
    "sectors",
    type=int,
    multiple=True,
    help="Sector (repeatable). Default: [selection] or all found.",
)
@ccd_options
@click.option(
    "--source", "source", metavar="NAME", help="Catalog source (default: catalog.source, 'file')."
)
@click.option("-o", "--overwrite", is_flag=True, help="Rebuild catalogs that exist.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_app
@click.pass_context
def catalog(
    ctx: click.Context,
    app: AppContext,
    sectors: tuple[int, ...],
    cameras: tuple[int, ...],
    ccds: tuple[int, ...],
    source: str | None,
    overwrite: bool,
    as_json: bool,
) -> None:
    """Build one catalog SQLite file per sector, camera and CCD.

    Each file holds the stars within catalog.buffer_deg (0.1 deg) of the CCD's footprint
    (the science pixels mapped through the WCS of the FFI nearest the sector reference
    time, or the TPF stamps of CCDs without FFIs), with positions moved by their proper
    motion to the reference epoch. Files are written to <paths.output>/catalog/; existing
    files are kept unless --overwrite, so an interrupted run resumes.
    """
    config = app.config
    results = make_catalogs(
        config,
        app.pm,
        sectors=sectors or None,
        cameras=cameras or None,
        ccds=ccds or None,
        overwrite=overwrite,
        source_name=source,
        progress=progress_for(app),
    )
    if as_json:
        echo_json({"catalogs": [r.to_dict() for r in results]})
    elif app.verbosity >= 0:
        for r in results:
            where = f"sector {r.sector} camera {r.camera} CCD {r.ccd}"
            if r.status == "built":
                click.echo(f"{where}: {r.stars} stars ({r.footprint_kind} footprint) -> {r.path}")
            elif r.status == "exists":
                click.echo(f"{where}: kept existing {r.path}")
            else:
                click.echo(f"{where}: FAILED: {r.error}", err=True)
    if any(r.status == "failed" for r in results):
        ctx.exit(1)
