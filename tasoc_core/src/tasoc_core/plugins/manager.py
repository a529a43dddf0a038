"""Discovering, loading and calling plugins.

:func:`get_plugin_manager` is the one way core obtains plugins. It imports every entry
point of the group ``tasoc`` (except disabled ones), registers each module with pluggy,
validates its hook implementations, and keeps going when a plugin is broken: the broken
plugin is recorded with its distribution, version and error, so it can be reported, and
asking for it explicitly is a hard error.
"""

from __future__ import annotations

import logging
import os
import traceback
from collections.abc import Iterable
from importlib import metadata
from types import ModuleType
from typing import TYPE_CHECKING, Any, Literal

import attrs
import pluggy

from tasoc_core import hookspecs
from tasoc_core.exceptions import DuplicateNameError, PluginError, PluginLoadError, UnknownNameError
from tasoc_core.plugins.registry import FAMILIES, Registration, Registries

if TYPE_CHECKING:
    import click

    from tasoc_core.rules import Rule

__all__ = [
    "DISABLE_ENV",
    "BrokenPlugin",
    "PluginInfo",
    "TasocPluginManager",
    "get_plugin_manager",
]

logger = logging.getLogger(__name__)

#: Environment variable holding comma-separated plugin names not to load.
DISABLE_ENV = "TASOC_DISABLE_PLUGINS"
_BUILTIN = ("core", "tasoc_core.builtin")


@attrs.frozen
class PluginInfo:
    """A loaded plugin."""

    name: str
    module: str
    distribution: str | None = None
    version: str | None = None
    origin: Literal["entry point", "builtin", "registered"] = "registered"


@attrs.frozen
class BrokenPlugin:
    """A plugin that could not be loaded or failed while registering."""

    name: str
    error: str  #: one line: exception type and message
    detail: str  #: the full traceback
    stage: Literal["import", "validation", "registration"]
    distribution: str | None = None
    version: str | None = None

    def describe(self) -> str:
        dist = f" ({self.distribution} {self.version})" if self.distribution else ""
        return f"plugin {self.name!r}{dist} failed at {self.stage}: {self.error}"


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def _dist_of(ep: metadata.EntryPoint) -> tuple[str | None, str | None]:
    dist = getattr(ep, "dist", None)
    if dist is None:
        return None, None
    return dist.metadata["Name"], dist.version


