"""``tasoc config``: inspect the run configuration."""

from __future__ import annotations

import click
import tomli_w

from tasoc_core.cli._app import AppContext, cli, echo_json, pass_app
from tasoc_core.config.plugins import effective_config

__all__ = ["config"]


@cli.group()
def config() -> None:
    """Inspect the run configuration."""


@config.command("show")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_app
@click.pass_context
def show(ctx: click.Context, app: AppContext, as_json: bool) -> None:
    """Print the effective configuration: the file's values, defaults and plugin settings.

    Plugin-contributed rules are listed under photometry.plugin_rules; they apply after
    the rules of the file and before photometry.default_method.
    """
    data, problems = effective_config(app.config, app.pm)
    if as_json:
        echo_json(data | {"problems": problems})
    else:
        source = data.pop("source", None)
        header = (
            f"# effective configuration from {source}\n"
            if source
            else "# effective configuration (defaults)\n"
        )
        click.echo(header + tomli_w.dumps(data), nl=False)
    for problem in problems:
        click.echo(f"Error: {problem}", err=True)
    if problems:
        ctx.exit(1)
