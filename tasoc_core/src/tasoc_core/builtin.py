"""Core's own defaults, registered through the same hooks as any third-party plugin.

This module is the ``core`` entry point of the ``tasoc`` group. Disabling it
(``--disable-plugin core``) leaves only what other plugins provide.
"""

from __future__ import annotations

from tasoc_core.hookspecs import Register, hookimpl

__all__ = ["tasoc_register_catalog_sources"]


@hookimpl
def tasoc_register_catalog_sources(register: Register) -> None:
    """The ``file`` source: a TIC extract in CSV, ECSV, FITS or VOTable format."""
    from tasoc_core.catalog.file_source import FileCatalogSource

    register(FileCatalogSource)
