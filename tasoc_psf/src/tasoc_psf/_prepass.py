"""The first linear pass both methods start from, and the pixels the model cannot describe.

The pass fits the fluxes of the fitted stars (and the constant background, if fitted) at
the catalog positions, cadence by cadence, without the width term or the aperture
correction. Its fluxes weight the width term of ``linpsf`` and start the nonlinear fits of
``psf``; its residuals find the pixels no PRF model can describe — the bleed column of a
saturated star, a star missing from the catalog, a hot pixel — which are then left out.
A pixel is left out when, over the good cadences,

    |median residual| > outlier_sigma × median σ + outlier_fraction × median |model|,

so that a PRF model that is a few per cent off in the core of a bright star does not lose
the star's brightest pixels, while a bleed column (model ≈ 0) does. Before the first fit,
pixels grossly inconsistent with the catalog's prediction are left out (a fit would pull the
target's flux towards a bleed column lying on it).
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

__all__ = ["CATALOG_FACTOR", "MAX_ROUNDS", "PrePass", "prepass"]

#: Most rounds of leaving out pixels and fitting again.
MAX_ROUNDS = 4
#: Before any fit, pixels more than this factor (plus the noise term) off the catalog's
#: prediction are left out: catalog fluxes are rarely off by a factor of 3.
CATALOG_FACTOR = 2.0


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
    """Fit the fluxes at the catalog positions and find the pixels the model cannot describe.

    A strong outlier (a bleed column) drags the whole fit, so pixels are left out in rounds,
    the worst first (those at least half as far over their limit as the worst one), and the
    fit is repeated, until no pixel is over its limit or after :data:`MAX_ROUNDS` rounds.
    """
    npix = values.shape[1]
    good_quality = (data.quality & TESS_DEFAULT_BITMASK) == 0
    mask = np.zeros(npix, dtype=bool)
    if settings.outlier_sigma is not None:
        mask = _gross_outliers(selection, values, weight, good_quality, settings.outlier_sigma)
    for _ in range(MAX_ROUNDS):
        flux, residual, model = _solve(selection, design, values, weight, mask, settings, chunk)
        if settings.outlier_sigma is None:
            break
        excess = _excess(residual, model, weight, mask, good_quality & np.isfinite(flux[:, 0]),
                         settings)  # fmt: skip
        worst = np.nanmax(excess) if np.isfinite(excess).any() else 0.0
        if not worst > 1.0:
            break
        mask |= excess >= max(1.0, 0.5 * worst)
    median = column_medians(flux)
    reference = np.where(np.isfinite(median), median, selection.catalog_flux[: selection.n_fit])
    return PrePass(flux, reference, mask)


def _gross_outliers(
    selection: StarSelection,
    values: np.ndarray,
    weight: np.ndarray,
    good: np.ndarray,
    outlier_sigma: float,
) -> np.ndarray:
    """Pixels (P,) whose median differs from the catalog's prediction by more than
    ``outlier_sigma`` σ plus :data:`CATALOG_FACTOR` times the prediction.

    Judged against the catalog, not a fit: a fit drags the target's flux towards a bleed
    column lying on it, and then the target's own wings look like the outliers.
    """
    if good.sum() < 3:
        return np.zeros(values.shape[1], dtype=bool)
    flux = selection.catalog_flux
    predicted = flux @ selection.unit.reshape(len(flux), -1)
    valid = weight[good] > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        sigma = column_medians(np.where(valid, 1.0 / np.sqrt(weight[good]), np.nan))
        median = column_medians(np.where(valid, values[good], np.nan))
        far = np.abs(median - predicted) > outlier_sigma * sigma + CATALOG_FACTOR * predicted
    return far & (valid.sum(axis=0) >= 3)


def _solve(
    selection: StarSelection,
    design: Design,
    values: np.ndarray,
    weight: np.ndarray,
    mask: np.ndarray,
    settings: CommonSettings,
    chunk: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fluxes (T, n), residuals (T, P) and model (T, P) of the linear fit without ``mask``."""
    t_all, npix = values.shape
    n = selection.n_fit
    weight = np.where(mask[None, :], 0.0, weight)
    flux = np.full((t_all, n), np.nan)
    residual = np.full((t_all, npix), np.nan)
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
    return flux, residual, values - residual


def _excess(
    residual: np.ndarray,
    model: np.ndarray,
    weight: np.ndarray,
    mask: np.ndarray,
    good: np.ndarray,
    settings: CommonSettings,
) -> np.ndarray:
    """|median residual| over its limit per pixel (P,); NaN for pixels out or without data."""
    excess = np.full(weight.shape[1], np.nan)
    if good.sum() < 3:
        return excess
    valid = (weight[good] > 0) & ~mask[None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        sigma = np.where(valid, 1.0 / np.sqrt(weight[good]), np.nan)
        r = np.where(valid, residual[good], np.nan)
        m = np.where(valid, np.abs(model[good]), np.nan)
        limit = settings.outlier_sigma * column_medians(
            sigma
        ) + settings.outlier_fraction * column_medians(m)
        ratio = np.abs(column_medians(r)) / limit
    enough = valid.sum(axis=0) >= 3
    excess[enough] = ratio[enough]
    return excess
