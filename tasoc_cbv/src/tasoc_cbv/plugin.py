"""Hook implementations of the ``cbv`` plugin (the module the entry point names)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from tasoc_cbv.corrector import CBVCorrector
from tasoc_core import hookimpl
from tasoc_core.hookspecs import Register

if TYPE_CHECKING:
    from tasoc_core.config import Config
    from tasoc_core.report import ReportSection
    from tasoc_core.todo import TodoFile


@hookimpl
def tasoc_register_correctors(register: Register) -> None:
    """Register the CBV corrector under the name ``cbv``."""
    register(CBVCorrector)


@hookimpl
def tasoc_register_commands(cli: click.Group) -> None:
    """Add ``tasoc cbv build``."""
    from tasoc_cbv.cli import cbv

    cli.add_command(cbv)


@hookimpl
def tasoc_report_sections(todo: TodoFile, config: Config, figure_dir: Path) -> list[ReportSection]:
    """Add the CBVs of every CBV area to ``tasoc report``."""
    from tasoc_cbv.report import cbv_report_sections

    return cbv_report_sections(todo, config, figure_dir)
