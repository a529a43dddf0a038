"""Splitting a CBV into a smooth ("normal", single-scale) part and single-cadence spikes.

Reference §15.3 step 9 / paper 004 §3.1.1: for Savitzky–Golay windows 31, 29, 27, 25, 23
(polynomial order 2) the vector, with earlier spikes replaced by PCHIP interpolation, is
low-pass filtered; peaks of the absolute residual with a prominence of at least 3σ
(σ = 1.4826 × median |residual|, window 500 samples) are spikes. The series is mirrored by
49 samples at each end so that spikes at the ends are found too. The normal CBV is the
vector with its spikes interpolated over; the spike CBV is the difference.

Beyond the original: the vector is processed in segments separated by data gaps longer
than ten cadences (the mid-sector downlink), so the jump of a scattered-light ramp across
a gap is not mistaken for a spike.
"""

from __future__ import annotations

import itertools

import numpy as np
from scipy.interpolate import PchipInterpolator
from scipy.signal import find_peaks, savgol_filter

__all__ = ["WINDOWS", "segments", "split_spikes"]

#: Savitzky–Golay window lengths, applied in turn.
WINDOWS = (31, 29, 27, 25, 23)
_PAD = 49
_MAD = 1.4826


def segments(time: np.ndarray, cadence_days: float, gap: float = 10.0) -> list[slice]:
    """Slices of ``time`` between gaps longer than ``gap`` cadences."""
    if len(time) == 0:
        return []
    dt = np.diff(time)
    breaks = np.flatnonzero(~(dt <= gap * cadence_days)) + 1
    edges = np.concatenate([[0], breaks, [len(time)]])
    return [slice(int(a), int(b)) for a, b in itertools.pairwise(edges) if b > a]


def _pchip_fill(y: np.ndarray) -> np.ndarray:
    bad = ~np.isfinite(y)
    if not bad.any():
        return y
    good = ~bad
    if good.sum() < 2:
        return np.where(bad, 0.0, y)
    x = np.arange(len(y), dtype=float)
    out = y.copy()
    out[bad] = PchipInterpolator(x[good], y[good], extrapolate=True)(x[bad])
    return out


def _split_segment(v: np.ndarray) -> np.ndarray:
    """Smooth part of one gap-free segment; NaN samples stay NaN."""
    n = len(v)
    undefined = ~np.isfinite(v)
    work = v.copy()
    if n < 7 or (~undefined).sum() < 7:
        return work
    pad = min(_PAD, n - 1)
    for window in WINDOWS:
        filled = _pchip_fill(work)
        padded = np.pad(filled, pad, mode="reflect")
        w = min(window, len(padded) - (1 - len(padded) % 2))
        if w <= 2:
            break
        resid = padded - savgol_filter(padded, w, 2, mode="mirror")
        sigma = _MAD * np.median(np.abs(resid))
        if not sigma > 0:
            continue
        peaks, _ = find_peaks(np.abs(resid), prominence=3 * sigma, wlen=500)
        peaks = peaks[(peaks >= pad) & (peaks < pad + n)] - pad
        work[peaks] = np.nan
    smooth = _pchip_fill(work)
    smooth[undefined] = np.nan
    return smooth


def split_spikes(
    vectors: np.ndarray, time: np.ndarray, cadence_days: float
) -> tuple[np.ndarray, np.ndarray]:
    """Split each column of ``vectors`` (T, K) into normal and spike vectors.

    NaN samples (cadences without CBVs) stay NaN in the normal vector and are zero in the
    spike vector.
    """
    single = np.array(vectors, dtype=np.float64)
    for part in segments(time, cadence_days):
        for k in range(single.shape[1]):
            single[part, k] = _split_segment(single[part, k])
    spike = np.nan_to_num(np.asarray(vectors, dtype=np.float64) - single)
    return single, spike
