"""Hook implementations of the ``aperture`` plugin (the module the entry point names)."""

from __future__ import annotations

from tasoc_aperture.method import AperturePhotometry
from tasoc_core import hookimpl
from tasoc_core.hookspecs import Register

__all__ = ["tasoc_register_photometry_methods"]


@hookimpl
def tasoc_register_photometry_methods(register: Register) -> None:
    """Register K2P2 aperture photometry under the name ``aperture``."""
    register(AperturePhotometry)
