"""The first linear pass both methods start from, and the pixels the model cannot describe.

The pass fits the fluxes of the fitted stars (and the constant background, if fitted) at
the catalog positions, cadence by cadence, without the width term or the aperture
correction. Its fluxes weight the width term of ``linpsf`` and start the nonlinear fits of
``psf``; its residuals find the pixels no PRF model can describe — the bleed column of a
saturated star, a star missing from the catalog, a hot pixel — which are then left out.
A pixel is left out when, over the good cadences,

    |median residual| > outlier_sigma × median σ + outlier_fraction × median |model|,

so that a PRF model that is a few per cent off in the core of a bright star does not lose
the star's brightest pixels, while a bleed column (model ≈ 0) does.
"""

from __future__ import annotations

import attrs
import numpy as np

from tasoc_core.data import TargetData
from tasoc_core.flags import TESS_DEFAULT_BITMASK
from tasoc_psf._common import column_medians
from tasoc_psf._design import Design
from tasoc_psf._settings import CommonSettings
from tasoc_psf._solve import solve_cadences
from tasoc_psf._stars import StarSelection

__all__ = ["PrePass", "prepass"]


@attrs.frozen
class PrePass:
    """Results of :func:`prepass`.

    Attributes
    ----------
    flux
        Fitted flux (T, n) of every fitted star.
    reference_flux
        Median fitted flux per star (n,), the catalog flux where no cadence gave one.
    mask
        Pixels (P,) left out of the fits.
    """

    flux: np.ndarray
    reference_flux: np.ndarray
    mask: np.ndarray


def prepass(
    data: TargetData,
    selection: StarSelection,
    design: Design,
    values: np.ndarray,
    weight: np.ndarray,
    settings: CommonSettings,
    chunk: int = 256,
) -> PrePass:
    """Fit the fluxes at the catalog positions and find the pixels the model cannot describe."""
    t_all, npix = values.shape
    n = selection.n_fit
    flux = np.full((t_all, n), np.nan)
    residual = np.full((t_all, npix), np.nan)
    model = np.full((t_all, npix), np.nan)
    for first in range(0, t_all, chunk):
        sl = slice(first, min(t_all, first + chunk))
        matrices = design.matrices(sl)
        columns = matrices[:, :, :-1]
        if settings.fit_background:
            ones = np.ones((columns.shape[0], npix, 1))
            columns = np.concatenate([columns, ones], axis=2)
        solution = solve_cadences(columns, values[sl] - matrices[:, :, -1], weight[sl], None)
        flux[sl] = solution.flux[:, :n]
        residual[sl] = solution.residual
        model[sl] = values[sl] - solution.residual
    median = column_medians(flux)
    reference = np.where(np.isfinite(median), median, selection.catalog_flux[:n])
    finite = np.isfinite(flux)

    mask = np.zeros(npix, dtype=bool)
    if settings.outlier_sigma is not None:
        good = ((data.quality & TESS_DEFAULT_BITMASK) == 0) & finite[:, 0]
        if good.sum() >= 3:
            valid = weight[good] > 0
            with np.errstate(divide="ignore", invalid="ignore"):
                sigma = np.where(valid, 1.0 / np.sqrt(weight[good]), np.nan)
                r = np.where(valid, residual[good], np.nan)
                m = np.where(valid, np.abs(model[good]), np.nan)
                enough = valid.sum(axis=0) >= 3
                noise = settings.outlier_sigma * column_medians(sigma)
                limit = noise + settings.outlier_fraction * column_medians(m)
                mask = enough & (np.abs(column_medians(r)) > limit)
    return PrePass(flux, reference, mask)
