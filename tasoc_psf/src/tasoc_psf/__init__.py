"""PRF-fitting photometry for tasoc: ``linpsf`` (fixed positions) and ``psf`` (nonlinear).

Public API (imported on first use, so that loading the plugins stays cheap)::

    from tasoc_psf import LinPSFPhotometry, PSFPhotometry      # the photometry methods
    from tasoc_psf import select_stars, StarSelection           # which stars are modelled
    from tasoc_psf import jitter_groups, Design                 # per-cadence design matrices
    from tasoc_psf import solve_cadences, LinearSolution        # batched weighted solve
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tasoc_psf._design import Design, JitterGroups, jitter_groups
    from tasoc_psf._solve import LinearSolution, solve_cadences
    from tasoc_psf._stars import StarSelection, select_stars
    from tasoc_psf.linpsf import LinPSFPhotometry
    from tasoc_psf.psf import PSFPhotometry

__all__ = [
    "Design",
    "JitterGroups",
    "LinPSFPhotometry",
    "LinearSolution",
    "PSFPhotometry",
    "StarSelection",
    "jitter_groups",
    "select_stars",
    "solve_cadences",
]

_WHERE = {
    "Design": "_design",
    "JitterGroups": "_design",
    "jitter_groups": "_design",
    "LinearSolution": "_solve",
    "solve_cadences": "_solve",
    "StarSelection": "_stars",
    "select_stars": "_stars",
    "LinPSFPhotometry": "linpsf",
    "PSFPhotometry": "psf",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(f"tasoc_psf.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'tasoc_psf' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
