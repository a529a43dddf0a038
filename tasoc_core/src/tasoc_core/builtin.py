"""Core's own defaults, registered through the same hooks as any third-party plugin.

This module is the ``core`` entry point of the ``tasoc`` group. Disabling it
(``--disable-plugin core``) leaves only what other plugins provide.
"""

from __future__ import annotations

from tasoc_core.hookspecs import Register, hookimpl

__all__ = ["tasoc_register_background_estimators"]


@hookimpl
def tasoc_register_background_estimators(register: Register) -> None:
    """The default background estimator, ``tasoc`` (paper 003 §3.2)."""
    from tasoc_core.background import TasocBackground

    register(TasocBackground)
