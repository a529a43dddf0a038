"""Optional trimming of a K2P2 mask to its best signal-to-noise subset.

K2P2 masks are flux-complete: they reach down to the sky, so for faint stars on a quiet sky
many of their pixels add more noise than light. Trimming keeps the brightest pixels of the
mask (in the sum image) that maximise the expected white-noise signal-to-noise ratio
``Σf / sqrt(Σσ²)``, but never fewer than needed to hold ``min_flux_fraction`` of the mask's
flux, so the aperture stays nearly flux-complete.
"""

from __future__ import annotations

import numpy as np

__all__ = ["snr_trim"]


def snr_trim(
    aperture: np.ndarray,
    image: np.ndarray,
    sigma: np.ndarray,
    *,
    min_flux_fraction: float,
    min_pixels: int = 1,
) -> np.ndarray:
    """The subset of ``aperture`` with the best expected signal-to-noise ratio.

    Parameters
    ----------
    aperture
        Boolean mask to trim.
    image
        Sum image (e-/s).
    sigma
        Per-cadence 1σ uncertainty of each pixel (e-/s); non-finite values count as the
        median of the finite ones in the mask.
    min_flux_fraction
        Smallest fraction of the mask's sum-image flux the result keeps.
    min_pixels
        Smallest number of pixels the result keeps.

    Returns
    -------
    numpy.ndarray
        Boolean mask, a subset of ``aperture`` (the mask itself when it holds no positive
        flux).
    """
    rows, cols = np.nonzero(aperture)
    flux = np.asarray(image, dtype=np.float64)[rows, cols]
    var = np.square(np.asarray(sigma, dtype=np.float64)[rows, cols])
    finite = np.isfinite(var)
    if not finite.any() or not np.nansum(flux) > 0:
        return aperture
    var[~finite] = np.median(var[finite])
    order = np.argsort(-flux, kind="stable")
    cum_flux = np.cumsum(flux[order])
    snr = cum_flux / np.sqrt(np.cumsum(var[order]))
    best = int(np.argmax(snr))
    enough = int(np.argmax(cum_flux >= min_flux_fraction * cum_flux[-1]))
    keep = max(best, enough, min(min_pixels, len(order)) - 1) + 1
    out = np.zeros(aperture.shape, dtype=bool)
    out[rows[order[:keep]], cols[order[:keep]]] = True
    return out
