"""Hook implementations of the ``linpsf`` plugin (the module its entry point names)."""

from __future__ import annotations

from tasoc_core import hookimpl
from tasoc_core.hookspecs import Register
from tasoc_psf.linpsf import LinPSFPhotometry

__all__ = ["tasoc_register_photometry_methods"]


@hookimpl
def tasoc_register_photometry_methods(register: Register) -> None:
    """Register linear PRF photometry under the name ``linpsf``."""
    from tasoc_core.blas import prepare_blas_limits

    prepare_blas_limits()
    register(LinPSFPhotometry)
