"""Sigma-clipped SExtractor-style modes of many rows at once.

Every row of a 2-D array (a 64×64 tile, a ring of pixels) is sorted once. Sigma clipping
about the median only ever removes values from the two ends of a sorted row, so the
retained values are always one contiguous index range ``[lo, hi)``. Each clipping
iteration then needs only

* the median: two gathers at the middle of the range;
* the mean and standard deviation: range sums of the values and their squares, read from
  prefix sums kept per block of :data:`_BLOCK` values (exact, float64);
* the new bounds: a vectorised binary search per row.

So after one ``np.sort`` the iterations cost O(rows), not O(pixels), which is what makes
the iterated square-plus-radial estimate cheaper than one photutils ``Background2D`` pass.
The semantics are those of ``astropy.stats.SigmaClip(sigma, maxiters, cenfunc='median',
stdfunc='std')`` followed by ``photutils.background.SExtractorBackground``.
"""

from __future__ import annotations

import attrs
import numpy as np

__all__ = ["ClippedModes", "clipped_modes"]

#: Values per prefix-sum block; rows are padded with NaN to a multiple of it.
_BLOCK = 64


@attrs.frozen
class ClippedModes:
    """Per-row results of :func:`clipped_modes`.

    Attributes
    ----------
    mode
        SExtractor mode of the clipped values (NaN for rows without values).
    median, mean, std
        Statistics of the clipped values.
    low, high
        The clipping bounds of the last iteration: values in ``[low, high]`` were kept.
    count
        Number of values kept.
    """

    mode: np.ndarray
    median: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    low: np.ndarray
    high: np.ndarray
    count: np.ndarray


def _search(s: np.ndarray, nvalid: np.ndarray, value: np.ndarray, *, right: bool) -> np.ndarray:
    """Per-row ``searchsorted`` of ``value`` in the first ``nvalid`` entries of sorted rows.

    ``value`` may hold several values per row, shape (k, n): the k searches run together
    (fewer, larger numpy calls).
    """
    n, m = s.shape
    value = np.asarray(value, dtype=np.float64)
    if right:
        # x <= v  <=>  x < nextafter(v, +inf) for float32 x compared in float64.
        value = np.nextafter(value, np.inf)
    k = value.size // n
    flat = s.reshape(-1)
    base = np.tile(np.arange(n, dtype=np.int64) * m, k)
    value = value.reshape(-1)
    lo = np.zeros(n * k, dtype=np.int64)
    hi = np.tile(nvalid.astype(np.int64), k)
    # A fixed number of halvings; rows whose range is already empty stay put because
    # mid == lo == hi there and both updates are clamped to the range.
    for _ in range(int(m).bit_length()):
        mid = (lo + hi) >> 1
        go_right = flat[base + np.minimum(mid, m - 1)] < value
        lo = np.where(go_right, np.minimum(mid + 1, hi), lo)
        hi = np.where(go_right, hi, mid)
    return lo if k == 1 else lo.reshape(k, n)


