"""Command-line options shared by the stages that select targets."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

__all__ = ["ccd_options", "target_filters", "targets_from_options"]

_FILTERS = (
    click.option("--sector", type=int, multiple=True, help="Sector(s)."),
    click.option("--camera", type=click.IntRange(1, 4), multiple=True, help="Camera(s)."),
    click.option("--ccd", type=click.IntRange(1, 4), multiple=True, help="CCD(s)."),
    click.option("--cadence", type=int, multiple=True, help="Cadence(s) in seconds."),
    click.option(
        "--datasource", type=click.Choice(["ffi", "tpf"]), help="FFI or TPF targets only."
    ),
    click.option("--tmag-min", type=float, help="Brightest magnitude to include."),
    click.option("--tmag-max", type=float, help="Faintest magnitude to include."),
    click.option("--priority", "priorities", type=int, multiple=True, help="TODO-file row(s)."),
    click.option("--starid", type=int, multiple=True, help="TIC number(s)."),
)


_CCDS = (
    click.option(
        "--camera",
        "cameras",
        type=click.IntRange(1, 4),
        multiple=True,
        help="Camera (repeatable; default: selection.cameras).",
    ),
    click.option(
        "--ccd",
        "ccds",
        type=click.IntRange(1, 4),
        multiple=True,
        help="CCD (repeatable; default: selection.ccds).",
    ),
)


def ccd_options(func: Callable) -> Callable:
    """Add ``--camera``/``--ccd`` (parameters ``cameras``, ``ccds``: tuples, empty when not
    given) to a per-CCD stage command."""
    for option in reversed(_CCDS):
        func = option(func)
    return func


def target_filters(func: Callable) -> Callable:
    """Add the target-selection options to a command."""
    for option in reversed(_FILTERS):
        func = option(func)
    return func


def targets_from_options(options: dict[str, Any]) -> dict[str, Any]:
    """The TodoFile filters given on the command line (empty options left out)."""
    filters = {}
    for key in ("sector", "camera", "ccd", "cadence", "priorities", "starid"):
        values = options.get(key)
        if values:
            filters[key] = list(values)
    for key in ("datasource", "tmag_min", "tmag_max"):
        if options.get(key) is not None:
            filters[key] = options[key]
    return filters
