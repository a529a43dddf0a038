"""``tasoc demo``: a simulated sector through the whole pipeline, with a summary and a report."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import click

from tasoc_core.cli._app import AppContext, cli, echo_json, pass_app
from tasoc_core.config import load_config
from tasoc_core.demo import (
    DEMO_CORRECTORS,
    DemoStage,
    demo_stages,
    existing_sector,
    write_demo_config,
)
from tasoc_core.exceptions import TasocError

__all__ = ["demo"]


def _resolve(ctx: click.Context, stage: DemoStage) -> click.Command | None:
    root = ctx.find_root()
    command: click.Command | None = root.command
    for part in stage.command:
        if not isinstance(command, click.Group):
            return None
        command = command.get_command(root, part)
    return command


def _invoke(
    ctx: click.Context, stage: DemoStage, command: click.Command, quiet_stdout: bool
) -> None:
    params = {k: v for k, v in stage.params.items() if v is not None}
    # With --json, the stages' own lines go to stderr so stdout stays one JSON document.
    redirect: contextlib.AbstractContextManager[Any]
    if stage.silent:
        redirect = contextlib.redirect_stdout(io.StringIO())
    elif quiet_stdout:
        redirect = contextlib.redirect_stdout(sys.stderr)
    else:
        redirect = contextlib.nullcontext()
    try:
        with redirect:
            ctx.invoke(command, **params)
    except click.exceptions.Exit as exc:
        if exc.exit_code:
            raise TasocError(
                f"demo stage {stage.name!r} failed (exit status {exc.exit_code})"
            ) from None
    except TasocError as exc:
        raise TasocError(f"demo stage {stage.name!r}: {exc}") from None


def _report_json(work: Path) -> dict[str, Any] | None:
    """The report stage's ``report.json`` (None when the report stage did not run)."""
    path = work / "report" / "report.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _timing_table(timings: list[tuple[str, float | None]]) -> str:
    width = max(len(name) for name, _ in timings)
    lines = ["Time per stage"]
    for name, seconds in timings:
        shown = "skipped (not installed)" if seconds is None else f"{seconds:8.1f} s"
        lines.append(f"  {name:<{width}}  {shown}")
    total = sum(s for _, s in timings if s is not None)
    lines.append(f"  {'total':<{width}}  {total:8.1f} s")
    return "\n".join(lines)


@cli.command("demo")
@click.option(
    "--out",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("tasoc-demo"),
    show_default=True,
    help="Directory of the demo: DIR/sector (simulated inputs), DIR/tasoc.toml, DIR/work.",
)
@click.option(
    "--profile",
    type=click.Choice(["demo", "ci"]),
    default="demo",
    show_default=True,
    help="Simulated sector: demo (a whole 27-day sector on a 512×512-px sub-frame, "
    "~1900 targets) or ci (a few seconds, for testing).",
)
@click.option("--seed", type=int, default=1, show_default=True, help="Simulation seed.")
@click.option(
    "-j", "--workers", type=click.IntRange(min=1), help="Worker processes (default: all CPUs)."
)
@click.option(
    "--fresh",
    is_flag=True,
    help="Delete the outputs of a previous demo (DIR/work) first; the simulated sector is kept.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@pass_app
@click.pass_context
def demo(ctx: click.Context, app: AppContext, directory: Path, profile: str, seed: int,
         workers: int | None, fresh: bool, as_json: bool) -> None:  # fmt: skip
    """Simulate a TESS sector and take it through every stage of the pipeline.

    Stages: simulate, catalog, todo, prepare, run (the rules pick aperture or halo per
    target; data validation), cbv build, correct (cbv, ensemble), report. The summary
    gives targets per status and method, the noise against the expected noise per
    magnitude bin, the time per stage, and the path of the HTML report. Run again, the demo
    continues where it stopped; every stage can also be run by hand with
    ``tasoc -c DIR/tasoc.toml <stage>``.
    """
    from tasoc_core.cli.simulate_cmd import simulate_command

    say = (lambda text: click.echo(text, err=True)) if app.verbosity >= 0 else (lambda text: None)
    directory.mkdir(parents=True, exist_ok=True)
    directory = directory.resolve()
    sector = directory / "sector"
    timings: list[tuple[str, float | None]] = []

    stages = demo_stages(workers, [c for c in DEMO_CORRECTORS if c in app.pm.registries.correctors])
    total = len(stages) + 1
    if existing_sector(sector, profile, seed):
        say(f"==> [1/{total}] simulate: using the {profile} sector in {sector}")
        timings.append(("simulate", 0.0))
    else:
        say(f"==> [1/{total}] simulate ({profile} profile, seed {seed})")
        start = time.perf_counter()
        # A partial sector (an interrupted simulation) is replaced once the new one is complete.
        params = {"out": sector, "profile": profile, "seed": seed, "workers": workers,
                  "overwrite": sector.exists()}  # fmt: skip
        _invoke(ctx, DemoStage("simulate", ("simulate",), params), simulate_command, as_json)
        timings.append(("simulate", time.perf_counter() - start))

    config_path = write_demo_config(directory, sector)
    app.config_path = config_path
    app.set_config(load_config(config_path))
    work = Path(app.config.paths.output)
    if fresh and work.exists():
        shutil.rmtree(work)

    for i, stage in enumerate(stages, start=2):
        command = _resolve(ctx, stage)
        if command is None:
            if not stage.optional:
                raise TasocError(
                    f"demo stage {stage.name!r}: command {' '.join(stage.command)!r} not found"
                )
            say(f"==> [{i}/{total}] {stage.name}: skipped (command not installed)")
            timings.append((stage.name, None))
            continue
        if stage.done_if is not None and (work / stage.done_if).exists():
            say(f"==> [{i}/{total}] {stage.name}: done already ({work / stage.done_if})")
            timings.append((stage.name, 0.0))
            continue
        say(f"==> [{i}/{total}] {stage.name}")
        start = time.perf_counter()
        _invoke(ctx, stage, command, as_json)
        timings.append((stage.name, time.perf_counter() - start))

    result: dict[str, Any] = {
        "directory": str(directory),
        "config": str(config_path),
        "stages": {name: (None if s is None else round(s, 2)) for name, s in timings},
    }
    report = _report_json(work)
    if report is not None:
        result["report"] = str(work / "report" / "report.html")
        result["summary"] = report["summary"]
    if as_json:
        echo_json(result)
        return
    click.echo("")
    if report is not None:
        from tasoc_core.report import format_summary

        click.echo(format_summary(report["summary"]))
        click.echo("")
    click.echo(_timing_table(timings))
    click.echo(f"\nConfiguration: {config_path}")
    if report is not None:
        click.echo(f"Report:        {result['report']}")
