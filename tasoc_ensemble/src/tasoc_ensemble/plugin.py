"""Hook implementations of the ``ensemble`` plugin (the module the entry point names)."""

from __future__ import annotations

from tasoc_core import hookimpl
from tasoc_core.hookspecs import Register
from tasoc_ensemble.corrector import EnsembleCorrector


@hookimpl
def tasoc_register_correctors(register: Register) -> None:
    """Register the ensemble corrector under the name ``ensemble``."""
    register(EnsembleCorrector)
