"""``tasoc todo``: the TODO-file, the list of targets every later stage works through."""

from __future__ import annotations

import shlex
import sys

import click

from tasoc_core.cli._app import AppContext, cli, echo_json, pass_app
from tasoc_core.cli.catalog_cmd import progress_for
from tasoc_core.cli.options import ccd_options
from tasoc_core.todo import make_todo

__all__ = ["todo"]


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
    "-o",
    "--overwrite",
    is_flag=True,
    help="Replace an existing TODO-file even if it holds results.",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_app
def todo(
    app: AppContext,
    sectors: tuple[int, ...],
    cameras: tuple[int, ...],
    ccds: tuple[int, ...],
    overwrite: bool,
    as_json: bool,
) -> None:
    """Build <paths.output>/todo.sqlite from the catalogs, FFIs and TPFs.

    Targets: catalog stars with Tmag < todo.faint_limit on the FFIs' science pixels at the
    reference time; the primary target of every TPF; and (todo.secondaries) other stars
    brighter than the limit on collected TPF pixels. Rows are numbered brightest first.
    Run 'tasoc catalog' first. The file is written atomically; an existing TODO-file that
    holds results is only replaced with --overwrite.
    """
    result = make_todo(
        app.config,
        sectors=sectors or None,
        cameras=cameras or None,
        ccds=ccds or None,
        overwrite=overwrite,
        progress=progress_for(app),
        command=shlex.join(["tasoc", *sys.argv[1:]]),
    )
    if as_json:
        echo_json(result.to_dict())
    elif app.verbosity >= 0:
        c = result.counts
        click.echo(
            f"{result.path}: {c['targets']} targets: {c['ffi']} FFI, {c['tpf']} TPF primaries, "
            f"{c['secondaries']} TPF secondaries"
        )
        skipped = {
            "of other sectors": c["tpfs_other_sector"],
            "on unselected CCDs": c["tpfs_other_ccd"],
            "unreadable": c["tpfs_unreadable"],
        }
        if any(skipped.values()):
            # Details were logged; -v shows the informational ones.
            click.echo(
                "skipped TPFs: " + ", ".join(f"{n} {what}" for what, n in skipped.items() if n)
            )
