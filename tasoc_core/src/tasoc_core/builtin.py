"""Core's own defaults, registered through the same hooks as any third-party plugin.

This module is the ``core`` entry point of the ``tasoc`` group. Disabling it
(``--disable-plugin core``) leaves only what other plugins provide.
"""

from __future__ import annotations

from tasoc_core.hookspecs import Register, hookimpl
from tasoc_core.validation.validators import DEFAULT_VALIDATORS

__all__ = [
    "tasoc_register_background_estimators",
    "tasoc_register_catalog_sources",
    "tasoc_register_validators",
]


@hookimpl
def tasoc_register_background_estimators(register: Register) -> None:
    """The default background estimator, ``tasoc`` (paper 003 §3.2)."""
    from tasoc_core.background import TasocBackground

    register(TasocBackground)


@hookimpl
def tasoc_register_validators(register: Register) -> None:
    """The default DATAVAL validators (paper 003, Table 2; ``docs/validation.md``)."""
    for cls in DEFAULT_VALIDATORS:
        register(cls)


@hookimpl
def tasoc_register_catalog_sources(register: Register) -> None:
    """The ``file`` source: a TIC extract in CSV, ECSV, FITS or VOTable format."""
    from tasoc_core.catalog.file_source import FileCatalogSource

    register(FileCatalogSource)