class _RangeSums:
    """Exact sums of ``d`` and ``d**2`` over index ranges of each sorted row."""

    def __init__(self, d: np.ndarray) -> None:
        n, m = d.shape
        self._blocks = d.reshape(n, m // _BLOCK, _BLOCK)
        self._blocks2 = np.square(self._blocks)
        zeros = np.zeros((n, 1))
        # Block sums in the input precision are exact enough (64 values of d = x − median,
        # pairwise summed); the running sums over blocks are float64. NaN (missing values
        # sort last) only reaches blocks at or past the first NaN, which no prefix up to a
        # valid index uses.
        self._p1 = np.concatenate(
            [zeros, np.cumsum(self._blocks.sum(axis=2), axis=1, dtype=np.float64)], axis=1
        )
        self._p2 = np.concatenate(
            [zeros, np.cumsum(self._blocks2.sum(axis=2), axis=1, dtype=np.float64)], axis=1
        )
        self._rows = np.arange(n)
        self._lane = np.arange(_BLOCK)

    def prefix(self, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Sums of the first ``idx`` values of every row (and of their squares)."""
        nb = self._blocks.shape[1]
        b = np.minimum(idx // _BLOCK, nb - 1)
        rem = idx - b * _BLOCK
        take = self._lane[None, :] < rem[:, None]
        part1 = np.where(take, self._blocks[self._rows, b], 0.0).sum(axis=1, dtype=np.float64)
        part2 = np.where(take, self._blocks2[self._rows, b], 0.0).sum(axis=1, dtype=np.float64)
        return self._p1[self._rows, b] + part1, self._p2[self._rows, b] + part2


def _pad(values: np.ndarray) -> np.ndarray:
    extra = (-values.shape[1]) % _BLOCK
    if extra == 0:
        return values
    return np.concatenate([values, np.full((values.shape[0], extra), np.nan, values.dtype)], axis=1)


def clipped_modes(
    values: np.ndarray, *, sigma: float = 3.0, maxiters: int = 5, overwrite: bool = False
) -> ClippedModes:
    """Sigma-clipped SExtractor mode of every row of ``values``.

    Parameters
    ----------
    values
        2-D array (rows, samples); NaN marks missing samples. Not modified.
    sigma
        Clipping threshold in standard deviations about the median (both sides).
    maxiters
        Maximum clipping iterations; clipping stops early when no row changes.
    overwrite
        Sort ``values`` in place (when it is a temporary of the caller's) instead of a copy.

    Returns
    -------
    ClippedModes
        ``mode = 2.5 median − 1.5 mean`` where ``|mean − median| / std < 0.3``, the median
        where it is not, and the mean where ``std == 0`` (photutils' definition).
    """
    values = np.asarray(values)
    if values.ndim != 2:
        raise ValueError(f"values must be 2-D (rows, samples), got shape {values.shape}")
    n = values.shape[0]
    s = _pad(values)
    if overwrite and s is values and values.flags.c_contiguous and values.flags.writeable:
        s.sort(axis=1)
    else:
        s = np.sort(s, axis=1)
    rows = np.arange(n)
    # NaN sorts last and fails every comparison, so the first index whose value is not
    # <= +inf is the number of valid samples.
    nvalid = _search(s, np.full(n, s.shape[1]), np.full(n, np.inf), right=True)
    has = nvalid > 0
    mid_lo = np.where(has, (nvalid - 1) // 2, 0)
    ref = np.where(has, 0.5 * (s[rows, mid_lo] + s[rows, np.where(has, nvalid // 2, 0)]), 0).astype(
        s.dtype
    )
    # Work with d = x − (initial median) in place: small numbers keep the variance from
    # cancelling, and the sort order is unchanged.
    s -= ref[:, None]
    sums = _RangeSums(s)
    ref = ref.astype(np.float64)

    lo = np.zeros(n, dtype=np.int64)
    hi = nvalid.astype(np.int64)

    def stats(
        lo: np.ndarray, hi: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        cnt = hi - lo
        ok = cnt > 0
        a = np.where(ok, lo + (cnt - 1) // 2, 0)
        b = np.where(ok, lo + cnt // 2, 0)
        med = 0.5 * (s[rows, a].astype(np.float64) + s[rows, b]) + ref
        p1h, p2h = sums.prefix(hi)
        p1l, p2l = sums.prefix(lo)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean_d = (p1h - p1l) / cnt
            var = (p2h - p2l) / cnt - mean_d * mean_d
        std = np.sqrt(np.maximum(var, 0.0))
        return (
            np.where(ok, med, np.nan),
            np.where(ok, mean_d + ref, np.nan),
            np.where(ok, std, np.nan),
            cnt,
        )

    low = np.full(n, -np.inf)
    high = np.full(n, np.inf)
    for _ in range(maxiters):
        med, _mean, std, _cnt = stats(lo, hi)
        low = med - sigma * std
        high = med + sigma * std
        # count(x < low) and count(x <= high) = count(x < nextafter(high)) in one search.
        bounds = np.stack([low - ref, np.nextafter(high - ref, np.inf)])
        below, upto = _search(s, nvalid, bounds, right=False)
        new_lo = np.maximum(below, lo)
        new_hi = np.minimum(upto, hi)
        new_lo = np.where(has, new_lo, 0)
        new_hi = np.where(has, np.maximum(new_hi, new_lo), 0)
        changed = (new_lo != lo) | (new_hi != hi)
        lo, hi = new_lo, new_hi
        if not changed.any():
            break
    med, mean, std, cnt = stats(lo, hi)
    with np.errstate(invalid="ignore", divide="ignore"):
        skewed = np.abs(mean - med) / std >= 0.3
    mode = np.where(std == 0, mean, np.where(skewed, med, 2.5 * med - 1.5 * mean))
    return ClippedModes(mode, med, mean, std, low, high, cnt)
