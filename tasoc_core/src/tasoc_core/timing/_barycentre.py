"""Barycentric light-travel-time corrections for stars seen from TESS."""

from __future__ import annotations

import numpy as np

from tasoc_core.timing._kernels import SpiceKernels

__all__ = ["BTJD_OFFSET", "barycentric_delay", "rebarycentre", "unit_vectors"]

#: BTJD = BJD_TDB − BTJD_OFFSET.
BTJD_OFFSET = 2457000.0
_C_KM_S = 299_792.458
# 2 GM_sun / c^3 in seconds (GM_sun = 1.32712440018e11 km^3 s^-2).
_SHAPIRO_S = 2.0 * 1.32712440018e11 / _C_KM_S**3
_SUN = 10


def unit_vectors(ra_deg: np.ndarray | float, dec_deg: np.ndarray | float) -> np.ndarray:
    """ICRS unit vectors (..., 3) towards (ra, dec) in degrees."""
    ra = np.radians(np.asarray(ra_deg, dtype=np.float64))
    dec = np.radians(np.asarray(dec_deg, dtype=np.float64))
    cd = np.cos(dec)
    return np.stack([cd * np.cos(ra), cd * np.sin(ra), np.sin(dec)], axis=-1)


def barycentric_delay(
    jd_tdb: np.ndarray | float,
    ra_deg: np.ndarray | float,
    dec_deg: np.ndarray | float,
    kernels: SpiceKernels,
    *,
    shapiro: bool = True,
) -> np.ndarray:
    """Barycentric correction (days) for a star observed from TESS: BJD_TDB − JD_TDB(TESS).

    The Rømer delay r·n̂/c, with r the TESS position relative to the solar-system
    barycentre and n̂ the direction to the star, plus (by default) the Shapiro delay of the
    Sun, (2GM☉/c³) ln(1 − cos θ) with θ the star–Sun angle seen from TESS (at most a few
    µs for stars far from the Sun). The Einstein delay is part of the TDB time scale of
    the timestamps and is not added here.

    Parameters
    ----------
    jd_tdb
        Times of observation at the spacecraft, TDB Julian dates, shape (T,) or scalar.
    ra_deg, dec_deg
        Star position (ICRS, degrees), scalars or arrays of shape (N,).
    kernels
        Loaded SPICE kernels covering the times.

    Returns
    -------
    ndarray
        Shape (T,) for one star, (N, T) for N stars (a scalar time keeps its axis: (1,)
        or (N, 1)).

    Raises
    ------
    EphemerisError
        If the kernels do not cover the times.
    """
    jd = np.atleast_1d(np.asarray(jd_tdb, dtype=np.float64))
    pos = kernels.spacecraft_position(jd)  # (T, 3) km
    n = unit_vectors(ra_deg, dec_deg)  # (3,) or (N, 3)
    delay_s = n @ pos.T / _C_KM_S  # (T,) or (N, T)
    if shapiro:
        sun = kernels.position(_SUN, jd, 0) - pos  # TESS -> Sun, (T, 3)
        sun /= np.linalg.norm(sun, axis=1, keepdims=True)
        cos_theta = np.clip(n @ sun.T, -1.0, 1.0 - 1e-15)
        delay_s = delay_s + _SHAPIRO_S * np.log1p(-cos_theta)
    return delay_s / 86400.0


def rebarycentre(
    time_btjd: np.ndarray,
    timecorr: np.ndarray | float,
    ra_deg: float,
    dec_deg: float,
    kernels: SpiceKernels,
) -> tuple[np.ndarray, np.ndarray]:
    """Re-do the barycentric correction for a star.

    SPOC FFI times are barycentred at the CCD centre: ``time`` includes ``timecorr``. The
    spacecraft time ``time − timecorr`` is recovered, and the star's own correction added.

    Parameters
    ----------
    time_btjd
        Mid-cadence times, BTJD, shape (T,).
    timecorr
        The correction included in ``time_btjd`` (days), scalar or (T,).
    ra_deg, dec_deg
        Star position (ICRS degrees, at the epoch of observation).
    kernels
        Loaded SPICE kernels.

    Returns
    -------
    time, timecorr
        The star's BTJD times and its correction (days), both shape (T,).
        Non-finite input times stay NaN.
    """
    time = np.asarray(time_btjd, dtype=np.float64)
    tess = time - np.asarray(timecorr, dtype=np.float64)
    good = np.isfinite(tess)
    corr = np.full(time.shape, np.nan)
    if good.any():
        corr[good] = barycentric_delay(tess[good] + BTJD_OFFSET, ra_deg, dec_deg, kernels)
    return tess + corr, corr
