"""``tasoc simulate``: a realistic simulated TESS sector with known truth.

Writes a directory shaped like a real sector download (FFIs, TPFs, a TIC-like catalog,
SPICE kernels, PRF files) plus the injected truth, read back with :class:`Truth`::

    from tasoc_core.simulate import simulate, Truth

    simulate("sector", profile="ci", seed=1)
    truth = Truth("sector")

See ``docs/simulator.md`` for the model, the profiles and the on-disk formats.
"""

from __future__ import annotations

from tasoc_core.simulate._engine import (
    DEFAULT_CAMERA,
    DEFAULT_CCD,
    DEFAULT_SECTOR,
    FFI_CADENCES,
    SimulationResult,
    simulate,
)
from tasoc_core.simulate.pointing import CcdGeometry, SectorPointing, ccd_geometry, sector_pointing
from tasoc_core.simulate.prf import analytic_prf_grid
from tasoc_core.simulate.profiles import PROFILES, Profile, get_profile
from tasoc_core.simulate.truth import Truth

__all__ = [
    "DEFAULT_CAMERA",
    "DEFAULT_CCD",
    "DEFAULT_SECTOR",
    "FFI_CADENCES",
    "PROFILES",
    "CcdGeometry",
    "Profile",
    "SectorPointing",
    "SimulationResult",
    "Truth",
    "analytic_prf_grid",
    "ccd_geometry",
    "get_profile",
    "sector_pointing",
    "simulate",
]
