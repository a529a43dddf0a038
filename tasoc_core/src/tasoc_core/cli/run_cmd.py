"""``tasoc run``: photometry of the TODO-file's targets."""

from __future__ import annotations

import sys

import click

from tasoc_core.cli._app import AppContext, cli, echo_json, pass_app
from tasoc_core.cli._progress import progress_callback
from tasoc_core.cli.options import target_filters, targets_from_options
from tasoc_core.photometry.run import run_photometry

__all__ = ["run"]


@cli.command()
@click.option(
    "-m",
    "--method",
    "methods",
    metavar="A,B",
    help="Run each of these methods on every selected target (results side by side). "
    "Default: the configured rules choose per target.",
)
@target_filters
@click.option(
    "--backend", type=click.Choice(["serial", "processes", "mpi"]), help="Override [run] backend."
)
@click.option("--mpi", is_flag=True, help="Same as --backend mpi (start with mpiexec -n N).")
@click.option("-j", "--workers", type=click.IntRange(min=1), help="Local worker processes.")
@click.option(
    "--retry-errors", is_flag=True, help="Run again targets whose last attempt ended in ERROR."
)
@click.option("--no-validate", is_flag=True, help="Do not compute DATAVAL flags afterwards.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@pass_app
def run(app: AppContext, methods: str | None, backend: str | None, mpi: bool, workers: int | None,
        retry_errors: bool, no_validate: bool, as_json: bool, **options: object) -> None:  # fmt: skip
    """Extract light curves for the targets of the TODO-file.

    A killed run resumes where it stopped: finished targets are kept, the others run again.
    Per-target failures are recorded as ERROR and counted; they do not stop the run.
    """
    names = [m.strip() for m in methods.split(",") if m.strip()] if methods else None
    with progress_callback(app.show_progress and not as_json, "photometry") as progress:
        report = run_photometry(
            app.config,
            app.pm,
            methods=names,
            filters=targets_from_options(options),
            backend="mpi" if mpi else backend,
            workers=workers,
            retry_errors=retry_errors,
            validate=not no_validate,
            disable=app.disable,
            progress=progress,
            command=" ".join(sys.argv),
        )
    if report is None:  # an MPI worker rank
        return
    if as_json:
        echo_json(report)
        return
    phot = report["photometry"]
    counts = ", ".join(f"{k} {v}" for k, v in sorted(phot["counts"].items())) or "nothing to do"
    click.echo(
        f"photometry: {phot['tasks']} targets in {phot['elapsed_s']:.1f} s ({phot['tasks_per_s']:.1f}/s): {counts}"
    )
    if "validation" in report:
        val = report["validation"]
        click.echo(f"validation: {val['results']} results, {val['approved']} approved")
