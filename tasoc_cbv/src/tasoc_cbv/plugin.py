"""Hook implementations of the ``cbv`` plugin (the module the entry point names)."""

from __future__ import annotations

import click

from tasoc_cbv.corrector import CBVCorrector
from tasoc_core import hookimpl
from tasoc_core.hookspecs import Register


@hookimpl
def tasoc_register_correctors(register: Register) -> None:
    """Register the CBV corrector under the name ``cbv``."""
    register(CBVCorrector)


@hookimpl
def tasoc_register_commands(cli: click.Group) -> None:
    """Add ``tasoc cbv build``."""
    from tasoc_cbv.cli import cbv

    cli.add_command(cbv)
