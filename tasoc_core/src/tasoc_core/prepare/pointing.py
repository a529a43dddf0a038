"""Per-frame pointing relative to the reference frame, from the frames' WCS solutions.

For every frame an affine transform maps reference-frame CCD (row, col) to the frame's
CCD (row, col): a grid of points on the science area is taken to the sky with the
reference WCS and back to pixels with the frame's WCS, and the six parameters are fitted
by least squares. A reader then gets the pointing jitter of any position on the CCD in
every frame with one small matrix product, instead of two WCS evaluations per frame and
star (the original's ``all_world2pix`` per timestamp per target).
"""

from __future__ import annotations

import logging
import warnings

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS, FITSFixedWarning

from tasoc_core.data.target import Stamp

__all__ = ["apply_pointing", "fit_pointing", "wcs_from_string"]

logger = logging.getLogger(__name__)


def wcs_from_string(text: str) -> WCS | None:
    """A celestial WCS from a header string; None for an empty or unusable string."""
    if not text:
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FITSFixedWarning)
            wcs = WCS(fits.Header.fromstring(text), relax=True)
    except Exception:
        return None
    return wcs if wcs.has_celestial else None


def _grid(science: Stamp, n: int) -> tuple[np.ndarray, np.ndarray]:
    rows = np.linspace(science.row_min, science.row_max - 1, n)
    cols = np.linspace(science.col_min, science.col_max - 1, n)
    rr, cc = np.meshgrid(rows, cols, indexing="ij")
    return rr.ravel(), cc.ravel()


def fit_pointing(
    reference: WCS, frame: WCS, science: Stamp, *, npoints: int = 9
) -> tuple[np.ndarray, float]:
    """Affine transform (2, 3) from reference to frame CCD (row, col), and its RMS residual.

    Returns NaNs when the frame's WCS cannot be inverted on the science area.
    """
    rows, cols = _grid(science, npoints)
    nan = (np.full((2, 3), np.nan), np.nan)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ra, dec = reference.all_pix2world(cols, rows, 0)
            x, y = frame.all_world2pix(ra, dec, 0, maxiter=50, quiet=True)
    except Exception as exc:
        logger.debug("pointing fit failed: %s", exc)
        return nan
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        return nan
    design = np.column_stack([rows, cols, np.ones_like(rows)])
    target = np.column_stack([y, x])
    coef, *_ = np.linalg.lstsq(design, target, rcond=None)
    matrix = coef.T  # (2, 3): [row', col'] = matrix @ [row, col, 1]
    resid = design @ coef - target
    return matrix, float(np.sqrt(np.mean(np.sum(resid**2, axis=1))))


def apply_pointing(transforms: np.ndarray, row: float, col: float) -> np.ndarray:
    """Positions (T, 2) of reference-frame pixel (row, col) in every frame."""
    vec = np.array([row, col, 1.0])
    return transforms @ vec
