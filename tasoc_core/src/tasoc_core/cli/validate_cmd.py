"""``tasoc validate``: DATAVAL flags of the photometry results."""

from __future__ import annotations

import click

from tasoc_core.cli._app import AppContext, cli, echo_json, pass_app
from tasoc_core.cli._progress import progress_callback
from tasoc_core.exceptions import TasocError
from tasoc_core.todo import TodoFile, todo_path
from tasoc_core.validation.stage import validate_photometry

__all__ = ["validate"]


@cli.command()
@click.option(
    "-m", "--method", "methods", metavar="A,B", help="Validate only these methods' results."
)
@click.option(
    "--no-files", is_flag=True, help="Store flags in the TODO-file only, not in the FITS headers."
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@pass_app
def validate(app: AppContext, methods: str | None, no_files: bool, as_json: bool) -> None:
    """Compute DATAVAL flags for every successful photometry result (also run by `tasoc run`)."""
    path = todo_path(app.config)
    if not path.is_file():
        raise TasocError(f"TODO-file {path} does not exist (run `tasoc todo` first)")
    names = [m.strip() for m in methods.split(",") if m.strip()] if methods else None
    with (
        TodoFile.open(path) as todo,
        progress_callback(app.show_progress and not as_json, "validate") as progress,
    ):
        report = validate_photometry(
            todo, app.pm, app.config, methods=names, write_files=not no_files, progress=progress
        )
    if as_json:
        echo_json(report)
        return
    flags = ", ".join(f"{k} {v}" for k, v in report["flags"].items()) or "none"
    click.echo(
        f"validated {report['results']} results: {report['approved']} approved; flags: {flags}"
    )
