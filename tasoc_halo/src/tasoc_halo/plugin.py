"""Hook implementations of the ``halo`` plugin (the module the entry point names)."""

from __future__ import annotations

from tasoc_core import hookimpl
from tasoc_core.hookspecs import Register
from tasoc_core.rules import Rule
from tasoc_halo.method import HaloPhotometry

__all__ = ["tasoc_method_rules", "tasoc_register_photometry_methods"]

#: FFI targets at least this bright go straight to halo photometry (original TODO rule).
FFI_TMAG_MAX = 2.0
#: Aperture photometry ending at the stamp edge switches to halo up to this magnitude
#: (the original "haloswitch" limit).
EDGE_TMAG_MAX = 6.0


@hookimpl
def tasoc_register_photometry_methods(register: Register) -> None:
    """Register halo photometry under the name ``halo``."""
    from tasoc_core.blas import prepare_blas_limits

    prepare_blas_limits()
    register(HaloPhotometry)


@hookimpl
def tasoc_method_rules() -> list[Rule]:
    """Default rules: the brightest FFI stars, and bright stars aperture could not contain."""
    return [
        Rule(method="halo", datasource="ffi", tmag_max=FFI_TMAG_MAX),
        Rule(method="halo", after="aperture", outcome=["edge"], tmag_max=EDGE_TMAG_MAX),
    ]
