"""``tasoc compare``: photometry methods and correctors side by side on the same targets."""

from __future__ import annotations

from pathlib import Path

import click

from tasoc_core.cli._app import AppContext, cli, echo_json, pass_app
from tasoc_core.cli._progress import progress_callback
from tasoc_core.compare import compare_results, format_comparison
from tasoc_core.todo import todo_path

__all__ = ["compare"]


def _names(text: str | None) -> list[str] | None:
    return [m.strip() for m in text.split(",") if m.strip()] if text else None


@cli.command()
@click.option(
    "--todo", "todo_file", type=click.Path(path_type=Path),
    help="TODO-file to compare in. Default: <paths.output>/todo.sqlite.",
)  # fmt: skip
@click.option("-m", "--method", "methods", metavar="A,B", help="Photometry methods (default all).")
@click.option("-C", "--corrector", "correctors", metavar="A,B", help="Correctors (default all).")
@click.option("--bin-width", type=float, help="Magnitude bin width (default report.bin_width).")
@click.option("--no-truth", is_flag=True, help="No recovery metrics, even for a simulated sector.")
@click.option(
    "--truth-limit", type=click.IntRange(min=1),
    help="Light curves read per method/corrector for the recovery metrics (default all).",
)  # fmt: skip
@click.option("--no-targets", is_flag=True, help="Leave the per-target rows out of --json.")
@click.option("--json", "as_json", is_flag=True, help="Print the comparison as JSON.")
@pass_app
def compare(app: AppContext, todo_file: Path | None, methods: str | None, correctors: str | None,
            bin_width: float | None, no_truth: bool, truth_limit: int | None, no_targets: bool,
            as_json: bool) -> None:  # fmt: skip
    """Compare photometry methods and correctors on the same targets of the TODO-file.

    Per method (and method/corrector): counts per status and the fractions OK/WARNING/ERROR,
    median noise and noise over the expected noise per magnitude bin, the same on the
    targets where all succeeded, pairwise ratios, and for a simulated sector the recovery
    of the injected light curves.
    """
    path = todo_file if todo_file is not None else todo_path(app.config)
    with progress_callback(app.show_progress and not as_json, "recovery vs truth") as progress:
        result = compare_results(
            path, config=app.config, methods=_names(methods), correctors=_names(correctors),
            bin_width=bin_width if bin_width is not None else app.config.report.bin_width,
            truth=False if no_truth else None, truth_limit=truth_limit,
            include_targets=not no_targets, progress=progress,
        )  # fmt: skip
    if as_json:
        echo_json(result)
        return
    click.echo(format_comparison(result))
