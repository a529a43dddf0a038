"""Expected photometric noise of a TESS star (Sullivan et al. 2015, as used by TASOC).

The model is the original data validation's (reference §14.4). For a star of magnitude
``T`` observed on a ``timescale`` of ``τ`` seconds with ``N`` pixels in its aperture:

* ``F = 10^(-0.4 (T - 20.451)) τ`` electrons collected;
* ``n = τ / 2`` two-second integrations, ``f = sqrt(n N)``;
* shot noise ``1e6 / sqrt(F)``;
* read noise ``10 e⁻ · f · 1e6 / F``;
* zodiacal noise ``Z(b) · f · 1e6 / F`` with ``Z(b) = 6 (|b|/90 − 1)² + 10`` e⁻ per pixel
  and 2-s read, ``b`` the galactic latitude (the original treats it, like the read noise,
  as a per-read amplitude);
* systematic noise ``σ_sys / sqrt(τ / 3600)``, ``σ_sys`` in ppm per hour (5 by default);
* total: root-sum-square of the four.

All components are in ppm. Without coordinates the position RA = Dec = 0 (|b| ≈ 60°) is
used, as in the original. Without a pixel count the typical aperture size of a star of
that magnitude (:func:`pixels_in_aperture`) is used.
"""

from __future__ import annotations

import functools

import attrs
import numpy as np
from astropy import units as u
from astropy.coordinates import SkyCoord

__all__ = [
    "FFI_CADENCES",
    "READ_NOISE",
    "TPF_CADENCES",
    "ZERO_POINT",
    "NoiseComponents",
    "galactic_latitude",
    "noise_model",
    "pixels_in_aperture",
    "zodiacal_level",
]

#: Magnitude–flux zero point (paper 003, Eq. 4).
from tasoc_core.photometry.magnitudes import ZERO_POINT

#: Read noise per pixel and 2-s read, e⁻.
READ_NOISE = 10.0
#: Cadences (s) of FFI data; other cadences are TPF data.
FFI_CADENCES = frozenset({1800, 600, 200})
#: Cadences (s) of TPF data.
TPF_CADENCES = frozenset({120, 20})

_FRAME = 2.0  # seconds per integration

# Typical pixels in the aperture versus Tmag (log-linear, extrapolated, at least 4).
_FFI_TMAG = np.array(
    [2.059, 2.952, 3.844, 4.736, 5.629, 6.521, 7.414, 8.306, 9.198, 10.091, 10.983,
     11.876, 12.768, 13.660, 14.553]
)  # fmt: skip
_FFI_PIXELS = np.array(
    [1484.5, 715, 447, 282.5, 185, 126, 98, 76, 61, 49, 38, 28, 20, 14, 8], dtype=float
)
_TPF_TMAG = np.array([2.482, 3.563, 4.0, 5.726, 6.807, 7.889, 8.970, 10.052, 11.133, 12.5, 15.0])
_TPF_PIXELS = np.array([473, 210, 174, 85, 69, 61, 50, 38, 26, 13, 4], dtype=float)
_MIN_PIXELS = 4.0


