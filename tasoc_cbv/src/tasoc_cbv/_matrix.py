"""The stars × cadences matrix of one CBV area and the star selections made on it."""

from __future__ import annotations

from collections.abc import Iterable

import attrs
import numpy as np
from scipy.interpolate import PchipInterpolator

from tasoc_core.families import LightCurve
from tasoc_core.flags import CBV_BITMASK, QUALITY

__all__ = ["AreaMatrix", "assemble", "correlation_rank", "fill_gaps", "variability"]

_MANUAL_EXCLUDE = QUALITY["ManualExclude"]


@attrs.frozen(kw_only=True, eq=False)
class AreaMatrix:
    """Relative light curves of an area's stars on a common cadence axis.

    Attributes
    ----------
    cadenceno, time
        (T,) cadence numbers and mid-times without barycentric correction (TJD).
    flux, err
        (N, T) relative flux ``flux / mean − 1`` and its uncertainty; NaN where the cadence
        is missing, non-finite or flagged (SPOC SafeMode, EarthPoint, Desat, ManualExclude
        or tasoc ManualExclude).
    starid, row, col, tmag
        (N,) identity, CCD position and magnitude.
    """

    cadenceno: np.ndarray
    time: np.ndarray
    flux: np.ndarray
    err: np.ndarray
    starid: np.ndarray
    row: np.ndarray
    col: np.ndarray
    tmag: np.ndarray

    @property
    def nstars(self) -> int:
        return self.flux.shape[0]

    def subset(self, index: np.ndarray) -> AreaMatrix:
        """The matrix restricted to stars ``index``."""
        return attrs.evolve(
            self,
            flux=self.flux[index],
            err=self.err[index],
            starid=self.starid[index],
            row=self.row[index],
            col=self.col[index],
            tmag=self.tmag[index],
        )


def _relative(lc: LightCurve) -> tuple[np.ndarray, np.ndarray]:
    flux = np.array(lc.flux, dtype=np.float64)
    bad = ~np.isfinite(flux) | ((lc.pixel_quality & CBV_BITMASK) != 0)
    bad |= (lc.quality & _MANUAL_EXCLUDE) != 0
    flux[bad] = np.nan
    mean = lc.meta.get("mean_flux") if lc.meta else None
    if mean is None or not np.isfinite(mean) or mean <= 0:
        mean = np.nanmean(flux) if np.any(np.isfinite(flux)) else np.nan
    if not np.isfinite(mean) or mean <= 0:
        nan = np.full(len(flux), np.nan)
        return nan, nan
    err = np.where(bad, np.nan, np.asarray(lc.flux_err, dtype=np.float64))
    return flux / mean - 1.0, err / mean


def assemble(light_curves: Iterable[LightCurve]) -> AreaMatrix:
    """Stack light curves on the union of their cadence numbers.

    Light curves of FFI targets of one CCD share their cadences, so usually this is a plain
    stack; otherwise each star is placed by cadence number and missing cadences are NaN.
    """
    lcs = list(light_curves)
    if not lcs:
        empty = np.zeros((0, 0))
        return AreaMatrix(
            cadenceno=np.zeros(0, np.int64),
            time=np.zeros(0),
            flux=empty,
            err=empty,
            starid=np.zeros(0, np.int64),
            row=np.zeros(0),
            col=np.zeros(0),
            tmag=np.zeros(0),
        )
    first = np.asarray(lcs[0].cadenceno, dtype=np.int64)
    same = all(
        len(lc.cadenceno) == len(first) and np.array_equal(lc.cadenceno, first) for lc in lcs
    )
    cadenceno = first if same else np.unique(np.concatenate([lc.cadenceno for lc in lcs]))
    n, t = len(lcs), len(cadenceno)
    flux = np.full((n, t), np.nan)
    err = np.full((n, t), np.nan)
    time = np.full(t, np.nan)
    for i, lc in enumerate(lcs):
        rel, rel_err = _relative(lc)
        idx = slice(None) if same else np.searchsorted(cadenceno, lc.cadenceno)
        flux[i, idx] = rel
        err[i, idx] = rel_err
        if np.isnan(time).any():
            clock = np.asarray(lc.time) - np.asarray(lc.timecorr)
            current = time[idx]
            time[idx] = np.where(np.isnan(current), clock, current)
    return AreaMatrix(
        cadenceno=cadenceno,
        time=time,
        flux=flux,
        err=err,
        starid=np.array([lc.target.starid for lc in lcs], dtype=np.int64),
        row=np.array([lc.position[0] for lc in lcs], dtype=np.float64),
        col=np.array([lc.position[1] for lc in lcs], dtype=np.float64),
        tmag=np.array([lc.target.tmag for lc in lcs], dtype=np.float64),
    )


