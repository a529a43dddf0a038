"""Light curves from a fixed aperture, all cadences at once."""

from __future__ import annotations

import attrs
import numpy as np

__all__ = ["ApertureLightCurve", "extract_light_curve"]


@attrs.frozen
class ApertureLightCurve:
    """Per-cadence sums over an aperture.

    Attributes
    ----------
    flux, flux_err
        Sum of the pixels and the root-sum-square of their uncertainties (e-/s).
    background
        Sum of the subtracted background over the aperture (e-/s).
    centroid
        Flux-weighted (row, col) in CCD coordinates, from the pixels with positive flux;
        shape (T, 2).
    """

    flux: np.ndarray
    flux_err: np.ndarray
    background: np.ndarray
    centroid: np.ndarray


def extract_light_curve(
    images: np.ndarray,
    images_err: np.ndarray,
    backgrounds: np.ndarray,
    aperture: np.ndarray,
    origin: tuple[int, int] = (0, 0),
) -> ApertureLightCurve:
    """Simple aperture photometry of a (T, rows, cols) cube.

    A cadence where any aperture pixel (or its uncertainty) is NaN gets NaN flux, error,
    background and centroid: a sum missing some of its pixels would be a jump in the light
    curve, not a measurement. Cadences where every aperture pixel is exactly zero (missing data written
    as zeros) are NaN too.

    Parameters
    ----------
    images, images_err, backgrounds
        Flux, uncertainty and subtracted-background cubes (e-/s), shape (T, rows, cols).
    aperture
        Boolean image (rows, cols) of the pixels to sum.
    origin
        CCD (row, col) of the cubes' first pixel, for the centroids.

    Returns
    -------
    ApertureLightCurve

    Raises
    ------
    ValueError
        If the aperture is empty or its shape does not match the cubes.
    """
    aperture = np.asarray(aperture, dtype=bool)
    if aperture.shape != images.shape[1:]:
        raise ValueError(f"aperture shape {aperture.shape} does not match cube {images.shape}")
    rows, cols = np.nonzero(aperture)
    if len(rows) == 0:
        raise ValueError("the aperture holds no pixel")
    pix = images[:, rows, cols]  # (T, N) gathered once, contiguous
    flux = pix.sum(axis=1, dtype=np.float64)
    err = images_err[:, rows, cols]
    flux_err = np.sqrt(np.square(err, dtype=np.float64).sum(axis=1))
    background = backgrounds[:, rows, cols].sum(axis=1, dtype=np.float64)

    weights = np.maximum(pix, 0).astype(np.float64)
    total = weights.sum(axis=1)
    positions = np.column_stack([rows + origin[0], cols + origin[1]]).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        centroid = (weights @ positions) / total[:, None]
    missing = np.isnan(flux) | np.isnan(flux_err) | ~np.any(pix != 0, axis=1)
    flux[missing] = np.nan
    flux_err[missing] = np.nan
    background[missing] = np.nan
    centroid[missing | ~(total > 0)] = np.nan
    return ApertureLightCurve(flux, flux_err, background, centroid)
