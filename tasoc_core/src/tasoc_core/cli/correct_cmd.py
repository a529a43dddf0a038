"""``tasoc correct``: systematics correction of the raw light curves."""

from __future__ import annotations

import sys

import click

from tasoc_core.cli._app import AppContext, cli, echo_json, pass_app
from tasoc_core.cli._progress import progress_callback
from tasoc_core.cli.options import target_filters, targets_from_options
from tasoc_core.correct import run_corrections

__all__ = ["correct"]


@cli.command()
@click.option(
    "-m",
    "--method",
    "correctors",
    metavar="A,B",
    required=True,
    help="Correctors to run, e.g. cbv,ensemble (results are kept side by side).",
)
@click.option(
    "--photometry", metavar="A,B", help="Correct only these photometry methods' light curves."
)
@target_filters
@click.option(
    "--backend", type=click.Choice(["serial", "processes", "mpi"]), help="Override [run] backend."
)
@click.option("--mpi", is_flag=True, help="Same as --backend mpi (start with mpiexec -n N).")
@click.option("-j", "--workers", type=click.IntRange(min=1), help="Local worker processes.")
@click.option(
    "--retry-errors",
    is_flag=True,
    help="Correct again light curves whose last attempt ended in ERROR.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@pass_app
def correct(app: AppContext, correctors: str, photometry: str | None, backend: str | None, mpi: bool,
            workers: int | None, retry_errors: bool, as_json: bool, **options: object) -> None:  # fmt: skip
    """Correct systematics in the raw light curves of `tasoc run`.

    Build CBVs first (`tasoc cbv build`) for the cbv corrector. Only photometry approved by
    data validation is corrected; the rest is recorded as SKIPPED.
    """
    names = [c.strip() for c in correctors.split(",") if c.strip()]
    methods = [m.strip() for m in photometry.split(",") if m.strip()] if photometry else None
    with progress_callback(app.show_progress and not as_json, "correct") as progress:
        report = run_corrections(
            app.config, app.pm, names, methods=methods, filters=targets_from_options(options),
            backend="mpi" if mpi else backend, workers=workers, retry_errors=retry_errors,
            disable=app.disable, progress=progress, command=" ".join(sys.argv),
        )  # fmt: skip
    if report is None:
        return
    if as_json:
        echo_json(report)
        return
    for name, summary in report.items():
        counts = (
            ", ".join(f"{k} {v}" for k, v in sorted(summary["counts"].items())) or "nothing to do"
        )
        click.echo(
            f"{name}: {summary['tasks']} light curves in {summary['elapsed_s']:.1f} s: {counts}"
        )
