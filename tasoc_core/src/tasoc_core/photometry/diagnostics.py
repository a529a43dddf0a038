"""Diagnostics of a raw light curve: the numbers stored in the TODO-file for every result.

Definitions follow the original pipeline (reference §8.4), computed on the *good* cadences:
those whose SPOC quality passes :data:`~tasoc_core.flags.TESS_DEFAULT_BITMASK` and whose
time is finite. With ``mean_flux`` the median flux of the good cadences,

* relative flux ``rel = flux / mean_flux − 1`` and ``rel_err = flux_err / |mean_flux|``;
* ``variance``: sample variance (ddof = 1) of ``rel``;
* ``rms_hour``: ``rel`` averaged in 1-hour bins counted from the first good cadence, then
  1.4826 × the median absolute deviation of the bin means (a robust standard deviation);
* ``ptp``: median of ``|Δrel|`` between consecutive good cadences, the point-to-point
  "median differential variability" (PTP-MDV) of the data validation;
* ``variability``: standard deviation of ``rel`` around a weighted cubic polynomial in time,
  divided by the median ``rel_err`` (≈ 1 for a star whose only variation is slow and
  whose errors are right).

``rms_hour``, ``ptp`` and ``variance`` are stored as fractions (variance as a squared
fraction); multiply by 1e6 (1e12) for ppm (ppm²). Everything is vectorized: there is no
per-cadence Python loop.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import attrs
import numpy as np

from tasoc_core.exceptions import TargetError
from tasoc_core.families.photometry import PhotometryResult
from tasoc_core.flags import TESS_DEFAULT_BITMASK

__all__ = [
    "DIAGNOSTIC_COLUMNS",
    "MAD_TO_SIGMA",
    "Diagnostics",
    "compute_diagnostics",
    "ptp_mdv",
    "rms_timescale",
    "variability",
]

#: 1 / Φ⁻¹(3/4): scales a median absolute deviation to a Gaussian standard deviation.
MAD_TO_SIGMA = 1.482602218505602

#: Name and meaning of every standard diagnostic (the TODO-file columns of a result).
DIAGNOSTIC_COLUMNS: Mapping[str, str] = {
    "mean_flux": "median flux of good cadences, e-/s",
    "variance": "sample variance of the relative flux (fraction squared)",
    "rms_hour": "robust RMS of the relative flux on 1-hour bins (fraction; ×1e6 for ppm)",
    "ptp": "median |point-to-point difference| of the relative flux (fraction; ×1e6 for ppm)",
    "variability": "scatter around a cubic polynomial over the median relative error",
    "pos_row": "median centroid row, 0-based CCD (catalog position if no centroid)",
    "pos_column": "median centroid column, 0-based CCD (catalog position if no centroid)",
    "mask_size": "pixels in the photometric aperture (NULL if the method has none)",
    "edge_flux": "sum image flux in aperture pixels on the stamp border, e-/s",
    "contamination": "fraction of aperture flux from other stars (NaN if not computed)",
    "stamp_width": "stamp width in pixels (after resizes)",
    "stamp_height": "stamp height in pixels (after resizes)",
    "stamp_resizes": "how many times the stamp was grown",
    "minimal_mask": "the method fell back to its minimum aperture",
    "num_good": "cadences used (quality passes the bitmask, finite time and flux)",
    "errors": "the method's warnings, one per line (NULL if none)",
}

_SECONDS_PER_DAY = 86400.0
_CUBIC_TERMS = 4


def rms_timescale(time: np.ndarray, flux: np.ndarray, timescale: float = 3600.0) -> float:
    """Robust RMS of ``flux`` averaged on bins of ``timescale`` seconds.

    Bins are counted from the first finite time; each bin holding at least one finite
    value contributes its mean. The result is 1.4826 × the median absolute deviation of
    the bin means (NaN with fewer than two bins).

    Parameters
    ----------
    time
        Times in days.
    flux
        Values to bin (any unit; the result has the same unit).
    timescale
        Bin width in seconds.
    """
    time = np.asarray(time, dtype=np.float64)
    flux = np.asarray(flux, dtype=np.float64)
    ok = np.isfinite(time) & np.isfinite(flux)
    if np.count_nonzero(ok) < 2:
        return math.nan
    t, f = time[ok], flux[ok]
    index = np.floor((t - t.min()) * (_SECONDS_PER_DAY / timescale)).astype(np.int64)
    # unique + bincount rather than bincount alone: a stray time far from the rest must
    # not allocate a huge array of empty bins.
    _, inverse, counts = np.unique(index, return_inverse=True, return_counts=True)
    if counts.size < 2:
        return math.nan
    means = np.bincount(inverse, weights=f) / counts
    return float(MAD_TO_SIGMA * np.median(np.abs(means - np.median(means))))


def ptp_mdv(flux: np.ndarray) -> float:
    """Median absolute difference between consecutive values (PTP-MDV); NaN if undefined.

    Differences involving a NaN are ignored, so a gap does not create a jump.
    """
    diff = np.abs(np.diff(np.asarray(flux, dtype=np.float64)))
    diff = diff[np.isfinite(diff)]
    return float(np.median(diff)) if diff.size else math.nan


def variability(time: np.ndarray, rel: np.ndarray, rel_err: np.ndarray) -> float:
    """Scatter of ``rel`` around a weighted cubic in time, over the median of ``rel_err``.

    The cubic is fitted by weighted least squares (weights 1/rel_err) against time scaled
    to [0, 1]. Returns NaN when fewer than five usable points remain or the fit is
    rank-deficient (the original pipeline returned 0 there, which reads as "quiet").
    """
    time = np.asarray(time, dtype=np.float64)
    rel = np.asarray(rel, dtype=np.float64)
    rel_err = np.asarray(rel_err, dtype=np.float64)
    ok = np.isfinite(time) & np.isfinite(rel) & np.isfinite(rel_err) & (rel_err > 0)
    if np.count_nonzero(ok) <= _CUBIC_TERMS:
        return math.nan
    t, y, e = time[ok], rel[ok], rel_err[ok]
    span = t.max() - t.min()
    if span <= 0:
        return math.nan
    x = (t - t.min()) / span
    design = np.vander(x, _CUBIC_TERMS)
    coef, _, rank, _ = np.linalg.lstsq(design / e[:, None], y / e, rcond=None)
    if rank < _CUBIC_TERMS:
        return math.nan
    return float(np.std(y - design @ coef) / np.median(e))


@attrs.frozen(kw_only=True)
class Diagnostics:
    """Diagnostics of one light curve (see :data:`DIAGNOSTIC_COLUMNS` for the meanings).

    ``extra`` holds the method's own numeric diagnostics
    (:attr:`PhotometryResult.diagnostics`).
    """

    mean_flux: float
    variance: float
    rms_hour: float
    ptp: float
    variability: float
    pos_row: float
    pos_column: float
    mask_size: int | None
    edge_flux: float
    contamination: float
    stamp_width: int
    stamp_height: int
    stamp_resizes: int
    minimal_mask: bool
    num_good: int
    errors: str | None
    extra: Mapping[str, float] = attrs.field(factory=dict)

    def as_row(self) -> dict[str, Any]:
        """Flat mapping of column name to value, standard diagnostics then ``extra``."""
        row = {name: getattr(self, name) for name in DIAGNOSTIC_COLUMNS}
        row.update(self.extra)
        return row


def _median_centroid(result: PhotometryResult, good: np.ndarray) -> tuple[float, float]:
    if result.centroid is not None:
        cen = result.centroid[good]
        ok = np.all(np.isfinite(cen), axis=1)
        if ok.any():
            row, col = np.median(cen[ok], axis=0)
            return float(row), float(col)
    row, col = result.data.position
    return float(row), float(col)


def _extra(result: PhotometryResult) -> dict[str, float]:
    extra = {}
    for key, value in result.diagnostics.items():
        if key in DIAGNOSTIC_COLUMNS:
            raise TargetError(
                f"{result.data.target}: the method's diagnostic {key!r} has the name of a "
                "standard diagnostic"
            )
        try:
            extra[str(key)] = float(value)
        except (TypeError, ValueError):
            raise TargetError(
                f"{result.data.target}: the method's diagnostic {key!r} is not a number: {value!r}"
            ) from None
    return extra


def compute_diagnostics(
    result: PhotometryResult, *, bitmask: int = TESS_DEFAULT_BITMASK
) -> Diagnostics:
    """Diagnostics of a photometry result.

    Parameters
    ----------
    result
        What the photometry method returned.
    bitmask
        SPOC quality bits that exclude a cadence from the statistics.

    Returns
    -------
    Diagnostics

    Raises
    ------
    TargetError
        If the flux or its uncertainty is NaN on every cadence ("light curve is all
        NaN"), or no cadence passing ``bitmask`` has a finite flux.
    """
    data = result.data
    target = data.target
    flux, flux_err = result.flux, result.flux_err
    if not np.isfinite(flux).any():
        raise TargetError(f"{target}: light curve is all NaN")
    if not np.isfinite(flux_err).any():
        raise TargetError(f"{target}: flux uncertainties are all NaN")

    time = np.asarray(data.time, dtype=np.float64)
    good = ((np.asarray(data.quality, dtype=np.int64) & bitmask) == 0) & np.isfinite(time)
    usable = good & np.isfinite(flux)
    num_good = int(np.count_nonzero(usable))
    if num_good == 0:
        raise TargetError(
            f"{target}: no cadence with a finite flux passes the quality bitmask {bitmask}"
        )

    t, f, fe = time[good], flux[good], flux_err[good]
    mean_flux = float(np.median(flux[usable]))
    if np.isfinite(mean_flux) and mean_flux != 0.0:
        rel = f / mean_flux - 1.0
        rel_err = fe / abs(mean_flux)
        finite_rel = rel[np.isfinite(rel)]
        variance = float(np.var(finite_rel, ddof=1)) if finite_rel.size > 1 else math.nan
        rms_hour = rms_timescale(t, rel, 3600.0)
        ptp = ptp_mdv(rel)
        var_index = variability(t, rel, rel_err)
    else:
        variance = rms_hour = ptp = var_index = math.nan

    pos_row, pos_column = _median_centroid(result, good)

    aperture = None if result.aperture is None else np.asarray(result.aperture, dtype=bool)
    if aperture is None:
        mask_size, edge_flux = None, math.nan
    else:
        mask_size = int(np.count_nonzero(aperture))
        edge = aperture & data.stamp.border_mask()
        edge_flux = float(np.nansum(np.asarray(data.sumimage, dtype=np.float64)[edge]))

    contamination = math.nan if result.contamination is None else float(result.contamination)
    return Diagnostics(
        mean_flux=mean_flux,
        variance=variance,
        rms_hour=rms_hour,
        ptp=ptp,
        variability=var_index,
        pos_row=pos_row,
        pos_column=pos_column,
        mask_size=mask_size,
        edge_flux=edge_flux,
        contamination=contamination,
        stamp_width=data.stamp.width,
        stamp_height=data.stamp.height,
        stamp_resizes=int(data.resizes),
        minimal_mask="minimal-aperture" in result.tags,
        num_good=num_good,
        errors="\n".join(result.warnings) if result.warnings else None,
        extra=_extra(result),
    )