def _loglinear_extrapolated(x: np.ndarray, nodes: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Linear interpolation of log10(values) in x, extended linearly beyond the end nodes."""
    logv = np.log10(values)
    out = np.interp(x, nodes, logv)
    low_slope = (logv[1] - logv[0]) / (nodes[1] - nodes[0])
    high_slope = (logv[-1] - logv[-2]) / (nodes[-1] - nodes[-2])
    out = np.where(x < nodes[0], logv[0] + low_slope * (x - nodes[0]), out)
    out = np.where(x > nodes[-1], logv[-1] + high_slope * (x - nodes[-1]), out)
    return 10.0**out


def pixels_in_aperture(tmag: np.ndarray | float, cadence: np.ndarray | int) -> np.ndarray:
    """Typical number of aperture pixels for a star of ``tmag`` at ``cadence`` seconds.

    FFI cadences (1800, 600, 200 s) and TPF cadences (120, 20 s) have separate relations
    (paper 003, Fig. 10), log-linear in Tmag, extrapolated, and never below 4 pixels.

    Raises
    ------
    ValueError
        For a cadence that is neither an FFI nor a TPF cadence.
    """
    tmag = np.asarray(tmag, dtype=np.float64)
    cadence = np.asarray(cadence)
    tmag, cadence = np.broadcast_arrays(tmag, cadence)
    is_ffi = np.isin(cadence, list(FFI_CADENCES))
    is_tpf = np.isin(cadence, list(TPF_CADENCES))
    if not np.all(is_ffi | is_tpf):
        bad = np.unique(cadence[~(is_ffi | is_tpf)])
        raise ValueError(
            f"no aperture-size relation for cadence {bad.tolist()} s "
            f"(FFI: {sorted(FFI_CADENCES)}, TPF: {sorted(TPF_CADENCES)})"
        )
    pixels = np.where(
        is_ffi,
        _loglinear_extrapolated(tmag, _FFI_TMAG, _FFI_PIXELS),
        _loglinear_extrapolated(tmag, _TPF_TMAG, _TPF_PIXELS),
    )
    return np.maximum(pixels, _MIN_PIXELS)


@functools.cache
def _galactic_pole() -> np.ndarray:
    """Unit vector (ICRS) of the north galactic pole, from astropy's frame definition."""
    pole = SkyCoord(l=0.0 * u.deg, b=90.0 * u.deg, frame="galactic").icrs
    return np.asarray(pole.cartesian.xyz.value, dtype=np.float64)


def galactic_latitude(ra: np.ndarray | float, dec: np.ndarray | float) -> np.ndarray:
    """Galactic latitude in degrees of ICRS positions (degrees).

    Computed as the angle to the galactic plane, ``asin(pole · v)``: vectorized and much
    faster than a frame transformation per call (astropy is consulted once for the pole).
    """
    ra = np.radians(np.atleast_1d(np.asarray(ra, dtype=np.float64)))
    dec = np.radians(np.atleast_1d(np.asarray(dec, dtype=np.float64)))
    px, py, pz = _galactic_pole()
    sin_b = np.cos(dec) * (px * np.cos(ra) + py * np.sin(ra)) + pz * np.sin(dec)
    return np.degrees(np.arcsin(np.clip(sin_b, -1.0, 1.0)))


def zodiacal_level(b: np.ndarray | float) -> np.ndarray:
    """Zodiacal-light noise level, e⁻ per pixel per 2-s read, at galactic latitude ``b``."""
    b = np.abs(np.asarray(b, dtype=np.float64))
    return 6.0 * (b / 90.0 - 1.0) ** 2 + 10.0


@attrs.frozen
class NoiseComponents:
    """Noise per component, ppm, each broadcast to the shape of the inputs."""

    shot: np.ndarray
    read: np.ndarray
    zodiacal: np.ndarray
    systematic: np.ndarray
    total: np.ndarray


def noise_model(
    tmag: np.ndarray | float,
    cadence: np.ndarray | int,
    timescale: np.ndarray | float,
    *,
    pixels: np.ndarray | float | None = None,
    ra: np.ndarray | float | None = None,
    dec: np.ndarray | float | None = None,
    sysnoise: float = 5.0,
) -> NoiseComponents:
    """Expected noise of stars of magnitude ``tmag`` on ``timescale`` seconds, in ppm.

    Parameters
    ----------
    tmag
        TESS magnitudes.
    cadence
        Cadence in seconds; chooses the FFI or TPF aperture-size relation when
        ``pixels`` is not given.
    timescale
        Time scale of the noise in seconds: 3600 for an hourly RMS, the cadence for the
        point-to-point scatter.
    pixels
        Pixels in each aperture; default :func:`pixels_in_aperture`.
    ra, dec
        Positions (degrees) for the zodiacal term; NaN or missing entries use RA = Dec = 0.
    sysnoise
        Systematic noise on a one-hour time scale, ppm.

    Returns
    -------
    NoiseComponents
        ``shot``, ``read``, ``zodiacal``, ``systematic`` and ``total`` noise, ppm.
    """
    tmag = np.asarray(tmag, dtype=np.float64)
    timescale = np.asarray(timescale, dtype=np.float64)
    if np.any(timescale <= 0):
        raise ValueError(f"timescale must be positive, got {timescale}")
    if pixels is None:
        pixels = pixels_in_aperture(tmag, cadence)
    pixels = np.asarray(pixels, dtype=np.float64)
    tmag, timescale, pixels = np.broadcast_arrays(tmag, timescale, pixels)

    if ra is None or dec is None:
        ra_, dec_ = np.zeros(tmag.shape), np.zeros(tmag.shape)
    else:
        ra_, dec_ = (
            np.broadcast_to(np.asarray(v, dtype=np.float64), tmag.shape) for v in (ra, dec)
        )
        missing = ~(np.isfinite(ra_) & np.isfinite(dec_))
        ra_, dec_ = np.where(missing, 0.0, ra_), np.where(missing, 0.0, dec_)
    b = galactic_latitude(ra_.ravel(), dec_.ravel()).reshape(tmag.shape)

    electrons = 10.0 ** (-0.4 * (tmag - ZERO_POINT)) * timescale
    factor = np.sqrt(timescale / _FRAME * pixels)
    shot = 1e6 / np.sqrt(electrons)
    read = READ_NOISE * factor * 1e6 / electrons
    zodiacal = zodiacal_level(b) * factor * 1e6 / electrons
    systematic = np.broadcast_to(sysnoise / np.sqrt(timescale / 3600.0), tmag.shape).copy()
    total = np.sqrt(shot**2 + read**2 + zodiacal**2 + systematic**2)
    return NoiseComponents(shot, read, zodiacal, systematic, total)
