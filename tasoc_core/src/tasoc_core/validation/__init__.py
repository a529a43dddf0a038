"""Data validation: the noise model, the boundary relations, core's default validators and
the combination of all validators into DATAVAL flags and approval (``docs/validation.md``).
"""

from __future__ import annotations

from tasoc_core.validation.bounds import (
    contamination_upper_bound,
    ffi_mask_size_max,
    ffi_mask_size_min,
    flux_lower_bound,
    mask_size_bounds,
    tpf_mask_size_min,
)
from tasoc_core.validation.combine import GROUP_COLUMNS, approve, validate_table
from tasoc_core.validation.configured import configured_validators
from tasoc_core.validation.noise import (
    NoiseComponents,
    galactic_latitude,
    noise_model,
    pixels_in_aperture,
    zodiacal_level,
)
from tasoc_core.validation.validators import (
    DEFAULT_VALIDATORS,
    ContaminationValidator,
    InvalidValuesValidator,
    MagnitudeFluxValidator,
    MaskSizeValidator,
    NoiseValidator,
)
from tasoc_core.validation.zeropoint import ZeroPointFit, fit_zero_point

__all__ = [
    "DEFAULT_VALIDATORS",
    "GROUP_COLUMNS",
    "ContaminationValidator",
    "InvalidValuesValidator",
    "MagnitudeFluxValidator",
    "MaskSizeValidator",
    "NoiseComponents",
    "NoiseValidator",
    "ZeroPointFit",
    "approve",
    "configured_validators",
    "contamination_upper_bound",
    "ffi_mask_size_max",
    "ffi_mask_size_min",
    "fit_zero_point",
    "flux_lower_bound",
    "galactic_latitude",
    "mask_size_bounds",
    "noise_model",
    "pixels_in_aperture",
    "tpf_mask_size_min",
    "validate_table",
    "zodiacal_level",
]
