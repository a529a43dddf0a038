"""The TESS magnitude–flux relation (paper 003, Eq. 4)."""

from __future__ import annotations

import numpy as np

__all__ = ["ZERO_POINT", "flux_to_mag", "mag_to_flux"]

#: Mean zero point of Tmag ≈ zp − 2.5 log10(S), S in e-/s (TASOC sectors 1–6: 20.401–20.506).
ZERO_POINT = 20.451


def mag_to_flux(tmag: float | np.ndarray, zero_point: float = ZERO_POINT) -> np.ndarray:
    """Expected mean flux (e-/s) of a star of TESS magnitude ``tmag``."""
    return 10.0 ** (-0.4 * (np.asarray(tmag, dtype=float) - zero_point))


def flux_to_mag(flux: float | np.ndarray, zero_point: float = ZERO_POINT) -> np.ndarray:
    """TESS magnitude of a star with mean flux ``flux`` (e-/s)."""
    return zero_point - 2.5 * np.log10(np.asarray(flux, dtype=float))
