"""The per-cadence nonlinear fit of the ``psf`` method.

Each fitted star has three parameters: flux and an offset (δrow, δcol) from its catalog
position plus the cadence's pointing offset, bounded by ``max_shift``. Fixed stars are
subtracted (following the jitter, as in ``linpsf``). The fit is scipy's trust-region
reflective least squares on the error-weighted residuals with the analytic Jacobian
(∂model/∂flux is the star's PRF image, ∂model/∂position is flux × the PRF's derivative).
The first cadence starts from the linear (``linpsf``) fluxes at the catalog positions, every
later one from the previous cadence's solution.

Uncertainties come from the Jacobian at the solution, Cov = (Jᵀ W J)⁻¹, which includes the
covariance of flux with position; the 2×2 aperture correction and its variance follow the
linear case with J in place of the design matrix (see ``_solve``).
"""

from __future__ import annotations

import attrs
import numpy as np
from scipy.optimize import least_squares

from tasoc_psf._common import aperture_2x2
from tasoc_psf._design import Design
from tasoc_psf._solve import solve_cadences
from tasoc_psf._stars import StarSelection

__all__ = ["NonlinearFit", "fit_cadences"]


@attrs.frozen
class NonlinearFit:
    """Per-cadence results of :func:`fit_cadences` (T cadences, n fitted stars)."""

    flux: np.ndarray  #: target flux (aperture-corrected if asked), e-/s
    flux_err: np.ndarray  #: its 1σ uncertainty
    fluxes: np.ndarray  #: (T, n) fitted flux of every fitted star
    centroid: np.ndarray  #: (T, 2) fitted CCD (row, col) of the target
    chi2: np.ndarray  #: reduced χ²
    converged: np.ndarray  #: the optimiser met its tolerances
    pixel_weights: np.ndarray  #: (T, P) linearised pixel weights of ``flux``


def _covariance(matrix: np.ndarray) -> np.ndarray:
    try:
        return np.linalg.inv(matrix)
    except np.linalg.LinAlgError:
        return np.linalg.pinv(matrix, hermitian=True)


def fit_cadences(
    selection: StarSelection,
    design: Design,
    values: np.ndarray,
    weight: np.ndarray,
    *,
    origin: tuple[int, int],
    shape: tuple[int, int],
    max_shift: float,
    max_nfev: int,
    aperture_correction: bool,
) -> NonlinearFit:
    """Fit every cadence; cadences without enough data are NaN."""
    n = selection.n_fit
    t_all, npix = values.shape
    prfs = selection.prfs.subset(np.arange(n))
    base = selection.positions[:n]
    offsets = design.groups.offsets

    fixed = np.empty_like(values)
    start = np.empty((t_all, n))
    chunk = 256
    for first in range(0, t_all, chunk):
        sl = slice(first, min(t_all, first + chunk))
        matrices = design.matrices(sl)
        fixed[sl] = matrices[:, :, -1]
        start[sl] = solve_cadences(
            matrices[:, :, :-1], values[sl] - fixed[sl], weight[sl], None
        ).flux

    out_flux = np.full(t_all, np.nan)
    out_err = np.full(t_all, np.nan)
    fluxes = np.full((t_all, n), np.nan)
    centroid = np.full((t_all, 2), np.nan)
    chi2 = np.full(t_all, np.nan)
    converged = np.zeros(t_all, dtype=bool)
    pixel_weights = np.zeros((t_all, npix))
    lower = np.concatenate([np.full(n, -np.inf), np.full(2 * n, -max_shift)])
    upper = np.concatenate([np.full(n, np.inf), np.full(2 * n, max_shift)])
    unit = np.zeros(3 * n)
    unit[0] = 1.0
    previous: np.ndarray | None = None
    for t in range(t_all):
        valid = weight[t] > 0
        nvalid = int(valid.sum())
        if nvalid <= 3 * n or not np.isfinite(start[t, 0]):
            previous = None
            continue
        y = (values[t] - fixed[t])[valid]
        w = weight[t][valid]
        sw = np.sqrt(w)
        pos = base + offsets[t]
        if previous is None:
            f0 = np.where(np.isfinite(start[t]), start[t], selection.catalog_flux[:n])
            x0 = np.concatenate([f0, np.zeros(2 * n)])
        else:
            x0 = previous.copy()
        x0[n:] = np.clip(x0[n:], -max_shift, max_shift)
        cache: dict[bytes, np.ndarray] = {}

        def images(x: np.ndarray, pos=pos, valid=valid, cache=cache) -> np.ndarray:
            key = x.tobytes()
            if key not in cache:
                cache.clear()
                rendered = prfs.render(pos[:, 0] + x[n : 2 * n], pos[:, 1] + x[2 * n :], origin,
                                       shape, order=1)  # fmt: skip
                cache[key] = rendered.reshape(3, n, npix)[:, :, valid]
            return cache[key]

        def model_jacobian(x: np.ndarray, images=images) -> np.ndarray:
            img = images(x)
            return np.concatenate([img[0], img[1] * x[:n, None], img[2] * x[:n, None]]).T

        def residuals(x: np.ndarray, images=images, y=y, sw=sw) -> np.ndarray:
            return (x[:n] @ images(x)[0] - y) * sw

        def jacobian(x: np.ndarray, model_jacobian=model_jacobian, sw=sw) -> np.ndarray:
            return model_jacobian(x) * sw[:, None]

        res = least_squares(
            residuals, x0, jac=jacobian, bounds=(lower, upper), method="trf", x_scale="jac",
            max_nfev=max_nfev,
        )  # fmt: skip
        if res.status < 0 or not np.all(np.isfinite(res.x)):
            previous = None
            continue
        x = res.x
        jac = model_jacobian(x)  # (pixels, 3n), unweighted
        normal = (jac * w[:, None]).T @ jac
        cov = _covariance(normal)
        residual = y - x[:n] @ images(x)[0]
        target_pos = pos[0] + x[[n, 2 * n]]
        if aperture_correction:
            ap = aperture_2x2(target_pos[None, :], origin, shape)[0][valid]
            in_ap = jac[ap].sum(axis=0)
            u = cov @ (unit - in_ap)
            variance = np.sum(1.0 / w[ap]) + 2.0 * in_ap @ u + (unit - in_ap) @ u
            correction = float(residual[ap].sum())
            g = ap + w * (jac @ u)
        else:
            u = cov[:, 0]
            variance = cov[0, 0]
            correction = 0.0
            g = w * (jac @ u)
        out_flux[t] = x[0] + correction
        out_err[t] = np.sqrt(max(float(variance), 0.0))
        fluxes[t] = x[:n]
        centroid[t] = target_pos
        chi2[t] = 2.0 * res.cost / (nvalid - 3 * n)
        converged[t] = res.status > 0
        pixel_weights[t, valid] = g
        previous = x
    return NonlinearFit(out_flux, out_err, fluxes, centroid, chi2, converged, pixel_weights)
