"""The ``tasoc`` command group: global options, error handling and plugin commands."""

from __future__ import annotations

import json
import logging
import sys
import traceback
from pathlib import Path
from typing import Any

import click

from tasoc_core import __version__
from tasoc_core.config import Config, find_config_file, load_config
from tasoc_core.exceptions import TasocError
from tasoc_core.plugins import TasocPluginManager, get_plugin_manager

__all__ = ["AppContext", "TasocGroup", "cli", "echo_json", "pass_app"]

logger = logging.getLogger("tasoc_core.cli")


class AppContext:
    """State shared by all commands of one invocation: options, plugins, configuration."""

    def __init__(
        self, *, verbosity: int = 0, config_path: Path | None = None, disable: tuple[str, ...] = ()
    ):
        self.verbosity = verbosity
        self.config_path = config_path
        self.disable = disable
        self._pm: TasocPluginManager | None = None
        self._config: Config | None = None

    @property
    def pm(self) -> TasocPluginManager:
        if self._pm is None:
            self._pm = get_plugin_manager(disable=self.disable)
        return self._pm

    @property
    def config(self) -> Config:
        """The run configuration (``--config``, ``$TASOC_CONFIG``, ``./tasoc.toml`` or defaults)."""
        if self._config is None:
            self._config = load_config(find_config_file(self.config_path))
        return self._config

    def set_config(self, config: Config) -> None:
        self._config = config

    @property
    def show_progress(self) -> bool:
        """Progress bars are shown unless ``-q`` was given or stderr is not a terminal."""
        return self.verbosity >= 0 and sys.stderr.isatty()


pass_app = click.make_pass_decorator(AppContext)


def echo_json(data: Any) -> None:
    """Print ``data`` as indented JSON on stdout."""
    click.echo(json.dumps(data, indent=2, sort_keys=False, default=str))


def _configure_logging(verbosity: int) -> None:
    level = {-2: logging.ERROR, -1: logging.ERROR, 0: logging.WARNING, 1: logging.INFO}.get(
        max(-2, min(verbosity, 2)), logging.DEBUG
    )
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_tasoc", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    handler._tasoc = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
    logging.captureWarnings(True)


class TasocGroup(click.Group):
    """Click group that adds plugin commands lazily and turns errors into one line."""

    _plugins_added = False

    def _add_plugin_commands(self, ctx: click.Context) -> None:
        if self._plugins_added:
            return
        self._plugins_added = True
        app = ctx.find_object(AppContext)
        pm = app.pm if app is not None else get_plugin_manager()
        pm.register_commands(self)

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._add_plugin_commands(ctx)
        return super().list_commands(ctx)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is None:
            self._add_plugin_commands(ctx)
            command = super().get_command(ctx, cmd_name)
        return command

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except TasocError as exc:
            self._fail(ctx, exc, expected=True)
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            ctx.exit(130)
        except Exception as exc:
            self._fail(ctx, exc, expected=False)

    @staticmethod
    def _fail(ctx: click.Context, exc: BaseException, *, expected: bool) -> None:
        app = ctx.find_object(AppContext)
        verbose = app is not None and app.verbosity > 0
        if verbose:
            traceback.print_exception(exc, file=sys.stderr)
        message = str(exc) if expected else f"unexpected {type(exc).__name__}: {exc}"
        hint = "" if verbose or expected else " (run with -v for the traceback)"
        click.echo(f"Error: {message}{hint}", err=True)
        ctx.exit(1)


@click.group(cls=TasocGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="tasoc")
@click.option(
    "-v", "--verbose", count=True, help="More output (repeat for debug output and tracebacks)."
)
@click.option("-q", "--quiet", count=True, help="Less output: no progress bars, errors only.")
@click.option(
    "-c",
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Run configuration (TOML). Default: $TASOC_CONFIG, then ./tasoc.toml.",
)
@click.option(
    "--disable-plugin",
    "disable",
    multiple=True,
    metavar="NAME",
    help="Do not load plugin NAME (repeatable; also $TASOC_DISABLE_PLUGINS).",
)
@click.pass_context
def cli(
    ctx: click.Context, verbose: int, quiet: int, config_path: Path | None, disable: tuple[str, ...]
) -> None:
    """tasoc: TESS light curves for asteroseismology, from pixels to corrected light curves.

    Stages run in order: simulate (or bring real data), catalog, todo, prepare, run,
    validate, correct, report. Each stage resumes where it stopped.
    """
    verbosity = verbose - quiet
    _configure_logging(verbosity)
    ctx.obj = AppContext(verbosity=verbosity, config_path=config_path, disable=disable)
