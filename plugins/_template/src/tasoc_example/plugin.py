"""Hook implementations of the ``example`` plugin (the module the entry point names)."""

from __future__ import annotations

from tasoc_core import hookimpl
from tasoc_core.hookspecs import Register
from tasoc_example.method import CircularAperture


@hookimpl
def tasoc_register_photometry_methods(register: Register) -> None:
    """Register the circular-aperture method under the name ``example``."""
    register(CircularAperture)
