"""Halo photometry for tasoc: TV-min weighted sums of the unsaturated pixels of bright stars.

Public API (imported on first use, so that loading the plugin stays cheap)::

    from tasoc_halo import HaloPhotometry            # the photometry method ("halo")
    from tasoc_halo import tv_min, TVObjective       # the optimiser and its objective
    from tasoc_halo import find_saturated, mask_neighbours, split_segments, weightmap_hdu
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tasoc_halo._masking import NeighbourMask, mask_neighbours
    from tasoc_halo._objective import OBJECTIVES, PARAMETRISATIONS, TVObjective, softmax
    from tasoc_halo._optimise import TVMinResult, tv_min
    from tasoc_halo._saturation import SaturationScan, find_saturated
    from tasoc_halo._segments import split_segments
    from tasoc_halo._weightmap import weightmap_hdu
    from tasoc_halo.method import ZERO_POINT, HaloPhotometry

__all__ = [
    "OBJECTIVES",
    "PARAMETRISATIONS",
    "ZERO_POINT",
    "HaloPhotometry",
    "NeighbourMask",
    "SaturationScan",
    "TVMinResult",
    "TVObjective",
    "find_saturated",
    "mask_neighbours",
    "softmax",
    "split_segments",
    "tv_min",
    "weightmap_hdu",
]

_WHERE = {
    "NeighbourMask": "_masking",
    "mask_neighbours": "_masking",
    "OBJECTIVES": "_objective",
    "PARAMETRISATIONS": "_objective",
    "TVObjective": "_objective",
    "softmax": "_objective",
    "TVMinResult": "_optimise",
    "tv_min": "_optimise",
    "SaturationScan": "_saturation",
    "find_saturated": "_saturation",
    "split_segments": "_segments",
    "weightmap_hdu": "_weightmap",
    "ZERO_POINT": "method",
    "HaloPhotometry": "method",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(f"tasoc_halo.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'tasoc_halo' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
