"""The first linear pass both methods start from, and the pixels the model cannot describe.

The pass fits the fluxes of the fitted stars (and the constant background, if fitted) at
the catalog positions, cadence by cadence, without the width term or the aperture
correction. Its fluxes weight the width term of ``linpsf`` and start the nonlinear fits of
``psf``; its residuals find the pixels no PRF model can describe — the bleed column of a
saturated star, a star missing from the catalog, a hot pixel — which are then left out.

A pixel is left out when, over the good cadences, its median residual exceeds

    outlier_sigma × median σ + outlier_fraction × |model| + 0.5 px × |∇model|,

the last term (each star's flux times the size of its PRF's gradient, summed) being what a
catalog position off by up to half a pixel explains: a PRF model a few per cent off in the
core of a bright star, or a star a little away from its catalog position (which ``psf``
fits), keeps its pixels, while a bleed column (model ≈ 0) does not. A strong outlier drags
the whole fit, so pixels are left out in rounds, the worst first, and the fit repeated.
Before the first fit, pixels grossly inconsistent with the catalog's prediction (more than
:data:`CATALOG_FACTOR` times it off, plus the same noise and position terms) are left out: a
fit would pull the target's flux towards a bleed column lying on it, and then the target's
own wings would look like the outliers.
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

__all__ = ["CATALOG_FACTOR", "MAX_ROUNDS", "POSITION_TOLERANCE", "PrePass", "prepass"]

#: Most rounds of leaving out pixels and fitting again.
MAX_ROUNDS = 4
#: Before any fit, pixels more than this factor (plus the noise and position terms) off the
#: catalog's prediction are left out: catalog fluxes are rarely off by a factor of 3.
CATALOG_FACTOR = 2.0
#: Catalog position error (pixels) whose residuals are not taken for outliers.
POSITION_TOLERANCE = 0.5
#: Good cadences (evenly spread) the per-pixel medians are taken over.
MAX_CADENCES = 256


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
    *,
    every_cadence: bool = True,
) -> PrePass:
    """Fit the fluxes at the catalog positions and find the pixels the model cannot describe.

    With ``every_cadence`` False only :data:`MAX_CADENCES` good cadences, evenly spread, are
    fitted (enough for the mask and the median fluxes; ``flux`` is NaN elsewhere).
    """
    n = selection.n_fit
    t_all, npix = values.shape
    good = (data.quality & TESS_DEFAULT_BITMASK) == 0
    sample = np.arange(t_all)
    if not every_cadence:
        sample = _spread(np.flatnonzero(good) if good.sum() >= 3 else sample, MAX_CADENCES)
    # The per-pixel medians need a few hundred good cadences, not all of them: these rows
    # of ``sample``.
    rows = _spread(np.flatnonzero(good[sample]), MAX_CADENCES)
    mask = np.zeros(npix, dtype=bool)
    stats = None
    if settings.outlier_sigma is not None:
        chosen = sample[rows]
        stats = _PixelStats(selection, design, values[chosen], weight[chosen])
        mask = stats.gross_outliers(settings.outlier_sigma)
    for _ in range(MAX_ROUNDS):
        flux, residual = _solve(selection, design, values, weight, mask, settings, chunk, sample)
        if stats is None:
            break
        fitted = column_medians(flux[sample])
        fitted = np.where(np.isfinite(fitted), fitted, selection.catalog_flux[:n])
        fit_ok = np.isfinite(flux[sample[rows], 0])
        excess = stats.excess(residual[rows], mask, fit_ok, fitted, settings)
        worst = np.nanmax(excess) if np.isfinite(excess).any() else 0.0
        if not worst > 1.0:
            break
        mask |= excess >= max(1.0, 0.5 * worst)
    median = column_medians(flux[sample])
    reference = np.where(np.isfinite(median), median, selection.catalog_flux[:n])
    return PrePass(flux, reference, mask)


def _spread(indices: np.ndarray, most: int) -> np.ndarray:
    """At most ``most`` of ``indices``, evenly spread."""
    if len(indices) <= most:
        return indices
    return indices[np.linspace(0, len(indices) - 1, most).astype(np.int64)]


def _solve(
    selection: StarSelection,
    design: Design,
    values: np.ndarray,
    weight: np.ndarray,
    mask: np.ndarray,
    settings: CommonSettings,
    chunk: int,
    sample: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Fluxes (T, n; NaN outside ``sample``) and residuals (sample, P) of the linear fit
    without the ``mask`` pixels."""
    npix = values.shape[1]
    n = selection.n_fit
    flux = np.full((values.shape[0], n), np.nan)
    residual = np.full((len(sample), npix), np.nan)
    for first in range(0, len(sample), chunk):
        part = slice(first, min(len(sample), first + chunk))
        cadences = sample[part]
        matrices = design.matrices(cadences)
        columns = matrices[:, :, :-1]
        if settings.fit_background:
            ones = np.ones((columns.shape[0], npix, 1))
            columns = np.concatenate([columns, ones], axis=2)
        w = np.where(mask[None, :], 0.0, weight[cadences])
        solution = solve_cadences(columns, values[cadences] - matrices[:, :, -1], w, None)
        flux[cadences] = solution.flux[:, :n]
        residual[part] = solution.residual
    return flux, residual


