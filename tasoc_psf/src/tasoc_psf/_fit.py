"""The per-cadence nonlinear fit of the ``psf`` method.

Parameters of a cadence, in this order: the flux of every fitted star; an offset
(δrow, δcol) from catalog position + pointing offset for each fitted star bright enough to
place (``free``), bounded by ``max_shift``; with ``fit_width`` a common relative change σ
of the PRF width (focus), applied to first order (model = Σ f (U + σ ∂U/∂s); σ is ~1 %, so
the neglected σ² term is ~1e-4); with ``fit_background`` a constant background level.
Fixed stars are subtracted (following the jitter, as in ``linpsf``, and the fitted width).

The fit is scipy's trust-region reflective least squares on the error-weighted residuals
with the analytic Jacobian (∂model/∂flux is the star's PRF image, ∂model/∂position is the
flux times the PRF's derivative, ∂model/∂σ the width derivative). The first cadence starts
from the linear fluxes at the catalog positions (``_prepass``), every later one from the
previous cadence's solution.

Uncertainties come from the Jacobian at the solution, Cov = (Jᵀ W J)⁻¹, which includes the
covariance of flux with position; the 2×2 aperture correction and its variance follow the
linear case with J in place of the design matrix (see ``_solve``).
"""

from __future__ import annotations

import attrs
import numpy as np
from scipy.optimize import least_squares

from tasoc_core.prf import StarPRFs
from tasoc_psf._common import aperture_2x2
from tasoc_psf._design import Design, pixel_grid, width_derivatives
from tasoc_psf._solve import corrected_variance, inverse
from tasoc_psf._stars import StarSelection

__all__ = ["NonlinearFit", "fit_cadences"]

# Relative change of the cost (χ²/2) at which a cadence's fit stops: 1e-6 of χ² ≈ 200 is far
# below the χ² change of one parameter's 1σ (1), so the fluxes are converged well within
# their errors; scipy's default (1e-8) only spends evaluations on digits no one needs.
_FTOL = 1e-6
_XTOL = 1e-6


@attrs.frozen
class NonlinearFit:
    """Per-cadence results of :func:`fit_cadences` (T cadences, n fitted stars)."""

    flux: np.ndarray  #: target flux (aperture-corrected if asked), e-/s
    flux_err: np.ndarray  #: its 1σ uncertainty
    fluxes: np.ndarray  #: (T, n) fitted flux of every fitted star
    centroid: np.ndarray  #: (T, 2) CCD (row, col) of the target (fitted if free)
    chi2: np.ndarray  #: reduced χ²
    converged: np.ndarray  #: the optimiser met its tolerances
    background: np.ndarray  #: fitted constant background per pixel (0 if not fitted)


def fit_cadences(
    selection: StarSelection,
    design: Design,
    values: np.ndarray,
    weight: np.ndarray,
    start: np.ndarray,
    free: np.ndarray,
    *,
    origin: tuple[int, int],
    shape: tuple[int, int],
    max_shift: float,
    max_nfev: int,
    aperture_correction: bool,
    fit_width: bool,
    fit_background: bool,
) -> NonlinearFit:
    """Fit every cadence; cadences without enough data are NaN.

    ``start`` (T, n) are the linear fluxes at the catalog positions (the first cadence, and
    any after a failed one, start from them); ``free`` (n,) marks the stars whose position
    is fitted.
    """
    n = selection.n_fit
    t_all = values.shape[0]
    layout = _Layout(n, np.flatnonzero(free), fit_width, fit_background)
    prfs = selection.prfs.subset(np.arange(n))
    base = selection.positions[:n]
    offsets = design.groups.offsets
    pix = pixel_grid(origin, shape)

    fixed = np.empty_like(values)
    fixed_width = np.zeros_like(values)
    chunk = 256
    for first in range(0, t_all, chunk):
        sl = slice(first, min(t_all, first + chunk))
        fixed[sl] = design.matrices(sl)[:, :, -1]
        if fit_width:
            fixed_width[sl] = design.width_column(sl, np.zeros(n))

    out_flux = np.full(t_all, np.nan)
    out_err = np.full(t_all, np.nan)
    fluxes = np.full((t_all, n), np.nan)
    centroid = np.full((t_all, 2), np.nan)
    chi2 = np.full(t_all, np.nan)
    converged = np.zeros(t_all, dtype=bool)
    background = np.zeros(t_all)
    lower, upper = layout.bounds(max_shift)
    unit = np.zeros(layout.size)
    unit[0] = 1.0
    previous: np.ndarray | None = None
    for t in range(t_all):
        valid = weight[t] > 0
        nvalid = int(valid.sum())
        if nvalid <= layout.size or not np.isfinite(start[t, 0]):
            previous = None
            continue
        problem = _Cadence(
            layout, prfs, base + offsets[t], origin, shape, pix[:, valid], valid,
            (values[t] - fixed[t])[valid], weight[t][valid], fixed_width[t][valid],
        )  # fmt: skip
        if previous is None:
            x0 = np.zeros(layout.size)
            x0[:n] = np.where(np.isfinite(start[t]), start[t], selection.catalog_flux[:n])
        else:
            x0 = np.clip(previous, lower, upper)
        res = least_squares(
            problem.residuals, x0, jac=problem.jacobian, bounds=(lower, upper), method="trf",
            x_scale="jac", ftol=_FTOL, xtol=_XTOL, max_nfev=max_nfev,
        )  # fmt: skip
        if res.status < 0 or not np.all(np.isfinite(res.x)):
            previous = None
            continue
        x = res.x
        w = problem.weight
        jac = problem.model_jacobian(x)  # (pixels, parameters), unweighted
        cov = inverse((jac * w[:, None]).T @ jac)
        target_pos = problem.star_positions(x)[0]
        if aperture_correction:
            ap = aperture_2x2(target_pos[None, :], origin, shape)[0][valid]
            variance = corrected_variance(cov, jac[ap].sum(axis=0), unit, np.sum(1.0 / w[ap]))
            correction = float((problem.data - problem.model(x))[ap].sum())
        else:
            variance = cov[0, 0]
            correction = 0.0
        out_flux[t] = x[0] + correction
        out_err[t] = np.sqrt(max(float(variance), 0.0))
        fluxes[t] = x[:n]
        centroid[t] = target_pos
        chi2[t] = 2.0 * res.cost / (nvalid - layout.size)
        converged[t] = res.status > 0
        if fit_background:
            background[t] = x[layout.background]
        previous = x
    return NonlinearFit(out_flux, out_err, fluxes, centroid, chi2, converged, background)


