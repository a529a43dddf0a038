"""Checking a configuration against the installed plugins."""

from __future__ import annotations

from typing import Any

from tasoc_core.config import Config
from tasoc_core.config._structure import unstructure
from tasoc_core.exceptions import ConfigError, UnknownNameError
from tasoc_core.plugins import TasocPluginManager

__all__ = ["effective_config", "validate_config"]

_SECTIONS = (
    ("methods", "photometry"),
    ("correctors", "correctors"),
    ("validators", "validators"),
)


def validate_config(config: Config, pm: TasocPluginManager) -> dict[str, dict[str, Any]]:
    """Check plugin references and settings; return structured settings per section and name.

    Raises
    ------
    ConfigError
        For a table naming an unknown method or corrector, an invalid setting, or a rule
        selecting a method that is not installed (the message names the key and value).
    """
    settings = _plugin_settings(config, pm)
    _check_rules(config, pm)
    _check_validation(config, pm)
    return settings


def _plugin_settings(config: Config, pm: TasocPluginManager) -> dict[str, dict[str, Any]]:
    settings: dict[str, dict[str, Any]] = {}
    for section, family in _SECTIONS:
        registry = getattr(pm.registries, family)
        for name in getattr(config, section):
            if name not in registry:
                raise ConfigError(
                    f"{section}.{name}: no {registry.family} named {name!r} is installed "
                    f"(installed: {', '.join(registry.names()) or 'none'})"
                )
        settings[section] = {
            reg.name: config.settings_for(section, reg.name, reg.cls.Settings) for reg in registry
        }
    return settings


def _check_rules(config: Config, pm: TasocPluginManager) -> None:
    for rule in config.rule_set(pm.method_rules()).rules:
        try:
            pm.lookup("photometry", rule.method)
        except UnknownNameError as exc:
            raise ConfigError(f"photometry rule {rule.describe()!r}: {exc}") from None
    fallback = config.photometry.default_method
    if fallback:
        try:
            pm.lookup("photometry", fallback)
        except UnknownNameError as exc:
            raise ConfigError(f"photometry.default_method: {exc}") from None


def _check_validation(config: Config, pm: TasocPluginManager) -> None:
    registry = pm.registries.validators
    for name in config.validation.skip:
        if name not in registry:
            raise ConfigError(
                f"validation.skip: no validator named {name!r} is installed "
                f"(installed: {', '.join(registry.names()) or 'none'})"
            )


def effective_config(config: Config, pm: TasocPluginManager) -> tuple[dict[str, Any], list[str]]:
    """The configuration as it will be used, and the problems found checking it.

    Returns the file's values with defaults and every installed plugin's settings filled
    in, plus messages for rules or defaults that refer to methods that are not installed.
    Invalid plugin settings still raise :class:`ConfigError`.
    """
    settings = _plugin_settings(config, pm)
    problems = []
    for check in (_check_rules, _check_validation):
        try:
            check(config, pm)
        except ConfigError as exc:
            problems.append(str(exc))
    data = config.to_dict()
    for section, _family in _SECTIONS:
        data[section] = {
            name: unstructure(value) for name, value in sorted(settings[section].items())
        }
    plugin_rules = [unstructure(rule) | {"origin": rule.origin} for rule in pm.method_rules()]
    if plugin_rules:
        data["photometry"]["plugin_rules"] = plugin_rules
    if config.source is not None:
        data = {"source": str(config.source), **data}
    return data, problems
