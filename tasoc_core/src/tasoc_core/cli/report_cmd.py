"""``tasoc report``: the HTML report of the TODO-file."""

from __future__ import annotations

import json
from pathlib import Path

import click

from tasoc_core.cli._app import AppContext, cli, echo_json, pass_app
from tasoc_core.cli._progress import progress_callback
from tasoc_core.report import build_report, format_summary
from tasoc_core.todo import todo_path

__all__ = ["report"]


def _names(text: str | None) -> list[str] | None:
    return [m.strip() for m in text.split(",") if m.strip()] if text else None


@cli.command()
@click.option(
    "-o", "--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
    help="Report directory. Default: <paths.output>/report.",
)  # fmt: skip
@click.option(
    "--todo", "todo_file", type=click.Path(path_type=Path),
    help="TODO-file to report on. Default: <paths.output>/todo.sqlite.",
)  # fmt: skip
@click.option("-m", "--method", "methods", metavar="A,B", help="Only these photometry methods.")
@click.option("-n", "--targets", type=click.IntRange(min=0), help="Targets drawn one by one.")
@click.option("--starid", type=int, multiple=True, help="Draw this TIC (repeatable).")
@click.option("--priority", "priorities", type=int, multiple=True, help="Draw this TODO-file row.")
@click.option("--no-embed", is_flag=True, help="Link the PNG files instead of embedding them.")
@click.option("--no-compare", is_flag=True, help="Leave out the comparison of methods/correctors.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@pass_app
def report(app: AppContext, out_dir: Path | None, todo_file: Path | None, methods: str | None,
           targets: int | None, starid: tuple[int, ...], priorities: tuple[int, ...],
           no_embed: bool, no_compare: bool, as_json: bool) -> None:  # fmt: skip
    """Write an HTML report (report.html, figures/, report.json) of the TODO-file.

    Works on a TODO-file at any stage: what is missing is listed with the command that
    makes it. Figures: noise against the expected noise, aperture sizes, contamination,
    flux and zero point, stamp sizes, timings, corrections, comparisons, per-target pages.
    """
    path = todo_file if todo_file is not None else todo_path(app.config)
    with progress_callback(app.show_progress and not as_json, "report") as progress:
        html = build_report(
            path, app.config, out_dir, pm=app.pm, targets=targets, starids=starid,
            priorities=priorities, methods=_names(methods), embed=False if no_embed else None,
            compare=not no_compare, progress=progress,
        )  # fmt: skip
    data = json.loads((html.parent / "report.json").read_text())
    if as_json:
        echo_json({"report": str(html), **data})
        return
    click.echo(format_summary(data["summary"]))
    click.echo(f"\nreport: {html} ({len(data['summary']['figures'])} figures)")