class TasocPluginManager(pluggy.PluginManager):
    """pluggy's plugin manager plus plugin bookkeeping and the family registries."""

    def __init__(self) -> None:
        super().__init__(hookspecs.PROJECT)
        self.add_hookspecs(hookspecs)
        self.info: dict[str, PluginInfo] = {}
        self.broken: dict[str, BrokenPlugin] = {}
        self.disabled: set[str] = set()
        self._registries: Registries | None = None
        self._conflicts: list[DuplicateNameError] = []

    # -- loading --------------------------------------------------------------------------

    def add_plugin(
        self,
        module: ModuleType | object,
        name: str,
        *,
        distribution: str | None = None,
        version: str | None = None,
        origin: Literal["entry point", "builtin", "registered"] = "registered",
    ) -> bool:
        """Register ``module`` as plugin ``name``; returns False (and records why) if invalid."""
        try:
            self.register(module, name=name)
        except (pluggy.PluginValidationError, ValueError) as exc:
            self._mark_broken(name, exc, "validation", distribution, version)
            return False
        unknown = [hc.name for hc in self.get_hookcallers(module) or () if not hc.has_spec()]
        if unknown:
            self.unregister(module)
            known = ", ".join(sorted(n for n in dir(hookspecs) if n.startswith("tasoc_")))
            exc = PluginError(f"unknown hook {unknown[0]!r} (hooks are: {known})")
            self._mark_broken(name, exc, "validation", distribution, version)
            return False
        module_name = getattr(module, "__name__", type(module).__name__)
        self.info[name] = PluginInfo(name, module_name, distribution, version, origin)
        self._registries = None
        return True

    def remove_plugin(self, name: str) -> None:
        """Unregister plugin ``name`` (used by the test harness)."""
        plugin = self.get_plugin(name)
        if plugin is not None:
            self.unregister(plugin)
        self.info.pop(name, None)
        self.broken.pop(name, None)
        self._registries = None

    def load_entrypoints(self, disable: Iterable[str] = ()) -> None:
        """Import and register every ``tasoc`` entry point not in ``disable``."""
        disable = set(disable)
        seen: dict[str, str | None] = {}
        for ep in metadata.entry_points(group=hookspecs.PROJECT):
            dist, version = _dist_of(ep)
            if ep.name in disable:
                self.disabled.add(ep.name)
                continue
            if ep.name in seen:
                exc = DuplicateNameError(
                    f"plugin name {ep.name!r} is provided by two distributions: "
                    f"{seen[ep.name]} and {dist}"
                )
                self.remove_plugin(ep.name)
                self._mark_broken(ep.name, exc, "import", dist, version)
                continue
            seen[ep.name] = dist
            try:
                module = ep.load()
            except Exception as exc:  # a broken plugin must never stop the others
                self._mark_broken(ep.name, exc, "import", dist, version)
                continue
            self.add_plugin(
                module, ep.name, distribution=dist, version=version, origin="entry point"
            )

    def _mark_broken(
        self, name: str, exc: BaseException, stage: str, dist: str | None, version: str | None
    ) -> None:
        detail = "".join(traceback.format_exception(exc))
        broken = BrokenPlugin(name, _one_line(exc), detail, stage, dist, version)  # type: ignore[arg-type]
        self.broken[name] = broken
        logger.warning("%s", broken.describe())

    # -- registries -------------------------------------------------------------------------

    def _build_registries(self) -> Registries:
        registries = Registries()
        self._conflicts = []
        for name in list(self.info):
            plugin = self.get_plugin(name)
            collected: list[tuple[str, type]] = []
            try:
                for attr, _family, _base, hookname in FAMILIES:
                    for impl in getattr(self.hook, hookname).get_hookimpls():
                        if impl.plugin is plugin:
                            impl.function(
                                register=lambda cls, _a=attr, _c=collected: _c.append((_a, cls))
                            )
            except Exception as exc:
                self._mark_broken(
                    name, exc, "registration", self.info[name].distribution, self.info[name].version
                )
                continue
            info = self.info[name]
            staged = Registries()
            try:
                for attr, cls in collected:
                    getattr(staged, attr).register(
                        cls, plugin=name, distribution=info.distribution, version=info.version
                    )
            except DuplicateNameError as exc:  # the same name twice within one plugin
                self._mark_broken(name, exc, "registration", info.distribution, info.version)
                continue
            except PluginError as exc:
                self._mark_broken(name, exc, "registration", info.distribution, info.version)
                continue
            for attr, cls in collected:
                try:
                    getattr(registries, attr).register(
                        cls, plugin=name, distribution=info.distribution, version=info.version
                    )
                except DuplicateNameError as exc:
                    self._conflicts.append(exc)
        return registries

    def registries_lenient(self) -> tuple[Registries, list[DuplicateNameError]]:
        """Registries plus name conflicts, without raising (for listings)."""
        if self._registries is None:
            self._registries = self._build_registries()
        return self._registries, list(self._conflicts)

    @property
    def registries(self) -> Registries:
        """All family registries; raises DuplicateNameError if two plugins share a name."""
        registries, conflicts = self.registries_lenient()
        if conflicts:
            raise conflicts[0]
        return registries

    def lookup(self, family: str, name: str) -> Registration:
        """Registration ``name`` in ``family`` (an attribute of :class:`Registries`).

        A name that is not registered but belongs to a broken or disabled plugin raises
        :class:`PluginLoadError` explaining why; otherwise :class:`UnknownNameError` lists the
        installed names.
        """
        registry = getattr(self.registries, family)
        if name in registry:
            return registry.get(name)
        self.require(name)
        try:
            return registry.get(name)
        except UnknownNameError as exc:
            if self.broken:
                raise UnknownNameError(
                    f"{exc} (broken plugins: {', '.join(sorted(self.broken))})"
                ) from None
            raise

    def require(self, name: str) -> None:
        """Raise PluginLoadError if plugin ``name`` is broken or disabled."""
        if name in self.broken:
            raise PluginLoadError(
                f"{self.broken[name].describe()}; run 'tasoc plugins check {name}' for details"
            )
        if name in self.disabled:
            raise PluginLoadError(
                f"plugin {name!r} is disabled ({DISABLE_ENV} or --disable-plugin)"
            )

    # -- typed facade over the non-registration hooks ----------------------------------------

    def method_rules(self) -> tuple[Rule, ...]:
        """Rules contributed by plugins, each tagged with its plugin as origin."""
        rules: list[Rule] = []
        for impl in reversed(self.hook.tasoc_method_rules.get_hookimpls()):
            if impl.plugin_name in self.broken:
                continue
            for i, rule in enumerate(impl.function() or ()):
                rules.append(attrs.evolve(rule, origin=f"plugin:{impl.plugin_name}", index=i))
        return tuple(rules)

    def register_commands(self, cli: click.Group) -> None:
        """Let every plugin add commands to ``cli``; a clash breaks the newcomer."""
        for impl in self.hook.tasoc_register_commands.get_hookimpls():
            name = impl.plugin_name
            staged = _CommandCollector(cli, name)
            try:
                impl.function(cli=staged)
            except Exception as exc:
                info = self.info.get(name)
                self._mark_broken(
                    name, exc, "registration", info and info.distribution, info and info.version
                )
                continue
            for cmd_name, cmd in staged.commands.items():
                cli.add_command(cmd, cmd_name)


class _CommandCollector:
    """Stands in for the CLI group so a plugin's commands are added only if all are valid."""

    def __init__(self, cli: click.Group, plugin: str) -> None:
        self._cli = cli
        self._plugin = plugin
        self.commands: dict[str, click.Command] = {}

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._cli, attr)

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        cmd_name = name or cmd.name
        if cmd_name in self._cli.commands or cmd_name in self.commands:
            raise PluginError(
                f"plugin {self._plugin!r} adds command {cmd_name!r}, which exists already"
            )
        self.commands[cmd_name] = cmd


def get_plugin_manager(
    *,
    entrypoints: bool = True,
    disable: Iterable[str] = (),
    builtins: bool = True,
) -> TasocPluginManager:
    """Create a plugin manager with the installed plugins loaded.

    Parameters
    ----------
    entrypoints
        Load plugins from the ``tasoc`` entry-point group. Tests pass False to get an
        isolated manager.
    disable
        Plugin names not to load, in addition to those in ``$TASOC_DISABLE_PLUGINS``.
    builtins
        Without entry points, still register core's own defaults (plugin ``core``).

    Returns
    -------
    TasocPluginManager
        With hook implementations validated (``check_pending``).
    """
    env = os.environ.get(DISABLE_ENV, "")
    disabled = {n.strip() for n in env.split(",") if n.strip()} | set(disable)
    pm = TasocPluginManager()
    if entrypoints:
        pm.load_entrypoints(disabled)
    elif builtins and _BUILTIN[0] not in disabled:
        import importlib

        pm.add_plugin(importlib.import_module(_BUILTIN[1]), _BUILTIN[0], origin="builtin")
    pm.check_pending()
    return pm
