"""Facts about sectors that every stage must agree on."""

from __future__ import annotations

__all__ = ["ffi_cadence", "reference_time"]


def ffi_cadence(sector: int) -> int:
    """FFI cadence in seconds: 1800 up to sector 26, 600 for 27–55, 200 from 56."""
    if sector <= 26:
        return 1800
    if sector <= 55:
        return 600
    return 200


def reference_time(first_tstart: float, last_tstop: float) -> float:
    """The sector's reference time (BTJD): a quarter of the way through the sector.

    That is close to the apogee of the first orbit, where the original pipeline put it. The
    catalog propagates proper motions to this time, and prepare picks the frame closest to
    it as the reference for the WCS and pointing jitter.
    """
    return first_tstart + 0.25 * (last_tstop - first_tstart)