class _Layout:
    """Where each parameter sits in the vector: [flux (n), δrow (m), δcol (m), σ?, b?]."""

    def __init__(self, n: int, free: np.ndarray, fit_width: bool, fit_background: bool) -> None:
        self.n = n
        self.free = free  # indices of the stars whose position is fitted
        m = len(free)
        self.rows = slice(n, n + m)
        self.cols = slice(n + m, n + 2 * m)
        self.width = n + 2 * m if fit_width else None
        self.background = n + 2 * m + int(fit_width) if fit_background else None
        self.size = n + 2 * m + int(fit_width) + int(fit_background)

    def bounds(self, max_shift: float) -> tuple[np.ndarray, np.ndarray]:
        lower = np.full(self.size, -np.inf)
        upper = np.full(self.size, np.inf)
        for block in (self.rows, self.cols):
            lower[block], upper[block] = -max_shift, max_shift
        if self.width is not None:
            lower[self.width], upper[self.width] = -0.5, 0.5
        return lower, upper


class _Cadence:
    """The model of one cadence.

    model = Σ_j f_j (U_j + σ D_j) + σ D_fixed + b, with U_j the PRF image of star j at
    catalog position + pointing offset (+ its fitted offset), D_j = −2 U_j + d_r ∂U_j/∂row +
    d_c ∂U_j/∂col its derivative with respect to a relative width change (d = pixel − star)
    and b a constant background.
    """

    def __init__(self, layout: _Layout, prfs: StarPRFs, positions: np.ndarray,
                 origin: tuple[int, int], shape: tuple[int, int], pix: np.ndarray,
                 valid: np.ndarray, data: np.ndarray, weight: np.ndarray,
                 fixed_width: np.ndarray) -> None:  # fmt: skip
        self.layout = layout
        self.prfs = prfs
        self.positions = positions  # catalog + pointing offset, (n, 2)
        self.origin = origin
        self.shape = shape
        self.pix = pix  # (2, pixels) CCD row/col of the valid pixels
        self.valid = valid
        self.data = data
        self.weight = weight
        self.sqrt_weight = np.sqrt(weight)
        self.fixed_width = fixed_width
        # model(x) and jacobian(x) are asked at the same x: render once, at the highest
        # order the layout needs (the width term's Jacobian needs the second derivatives).
        self._order = 2 if layout.width is not None else 1
        self._key: bytes | None = None
        self._terms = np.empty(0)

    def star_positions(self, x: np.ndarray) -> np.ndarray:
        pos = self.positions.copy()
        pos[self.layout.free, 0] += x[self.layout.rows]
        pos[self.layout.free, 1] += x[self.layout.cols]
        return pos

    def terms(self, x: np.ndarray, order: int) -> np.ndarray:
        """(K, n, pixels) images and position derivatives up to ``order``, cached for the
        last x."""
        key = x.tobytes()
        if key != self._key:
            pos = self.star_positions(x)
            rendered = self.prfs.render(
                pos[:, 0], pos[:, 1], self.origin, self.shape, order=self._order
            )
            self._terms = rendered.reshape(len(rendered), len(pos), -1)[:, :, self.valid]
            self._key = key
        return self._terms[: (1, 3, 6)[order]]

    def _width(self, x: np.ndarray, terms: np.ndarray) -> tuple[np.ndarray, ...]:
        return width_derivatives(terms, self.pix, self.star_positions(x))

    def model(self, x: np.ndarray) -> np.ndarray:
        lay = self.layout
        n = lay.n
        if lay.width is None:
            model = x[:n] @ self.terms(x, 0)[0]
        else:
            terms = self.terms(x, 1)
            sigma = x[lay.width]
            width = self._width(x, terms)[0]
            model = x[:n] @ (terms[0] + sigma * width) + sigma * self.fixed_width
        if lay.background is not None:
            model = model + x[lay.background]
        return model

    def model_jacobian(self, x: np.ndarray) -> np.ndarray:
        lay = self.layout
        n = lay.n
        free = lay.free
        f = x[free, None]
        if lay.width is None:
            terms = self.terms(x, 1)
            blocks = [terms[0], terms[1][free] * f, terms[2][free] * f]
        else:
            terms = self.terms(x, 2)
            sigma = x[lay.width]
            width, width_r, width_c = self._width(x, terms)
            blocks = [
                terms[0] + sigma * width,
                (terms[1][free] + sigma * width_r[free]) * f,
                (terms[2][free] + sigma * width_c[free]) * f,
                (x[:n] @ width + self.fixed_width)[None, :],
            ]
        if lay.background is not None:
            blocks.append(np.ones((1, self.data.size)))
        return np.concatenate(blocks).T

    def residuals(self, x: np.ndarray) -> np.ndarray:
        return (self.model(x) - self.data) * self.sqrt_weight

    def jacobian(self, x: np.ndarray) -> np.ndarray:
        return self.model_jacobian(x) * self.sqrt_weight[:, None]
