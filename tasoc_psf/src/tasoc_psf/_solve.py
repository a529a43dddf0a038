"""Weighted linear least squares for many cadences at once, with the 2×2 aperture correction.

For each cadence t, with pixel values d (the fixed stars subtracted), inverse variances
w = 1/σ² (0 for pixels without data) and the design matrix A (pixels × fitted stars)::

    M = Aᵀ W A,   f̂ = M⁻¹ Aᵀ W d,   Cov(f̂) = M⁻¹.

The aperture correction of paper 003 (§5.3) adds the residual flux in the 2×2 pixels around
the target, *to the target only*::

    f' = f̂_t + Σ_ap (d − A f̂) = 1_apᵀ d + (e_t − a)ᵀ f̂,   a = Σ_ap A (one value per star).

f' is linear in d with pixel weights g = 1_ap + W A u, u = M⁻¹ (e_t − a), so its variance is
exactly gᵀ W⁻¹ g = Σ_ap σ² + 2 aᵀu + (e_t − a)ᵀu. A star with no data in a cadence is left
out of that cadence's solve (flux NaN) instead of making the system singular.
"""

from __future__ import annotations

import attrs
import numpy as np

__all__ = ["LinearSolution", "corrected_variance", "inverse", "solve_cadences"]

# A star whose weighted norm is below this fraction of the largest one in its cadence has no
# usable pixel there.
_DEAD = 1e-12


@attrs.frozen
class LinearSolution:
    """Results per cadence (length t) of :func:`solve_cadences`.

    Attributes
    ----------
    flux
        Fitted flux of every fitted star (t, n), NaN where undetermined.
    target_flux
        The target's flux with the aperture correction (if asked for), e-/s.
    target_err
        Its 1σ uncertainty.
    chi2
        Reduced χ² of the fit.
    residual
        Data minus the fitted model (t, pixels), before the aperture correction.
    """

    flux: np.ndarray
    target_flux: np.ndarray
    target_err: np.ndarray
    chi2: np.ndarray
    residual: np.ndarray


def inverse(matrices: np.ndarray) -> np.ndarray:
    """Inverses of normal matrices (..., n, n); the pseudo-inverse if one is singular."""
    try:
        return np.linalg.inv(matrices)
    except np.linalg.LinAlgError:
        # Only an exactly singular system gets here (e.g. two identical columns); the
        # pseudo-inverse gives the minimum-norm fluxes and a usable covariance.
        return np.linalg.pinv(matrices, hermitian=True)


def solve_cadences(
    design: np.ndarray,
    data: np.ndarray,
    weight: np.ndarray,
    aperture: np.ndarray | None,
    target: int = 0,
) -> LinearSolution:
    """Solve the weighted linear fits of t cadences.

    Parameters
    ----------
    design
        (t, pixels, n) unit-flux images of the fitted stars per cadence.
    data
        (t, pixels) pixel values with every fixed contribution subtracted; any finite value
        where ``weight`` is 0.
    weight
        (t, pixels) inverse variances, 0 for pixels without data.
    aperture
        (t, pixels) boolean 2×2 aperture of the target per cadence, or None for no
        aperture correction.
    target
        Column of the target in ``design``.
    """
    n = design.shape[2]
    weighted = design * weight[:, :, None]
    wt = weighted.transpose(0, 2, 1)
    normal = np.matmul(wt, design)  # (t, n, n)
    rhs = np.matmul(wt, data[:, :, None])[:, :, 0]  # (t, n)
    diag = np.einsum("tii->ti", normal)
    npix_valid = np.count_nonzero(weight > 0, axis=1)
    scale = diag.max(axis=1, keepdims=True)
    alive = (diag > _DEAD * scale) & (scale > 0) & (npix_valid >= n)[:, None]
    # Decouple stars without data: their rows and columns become those of the identity.
    normal *= alive[:, :, None] & alive[:, None, :]
    idx = np.arange(n)
    normal[:, idx, idx] += ~alive
    rhs = np.where(alive, rhs, 0.0)
    cov = inverse(normal)
    flux = np.matmul(cov, rhs[:, :, None])[:, :, 0]
    model = np.matmul(design, flux[:, :, None])[:, :, 0]
    residual = data - model
    dof = npix_valid - alive.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        chi2 = np.where(dof > 0, np.sum(weight * residual**2, axis=1) / dof, np.nan)
    flux = np.where(alive, flux, np.nan)

    unit = np.zeros(n)
    unit[target] = 1.0
    if aperture is not None:
        ap = aperture & (weight > 0)
        in_ap = np.einsum("tpn,tp->tn", design, ap) * alive  # a
        ap_var = np.sum(np.where(ap, 1.0 / np.where(ap, weight, 1.0), 0.0), axis=1)
        variance = corrected_variance(cov, in_ap, unit, ap_var)
        correction = np.sum(np.where(ap, residual, 0.0), axis=1)
    else:
        variance = cov[:, target, target]
        correction = 0.0
    ok = alive[:, target]
    target_flux = np.where(ok, flux[:, target] + correction, np.nan)
    target_err = np.where(ok, np.sqrt(np.clip(variance, 0.0, None)), np.nan)
    return LinearSolution(
        flux=flux,
        target_flux=target_flux,
        target_err=target_err,
        chi2=chi2,
        residual=residual,
    )


def corrected_variance(
    cov: np.ndarray, in_ap: np.ndarray, unit: np.ndarray, ap_var: np.ndarray | float
) -> np.ndarray:
    """Variance of the aperture-corrected target flux, with u = Cov (e_t − a).

    ``cov`` (..., n, n) is the fluxes' covariance M⁻¹, ``in_ap`` (..., n) the sum a of each
    column over the aperture, ``unit`` (n,) the target's unit vector e_t and ``ap_var`` the
    summed variance of the aperture pixels: Σ_ap σ² + 2 aᵀu + (e_t − a)ᵀu (module docstring).
    Columns without data must have zero ``in_ap`` and identity rows/columns in ``cov``.
    """
    rest = unit - in_ap
    u = np.matmul(cov, rest[..., None])[..., 0]
    return ap_var + 2.0 * np.sum(in_ap * u, axis=-1) + np.sum(rest * u, axis=-1)
