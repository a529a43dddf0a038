"""Registries and the plugin manager: conformance of registered classes, duplicates,
broken plugins, disabling, hook validation, plugin rules and commands."""

from __future__ import annotations

import types

import click
import numpy as np
import pytest

from tasoc_core import hookimpl
from tasoc_core.exceptions import DuplicateNameError, PluginError, PluginLoadError, UnknownNameError
from tasoc_core.families import PhotometryMethod, PhotometryResult, Validator
from tasoc_core.plugins import Registry, get_plugin_manager
from tasoc_core.rules import Rule


class Sum(PhotometryMethod):
    """Sum of all pixels."""

    name = "sum"

    def photometry(self, data):
        flux = np.nansum(data.images, axis=(1, 2))
        return PhotometryResult(data=data, flux=flux, flux_err=np.sqrt(np.abs(flux)))


def plugin(name: str, *classes: type, rules=(), commands=()) -> types.SimpleNamespace:
    """A plugin object whose hooks register ``classes`` (and optional rules/commands)."""
    ns = types.SimpleNamespace(__name__=name)

    @hookimpl
    def tasoc_register_photometry_methods(register):
        for cls in classes:
            register(cls)

    ns.tasoc_register_photometry_methods = tasoc_register_photometry_methods
    if rules:
        ns.tasoc_method_rules = hookimpl(lambda: list(rules))
    if commands:

        @hookimpl
        def tasoc_register_commands(cli):
            for cmd in commands:
                cli.add_command(cmd)

        ns.tasoc_register_commands = tasoc_register_commands
    return ns


def clone(cls: type, **attrs) -> type:
    return type(cls.__name__ + "Clone", (cls,), attrs)


def test_registry_checks_family_and_name():
    registry = Registry("photometry method", PhotometryMethod)
    registry.register(Sum, plugin="a")
    with pytest.raises(
        PluginError, match=r"not a subclass of tasoc_core\.families\.photometry\.PhotometryMethod"
    ):
        registry.register(int, plugin="b")
    with pytest.raises(PluginError, match="does not implement: photometry"):
        registry.register(clone(PhotometryMethod, name="abstract"), plugin="b")
    with pytest.raises(PluginError, match="invalid name 'Bad Name'"):
        registry.register(clone(Sum, name="Bad Name"), plugin="b")
    with pytest.raises(
        UnknownNameError, match=r"unknown photometry method 'nope' \(installed: sum\)"
    ):
        registry.get("nope")


def test_duplicate_names_name_both_plugins(tasoc_pm, tasoc_register):
    tasoc_register(plugin("first", Sum))
    tasoc_register(plugin("second", clone(Sum)))
    with pytest.raises(DuplicateNameError) as info:
        tasoc_pm.registries  # noqa: B018
    assert "'sum' is registered by two plugins: first and second" in str(info.value)
    assert info.value.plugins == ("first", "second")
    registries, conflicts = tasoc_pm.registries_lenient()
    assert len(conflicts) == 1
    assert registries.photometry.get("sum").plugin == "first"


def test_a_plugin_registering_a_bad_class_is_broken_and_others_survive(tasoc_pm, tasoc_register):
    tasoc_register(plugin("good", Sum))
    tasoc_register(plugin("bad", int))
    assert tasoc_pm.registries.photometry.names() == ["sum"]
    assert "bad" in tasoc_pm.broken
    assert tasoc_pm.broken["bad"].stage == "registration"
    with pytest.raises(PluginLoadError, match="plugin 'bad' failed at registration"):
        tasoc_pm.lookup("photometry", "bad")


def test_a_registration_hook_that_raises_breaks_only_its_plugin(tasoc_pm, tasoc_register):
    ns = types.SimpleNamespace(__name__="explodes")

    @hookimpl
    def tasoc_register_validators(register):
        raise RuntimeError("boom")

    ns.tasoc_register_validators = tasoc_register_validators
    tasoc_register(ns, "explodes")
    tasoc_register(plugin("good", Sum))
    assert "sum" in tasoc_pm.registries.photometry
    assert tasoc_pm.broken["explodes"].error == "RuntimeError: boom"


def test_unknown_hook_name_is_reported_not_fatal(tasoc_pm):
    ns = types.SimpleNamespace(__name__="typo")
    ns.tasoc_register_photometry_method = hookimpl(lambda register: None)  # missing "s"
    assert tasoc_pm.add_plugin(ns, "typo") is False
    assert "unknown hook 'tasoc_register_photometry_method'" in tasoc_pm.broken["typo"].error
    tasoc_pm.check_pending()  # the invalid plugin was unregistered


def test_wrong_hook_arguments_are_reported(tasoc_pm):
    ns = types.SimpleNamespace(__name__="args")
    ns.tasoc_register_photometry_methods = hookimpl(lambda registrar: None)
    assert tasoc_pm.add_plugin(ns, "args") is False
    assert tasoc_pm.broken["args"].stage == "validation"


def test_unknown_name_lists_installed_and_broken(tasoc_pm, tasoc_register):
    tasoc_register(plugin("good", Sum))
    tasoc_register(plugin("bad", int))
    with pytest.raises(UnknownNameError, match=r"installed: sum\) \(broken plugins: bad\)"):
        tasoc_pm.lookup("photometry", "other")


def test_disable_via_environment_and_argument(monkeypatch):
    monkeypatch.setenv("TASOC_DISABLE_PLUGINS", "core, something")
    pm = get_plugin_manager(entrypoints=True)
    assert "core" in pm.disabled
    assert "core" not in pm.info
    with pytest.raises(PluginLoadError, match="disabled"):
        pm.require("core")
    monkeypatch.delenv("TASOC_DISABLE_PLUGINS")
    pm = get_plugin_manager(entrypoints=True, disable=["core"])
    assert "core" not in pm.info
    assert "core" in get_plugin_manager(entrypoints=True).info


def test_method_rules_are_tagged_with_their_plugin(tasoc_pm, tasoc_register):
    tasoc_register(plugin("halo-like", Sum, rules=[Rule(method="sum", tmag_max=2.0)]))
    (rule,) = tasoc_pm.method_rules()
    assert rule.origin == "plugin:halo-like"
    assert rule.describe() == "plugin:halo-like[0]: Tmag<=2 -> sum"


def test_commands_are_added_and_clashes_break_the_newcomer(tasoc_pm, tasoc_register):
    group = click.Group("tasoc", commands={"existing": click.Command("existing")})
    tasoc_register(plugin("adds", Sum, commands=[click.Command("fresh")]))
    tasoc_register(plugin("clashes", commands=[click.Command("ok"), click.Command("existing")]))
    tasoc_pm.register_commands(group)
    assert set(group.commands) == {"existing", "fresh"}
    assert "adds command 'existing', which exists already" in tasoc_pm.broken["clashes"].error


def test_installed_core_plugin_is_found_by_entry_point():
    pm = get_plugin_manager()
    info = pm.info["core"]
    assert info.distribution == "tasoc-core"
    assert info.origin == "entry point"


class Empty(Validator):
    """Flags nothing."""

    name = "empty"

    def validate(self, table):
        raise NotImplementedError


def test_temporary_registration_is_undone(tasoc_pm, tasoc_register):
    tasoc_register(types.SimpleNamespace(
        __name__="v",
        tasoc_register_validators=hookimpl(lambda register: register(Empty)),
    ))  # fmt: skip
    assert "empty" in tasoc_pm.registries.validators
    tasoc_pm.remove_plugin("v")
    assert "empty" not in tasoc_pm.registries.validators
