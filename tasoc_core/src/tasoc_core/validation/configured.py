"""The validators a run uses: every registered one, with its configured settings."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tasoc_core.families.validation import Validator

if TYPE_CHECKING:
    from tasoc_core.config import Config
    from tasoc_core.plugins import TasocPluginManager

__all__ = ["configured_validators"]


def configured_validators(pm: TasocPluginManager, config: Config) -> list[Validator]:
    """Instances of every registered validator not in ``validation.skip``.

    Each gets the settings of its ``[validators.<name>]`` table. Validators run in name
    order; their flags are OR-ed, so the order does not change the result.

    Raises
    ------
    ConfigError
        If a validator's table holds an unknown key or a bad value.
    """
    skip = set(config.validation.skip)
    validators = []
    for registration in pm.registries.validators:
        if registration.name in skip:
            continue
        cls = registration.cls
        settings = config.settings_for("validators", registration.name, cls.Settings)
        validators.append(cls(settings))
    return validators
