"""Hook implementations of the ``psf`` plugin (the module its entry point names)."""

from __future__ import annotations

from tasoc_core import hookimpl
from tasoc_core.hookspecs import Register
from tasoc_psf.psf import PSFPhotometry

__all__ = ["tasoc_register_photometry_methods"]


@hookimpl
def tasoc_register_photometry_methods(register: Register) -> None:
    """Register nonlinear PSF photometry under the name ``psf``."""
    from tasoc_core.blas import prepare_blas_limits

    prepare_blas_limits()
    register(PSFPhotometry)