class _PixelStats:
    """Per-pixel medians over good cadences, and the stars' images at the reference pointing.

    ``values`` and ``weight`` (k, P) hold the good cadences the medians are taken over.
    """

    def __init__(
        self, selection: StarSelection, design: Design, values: np.ndarray, weight: np.ndarray
    ) -> None:
        self.selection = selection
        self.weight = weight
        valid = weight > 0
        self.count = valid.sum(axis=0)
        with np.errstate(divide="ignore", invalid="ignore"):
            self.sigma = column_medians(np.where(valid, 1.0 / np.sqrt(weight), np.nan))
            self.median = column_medians(np.where(valid, values, np.nan))
        nstars = len(selection.stars)
        offset = design.groups.reference
        gradient = selection.prfs.render(
            selection.stars.row + offset[0], selection.stars.col + offset[1],
            design.origin, design.shape, order=1,
        )[1:].reshape(2, nstars, -1)  # fmt: skip
        self.unit = selection.unit.reshape(nstars, -1)  # (N, P), at the same pointing
        self.gradient = np.hypot(gradient[0], gradient[1])  # (N, P)

    def _limits(self, flux: np.ndarray, outlier_sigma: float, factor: float) -> np.ndarray:
        model = np.abs(flux @ self.unit)
        position = POSITION_TOLERANCE * (np.abs(flux) @ self.gradient)
        return outlier_sigma * self.sigma + factor * model + position

    def gross_outliers(self, outlier_sigma: float) -> np.ndarray:
        """Pixels (P,) far from the catalog's prediction."""
        if len(self.weight) < 3:
            return np.zeros(len(self.count), dtype=bool)
        flux = self.selection.catalog_flux
        predicted = flux @ self.unit
        limit = self._limits(flux, outlier_sigma, CATALOG_FACTOR)
        with np.errstate(invalid="ignore"):
            far = np.abs(self.median - predicted) > limit
        return far & (self.count >= 3)

    def excess(
        self,
        residual: np.ndarray,
        mask: np.ndarray,
        good: np.ndarray,
        fitted: np.ndarray,
        settings: CommonSettings,
    ) -> np.ndarray:
        """|median residual| over its limit per pixel (P,); NaN for pixels out or without data.

        ``residual`` (k, P) holds the cadences of the medians, ``good`` (k,) marks those
        whose fit succeeded.
        """
        excess = np.full(len(self.count), np.nan)
        if good.sum() < 3:
            return excess
        valid = (self.weight[good] > 0) & ~mask[None, :]
        flux = np.concatenate([fitted, self.selection.catalog_flux[self.selection.n_fit :]])
        limit = self._limits(flux, settings.outlier_sigma, settings.outlier_fraction)
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = np.abs(column_medians(np.where(valid, residual[good], np.nan))) / limit
        enough = valid.sum(axis=0) >= 3
        excess[enough] = ratio[enough]
        return excess
