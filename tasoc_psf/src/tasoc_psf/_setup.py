"""What both PRF methods do before their own fit: stars, design, pixels, the prepass."""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np

from tasoc_core.data import TargetData
from tasoc_psf._common import check_mask, pixel_arrays
from tasoc_psf._design import Design, JitterGroups, jitter_groups
from tasoc_psf._prepass import PrePass, prepass
from tasoc_psf._settings import CommonSettings
from tasoc_psf._stars import StarSelection, select_stars

__all__ = ["FitSetup", "fit_setup"]


@attrs.frozen(eq=False)
class FitSetup:
    """The stamp geometry, stars, design, pixels and prepass of one target."""

    origin: tuple[int, int]
    shape: tuple[int, int]
    groups: JitterGroups
    selection: StarSelection
    design: Design
    values: np.ndarray
    #: Pixel weights with the pixels the prepass left out set to zero.
    weight: np.ndarray
    first: PrePass


def fit_setup(data: TargetData, settings: CommonSettings, **prepass_options: Any) -> FitSetup:
    """Select the stars, build the design and the pixel arrays, run the prepass and check
    that it left enough of the target (``TargetError`` otherwise)."""
    stamp = data.stamp
    origin, shape = (stamp.row_min, stamp.col_min), stamp.shape
    groups = jitter_groups(data.pos_corr, settings.jitter_step)
    selection = select_stars(data, settings, groups.reference)
    design = Design(selection, groups, origin, shape)
    values, weight = pixel_arrays(data)
    first = prepass(data, selection, design, values, weight, settings, **prepass_options)
    check_mask(data, selection, first.mask)
    weight = np.where(first.mask[None, :], 0.0, weight)
    return FitSetup(origin, shape, groups, selection, design, values, weight, first)
