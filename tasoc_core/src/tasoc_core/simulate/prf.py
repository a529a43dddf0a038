"""The simulator's pixel response function (PRF), in the format of the TESS PRF products.

The format, the file reader/writer and the rendering (:class:`~tasoc_core.prf.PRFModel`)
live in :mod:`tasoc_core.prf`; this module holds what is particular to the simulator. Its
files: per camera/CCD the mission's 5×5 grid of CCD positions, one FITS file per position
holding a 117×117 float image (13×13 pixels sampled 9 times per pixel); sample (i, j) is
the fraction of the star's flux collected by a pixel whose centre is offset by
((i − 58)/9, (j − 58)/9) pixels (rows, columns) from the star. Summing the 13×13 samples of
one sub-pixel phase gives 1. Header keys: CAMERA, CCD, CCDROW, CCDCOL (1-based position),
OVERSAMP = 9, PRFCENT = 59 (1-based centre sample), FOCUS = 1.0.

The model is analytic: a core Gaussian elongated along the direction to the camera centre
(wider with field angle), a wider wing Gaussian (15 %) and a faint halo (3 %). The files
hold the **nominal focus**; the simulator applies a slow width scale on top (focus
variations, ``truth`` ``focus``), the PRF for scale s being P(d/s)/s².

Rendering interpolates the grid bilinearly to the star's CCD position and the image by a
cubic spline to the sub-pixel offsets (vectorised over stars).
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import uniform_filter

from tasoc_core.prf import GRID_COLS, GRID_ROWS, OVERSAMPLE, PRF_CENTRE, PRF_SIZE

__all__ = ["analytic_prf_grid", "taylor_weights"]


def _gauss2d(x: np.ndarray, y: np.ndarray, sx: float, sy: float) -> np.ndarray:
    return np.exp(-0.5 * ((x / sx) ** 2 + (y / sy) ** 2)) / (2 * np.pi * sx * sy)


def _analytic_prf(row: float, col: float, centre: tuple[float, float]) -> np.ndarray:
    """117×117 oversampled PRF at CCD position (row, col) for a camera centre (row, col)."""
    pad = OVERSAMPLE  # extra samples so the pixel box filter is exact at the edges
    n = PRF_SIZE + 2 * pad
    off = (np.arange(n) - (PRF_CENTRE + pad)) / OVERSAMPLE
    dy, dx = np.meshgrid(off, off, indexing="ij")
    vr, vc = row - centre[0], col - centre[1]
    radius = float(np.hypot(vr, vc))
    theta = np.arctan2(vr, vc)
    # Coordinates along (u) and across (v) the direction to the camera centre.
    u = dx * np.cos(theta) + dy * np.sin(theta)
    v = -dx * np.sin(theta) + dy * np.cos(theta)
    f = (radius / 3000.0) ** 2
    psf = (
        0.82 * _gauss2d(u, v, 0.55 * (1 + 0.7 * f), 0.55 * (1 + 0.2 * f))
        + 0.15 * _gauss2d(u, v, 1.4 * (1 + 0.4 * f), 1.4)
        + 0.03 * _gauss2d(u, v, 3.5, 3.5)
    ) / OVERSAMPLE**2
    # Integrate over a pixel: box filter of one pixel (9 samples), times 81 samples per pixel².
    prf = uniform_filter(psf, size=OVERSAMPLE, mode="constant") * OVERSAMPLE**2
    prf = prf[pad:-pad, pad:-pad]
    phase = PRF_CENTRE % OVERSAMPLE  # the samples of a star centred on a pixel
    return prf / prf[phase::OVERSAMPLE, phase::OVERSAMPLE].sum()


def analytic_prf_grid(camera_centre: tuple[float, float]) -> np.ndarray:
    """The 5×5 grid of analytic PRFs (5, 5, 117, 117) for a CCD with this camera centre."""
    return np.array([[_analytic_prf(r, c, camera_centre) for c in GRID_COLS] for r in GRID_ROWS])


def taylor_weights(drow: np.ndarray, dcol: np.ndarray, focus: np.ndarray) -> np.ndarray:
    """Weights (…, 10) that combine a :meth:`tasoc_core.prf.PRFModel.basis` for shifts and
    focus scales."""
    drow, dcol, focus = np.broadcast_arrays(
        np.asarray(drow, float), np.asarray(dcol, float), np.asarray(focus, float)
    )
    ds = focus - 1.0
    return np.stack(
        [
            np.ones_like(drow),
            drow,
            dcol,
            0.5 * drow**2,
            0.5 * dcol**2,
            drow * dcol,
            ds,
            0.5 * ds**2,
            drow * ds,
            dcol * ds,
        ],
        axis=-1,
    )
