"""Every hook a tasoc plugin can implement.

A plugin is a module (named by an entry point in the group ``tasoc``) holding functions
decorated with :data:`tasoc_core.hookimpl` whose names match the specifications below.
Hooks are always called with keyword arguments; implement only the ones you need, with the
argument names given here (pluggy lets an implementation accept a subset of them).

The hooks are grouped by the phase in which core calls them:

* **registration** — once per process, when the plugin manager builds its registries;
* **command line** — when the ``tasoc`` command starts;
* **selection** — when a run builds its method-selection rule table;
* **reporting** — when ``tasoc report`` builds the HTML report of a TODO-file.

``docs/plugins.md`` documents each hook with its exact signature; a test keeps the two in
step.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeAlias

import pluggy

if TYPE_CHECKING:
    from pathlib import Path

    import click

    from tasoc_core.config import Config
    from tasoc_core.report.sections import ReportSection
    from tasoc_core.rules import Rule
    from tasoc_core.todo import TodoFile

__all__ = [
    "PROJECT",
    "Register",
    "hookimpl",
    "hookspec",
    "tasoc_method_rules",
    "tasoc_register_background_estimators",
    "tasoc_register_catalog_sources",
    "tasoc_register_commands",
    "tasoc_register_correctors",
    "tasoc_register_photometry_methods",
    "tasoc_register_validators",
    "tasoc_report_sections",
]

#: pluggy project name; also the entry-point group plugins are discovered in.
PROJECT = "tasoc"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

#: The callback registration hooks receive: call it once per class to register.
Register: TypeAlias = Callable[[type], None]


# --- registration phase ----------------------------------------------------------------------


@hookspec
def tasoc_register_background_estimators(register: Register) -> None:
    """Register background estimators used by ``tasoc prepare``.

    When called
        Once per process, the first time core needs any registry.

    :param register: Call ``register(cls)`` for each subclass of
        :class:`tasoc_core.families.BackgroundEstimator`. The class's ``name`` is what
        ``prepare.background`` in the configuration selects.

    Returns nothing. A name registered by two plugins is an error naming both.
    """


@hookspec
def tasoc_register_photometry_methods(register: Register) -> None:
    """Register photometry methods.

    When called
        Once per process, the first time core needs any registry.

    :param register: Call ``register(cls)`` for each subclass of
        :class:`tasoc_core.families.PhotometryMethod`. The class's ``name`` is what
        ``tasoc run --method`` and the ``method`` of selection rules refer to.

    Returns nothing. A name registered by two plugins is an error naming both.
    """


@hookspec
def tasoc_register_validators(register: Register) -> None:
    """Register data validators (DATAVAL flags).

    When called
        Once per process, the first time core needs any registry.

    :param register: Call ``register(cls)`` for each subclass of
        :class:`tasoc_core.families.Validator`. Every registered validator runs in
        ``tasoc validate`` and after ``tasoc run``; their flags are OR-ed.

    Returns nothing. A name registered by two plugins is an error naming both.
    """


@hookspec
def tasoc_register_correctors(register: Register) -> None:
    """Register systematics correctors.

    When called
        Once per process, the first time core needs any registry.

    :param register: Call ``register(cls)`` for each subclass of
        :class:`tasoc_core.families.Corrector`. The class's ``name`` is what
        ``tasoc correct --method`` refers to.

    Returns nothing. A name registered by two plugins is an error naming both.
    """


@hookspec
def tasoc_register_catalog_sources(register: Register) -> None:
    """Register catalog sources used by ``tasoc catalog``.

    When called
        Once per process, the first time core needs any registry.

    :param register: Call ``register(cls)`` for each subclass of
        :class:`tasoc_core.families.CatalogSource`.

    Returns nothing. A name registered by two plugins is an error naming both.
    """


# --- command line ----------------------------------------------------------------------------


@hookspec
def tasoc_register_commands(cli: click.Group) -> None:
    """Add commands to the ``tasoc`` command line.

    When called
        When the ``tasoc`` command starts, before its arguments are dispatched.

    :param cli: The top-level click group. Add commands with ``cli.add_command(...)``;
        a plugin should add at most one group named after itself (e.g. ``tasoc cbv ...``).
        Adding a command whose name exists already is an error naming the plugin.

    Returns nothing.
    """


# --- selection phase -------------------------------------------------------------------------


@hookspec
def tasoc_method_rules() -> list[Rule]:
    """Contribute default method-selection rules.

    When called
        When a run builds its rule table. Rules from plugins come after the rules in the
        configuration file (so users always win) and before the fallback method.

    Returns a list of :class:`tasoc_core.rules.Rule`, in priority order. Core records the
    contributing plugin as each rule's origin.
    """


# --- reporting -------------------------------------------------------------------------------


@hookspec
def tasoc_report_sections(todo: TodoFile, config: Config, figure_dir: Path) -> list[ReportSection]:
    """Add sections to the HTML report of ``tasoc report``.

    When called
        Once per report, after core's own sections are built (each plugin separately: one
        that raises gets an error section naming it, the others are kept).

    :param todo: The TODO-file, opened read-only (query it with ``todo.conn``).
    :param config: The run configuration (paths, the plugin's own settings).
    :param figure_dir: Directory for the plugin's PNG figures (figures elsewhere are
        copied into it).

    Returns a list of :class:`tasoc_core.report.ReportSection` (title, trusted HTML body,
    figures, order); an empty list when the plugin has nothing to show for this run.
    """
