"""Manual pixel exclusions: which pixels of which frames are flagged ManualExclude."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tasoc_core.config import ExcludeRule
from tasoc_core.data.target import Stamp

__all__ = ["KNOWN_EXCLUSIONS", "exclusion_mask", "rule_applies"]

#: Exclusions the original pipeline hard-coded (tasoc_reference.md §4.6), as rules.
KNOWN_EXCLUSIONS: tuple[ExcludeRule, ...] = (
    ExcludeRule(
        sector=1, camera=1, ccd=4, cols=(1580, 2092), cadenceno=(0, 4724),
        reason="Mars lens flare (sector 1, output D)",
    ),
    ExcludeRule(
        sector=1, camera=1, ccd=4, cols=(1580, 2092), time=(0.0, 1325.891699),
        reason="Mars lens flare (sector 1, output D)",
    ),
    ExcludeRule(camera=1, cadenceno=(11354, 11366), reason="Earth-shine over the whole camera"),
    ExcludeRule(camera=1, time=(1464.0158778, 1464.265871), reason="Earth-shine over the whole camera"),
)  # fmt: skip


def _within(value: float, bounds: tuple[float, ...] | None) -> bool:
    return bounds is None or bounds[0] <= value <= bounds[1]


def rule_applies(
    rule: ExcludeRule, *, sector: int, camera: int, ccd: int, cadenceno: int, time: float
) -> bool:
    """True if ``rule`` selects the frame described by the arguments."""
    return (
        (rule.sector is None or rule.sector == sector)
        and (rule.camera is None or rule.camera == camera)
        and (rule.ccd is None or rule.ccd == ccd)
        and _within(cadenceno, rule.cadenceno)
        and _within(time, rule.time)
    )


def exclusion_mask(
    rules: Sequence[ExcludeRule],
    science: Stamp,
    *,
    sector: int,
    camera: int,
    ccd: int,
    cadenceno: int,
    time: float,
) -> np.ndarray | None:
    """ManualExclude mask of one frame's ``science`` pixels, or None if no rule applies."""
    mask = None
    for rule in rules:
        if not rule_applies(
            rule, sector=sector, camera=camera, ccd=ccd, cadenceno=cadenceno, time=time
        ):
            continue
        rows = rule.rows or (science.row_min, science.row_max)
        cols = rule.cols or (science.col_min, science.col_max)
        r0, r1 = max(rows[0], science.row_min), min(rows[1], science.row_max)
        c0, c1 = max(cols[0], science.col_min), min(cols[1], science.col_max)
        if r0 >= r1 or c0 >= c1:
            continue
        if mask is None:
            mask = np.zeros(science.shape, dtype=bool)
        mask[
            r0 - science.row_min : r1 - science.row_min, c0 - science.col_min : c1 - science.col_min
        ] = True
    return mask
