"""The ``tasoc`` command line.

Each command lives in its own module; importing them attaches them to :data:`cli`.
"""

from __future__ import annotations

from tasoc_core.cli import (  # noqa: F401  (attach commands)
    catalog_cmd,
    config_cmd,
    correct_cmd,
    demo_cmd,
    plugins_cmd,
    prepare_cmd,
    run_cmd,
    simulate_cmd,
    todo_cmd,
    validate_cmd,
)
from tasoc_core.cli._app import AppContext, cli, echo_json, pass_app

__all__ = ["AppContext", "cli", "echo_json", "main", "pass_app"]


def main() -> None:
    """Entry point of the ``tasoc`` script."""
    cli(prog_name="tasoc")