def variability(matrix: AreaMatrix) -> np.ndarray:
    """Each star's variability: scatter around a weighted cubic over its median error.

    A 3rd-order polynomial in time is fitted by weighted least squares (weights 1/σ²) and
    subtracted; the variability is the standard deviation of the residual divided by the
    star's median flux error (paper 004 §3.1.1). NaN for stars with fewer than 10 points.
    """
    flux, err = matrix.flux, matrix.err
    good = np.isfinite(flux) & np.isfinite(err) & (err > 0)
    t = matrix.time
    finite_t = np.isfinite(t)
    if finite_t.sum() < 2:
        return np.full(matrix.nstars, np.nan)
    lo, hi = np.nanmin(t), np.nanmax(t)
    x = np.where(finite_t, (t - lo) / max(hi - lo, 1e-9) * 2 - 1, 0.0)
    good &= finite_t[None, :]
    V = np.vander(x, 4, increasing=True)  # (T, 4)
    W = np.where(good, 1.0 / np.where(good, err, 1.0) ** 2, 0.0)
    y = np.where(good, flux, 0.0)
    # Batched normal equations as plain matrix products: G_n = Σ_t w_nt v_t v_tᵀ.
    VV = (V[:, :, None] * V[:, None, :]).reshape(len(x), 16)
    G = (W @ VV).reshape(-1, 4, 4) + np.eye(4) * 1e-12
    b = (W * y) @ V
    coef = np.linalg.solve(G, b[:, :, None])[:, :, 0]
    resid = np.where(good, y - coef @ V.T, np.nan)
    count = good.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.nansum(resid, axis=1) / count
        std = np.sqrt(np.nansum((resid - mean[:, None]) ** 2, axis=1) / (count - 1))
        med_err = np.nanmedian(np.where(good, err, np.nan), axis=1)
        out = std / med_err
    out[count < 10] = np.nan
    return out


def correlation_rank(flux: np.ndarray, *, block_bytes: int = 64 * 2**20) -> np.ndarray:
    """Median absolute Pearson correlation of each star with every other star.

    NaNs count as the star's mean (zero after centring), as in the original. The
    correlation matrix is built from normalised matrix products in row blocks, so memory
    stays at one block of the N × N matrix.
    """
    n = flux.shape[0]
    if n < 2:
        return np.zeros(n)
    good = np.isfinite(flux)
    count = np.maximum(good.sum(axis=1), 1)
    centred = np.where(good, flux - (np.where(good, flux, 0.0).sum(axis=1) / count)[:, None], 0.0)
    norm = np.sqrt(np.sum(centred**2, axis=1))
    Z = centred / np.where(norm > 0, norm, 1.0)[:, None]
    m = n - 1  # values per row once the star itself is left out
    kth = [1 + (m - 1) // 2, 1 + m // 2]
    out = np.empty(n)
    rows = max(1, block_bytes // (8 * n))
    for start in range(0, n, rows):
        stop = min(start + rows, n)
        C = np.abs(Z[start:stop] @ Z.T)
        C[np.arange(stop - start), np.arange(start, stop)] = -1.0  # self sorts first
        part = np.partition(C, kth, axis=1)
        out[start:stop] = 0.5 * (part[:, kth[0]] + part[:, kth[1]])
    return out


def fill_gaps(flux: np.ndarray) -> tuple[np.ndarray, int]:
    """Fill each star's own NaN gaps by PCHIP over the cadence index.

    Ends are held at the nearest value (PCHIP extrapolation can run away). Returns the
    filled copy and the number of filled points.
    """
    out = flux.copy()
    missing = ~np.isfinite(out)
    stars = np.flatnonzero(missing.any(axis=1))
    index = np.arange(flux.shape[1], dtype=float)
    for i in stars:
        good = ~missing[i]
        if good.sum() < 2:
            out[i] = 0.0
            continue
        interp = PchipInterpolator(index[good], out[i, good], extrapolate=False)
        filled = interp(index[missing[i]])
        first, last = np.flatnonzero(good)[[0, -1]]
        filled = np.where(index[missing[i]] < first, out[i, first], filled)
        filled = np.where(index[missing[i]] > last, out[i, last], filled)
        out[i, missing[i]] = filled
    return out, int(missing.sum())
