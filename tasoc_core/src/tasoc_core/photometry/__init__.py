"""Machinery shared by every photometry method: diagnostics of the light curves they return."""

from __future__ import annotations

from tasoc_core.photometry.diagnostics import (
    DIAGNOSTIC_COLUMNS,
    MAD_TO_SIGMA,
    Diagnostics,
    compute_diagnostics,
    ptp_mdv,
    rms_timescale,
    variability,
)

__all__ = [
    "DIAGNOSTIC_COLUMNS",
    "MAD_TO_SIGMA",
    "Diagnostics",
    "compute_diagnostics",
    "ptp_mdv",
    "rms_timescale",
    "variability",
]
