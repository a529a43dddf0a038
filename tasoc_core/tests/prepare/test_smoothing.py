"""Temporal smoothing of the backgrounds: windows, streaming equals brute force, resume."""

from __future__ import annotations

import numpy as np
import pytest

from tasoc_core.prepare.smoothing import (
    StreamingSmoother,
    default_time_smooth,
    smooth_backgrounds,
    window_bounds,
)


@pytest.mark.parametrize(
    ("cadence", "frames"), [(1800, 3), (600, 9), (200, 27), (120, 45), (20, 271), (5400, 1)]
)
def test_default_window_spans_one_and_a_half_hours(cadence: int, frames: int) -> None:
    assert default_time_smooth(cadence) == frames
    assert default_time_smooth(cadence) % 2 == 1


def test_window_bounds_regular_ends_and_gaps() -> None:
    step = 1800 / 86400
    t = np.arange(12) * step
    first, last = window_bounds(t, 5, 1800)
    k = np.arange(12)
    inner = slice(2, 10)
    np.testing.assert_array_equal(first[inner], k[inner] - 2)
    np.testing.assert_array_equal(last[inner], k[inner] + 2)
    # Ends: shortened symmetrically (centred windows).
    assert (first[0], last[0]) == (0, 0)
    assert (first[1], last[1]) == (0, 2)
    assert (first[11], last[11]) == (11, 11)
    # A gap of 10 cadences: no window reaches across it.
    t_gap = np.concatenate([np.arange(6), np.arange(16, 22)]) * step
    first, last = window_bounds(t_gap, 5, 1800)
    assert last[5] == 5
    assert first[6] == 6
    assert np.all(np.diff(first) >= 0)
    assert np.all(np.diff(last) >= 0)


def _brute(backgrounds: np.ndarray, first: np.ndarray, last: np.ndarray) -> np.ndarray:
    out = np.empty_like(backgrounds)
    for k in range(len(first)):
        window = backgrounds[first[k] : last[k] + 1]
        finite = np.isfinite(window)
        count = finite.sum(axis=0)
        total = np.where(finite, window, 0.0).sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[k] = np.where(count > 0, total / count, np.nan)
    return out


def test_streaming_smoother_equals_brute_force_with_gaps_and_bad_frames() -> None:
    rng = np.random.default_rng(4)
    step = 600 / 86400
    t = np.cumsum(rng.choice([1, 1, 1, 2, 7], size=60)) * step  # missing frames and gaps
    cube = rng.normal(100, 5, size=(60, 4, 5)).astype(np.float32)
    cube[10] = np.nan  # a bad frame
    cube[20, 1, 2] = np.nan  # one masked pixel
    first, last = window_bounds(t, 9, 600)
    expected = _brute(cube.astype(np.float64), first, last)
    np.testing.assert_allclose(smooth_backgrounds(cube, t, 9, 600), expected, rtol=1e-6)
    # A bad frame given as None is left out together with its mirror frame in each window.
    smoother = StreamingSmoother(first, last)
    got = {}
    for k in range(60):
        for i, value in smoother.push(k, None if k == 10 else cube[k]):
            got[i] = value
    assert sorted(got) == list(range(60))
    untouched = [k for k in range(60) if not first[k] <= 10 <= last[k]]
    np.testing.assert_allclose(
        np.stack([got[i] for i in untouched]), expected[untouched], rtol=1e-6
    )
    k = next(k for k in range(11, 60) if first[k] <= 10 <= last[k])
    pairs = [
        j
        for j in range(1, 5)
        if first[k] <= k - j and k + j <= last[k] and 10 not in (k - j, k + j)
    ]
    manual = np.mean([cube[k]] + [cube[k + s * j] for j in pairs for s in (-1, 1)], axis=0)
    np.testing.assert_allclose(got[k], manual, rtol=1e-6)


def test_bad_frames_do_not_bias_a_trend() -> None:
    t = np.arange(20) * 1800 / 86400
    trend = (100 + 5 * np.arange(20.0))[:, None, None] * np.ones((1, 2, 2))
    first, last = window_bounds(t, 5, 1800)
    smoother = StreamingSmoother(first, last)
    out = {}
    for k in range(20):
        out.update(dict(smoother.push(k, None if k in (6, 13) else trend[k])))
    for k in range(20):
        if k not in (6, 13):
            np.testing.assert_allclose(out[k], trend[k], rtol=1e-6, err_msg=str(k))


def test_streaming_smoother_resumes_mid_way() -> None:
    rng = np.random.default_rng(8)
    t = np.arange(40) * 1800 / 86400
    cube = rng.normal(50, 3, size=(40, 3, 3))
    first, last = window_bounds(t, 3, 1800)
    full = smooth_backgrounds(cube, t, 3, 1800)
    start = 17
    smoother = StreamingSmoother(first, last, start)
    assert smoother.first_needed == first[start] == 16
    out = {}
    for k in range(smoother.first_needed, 40):
        out.update(dict(smoother.push(k, cube[k])))
    assert min(out) == start
    np.testing.assert_allclose(
        np.stack([out[i] for i in range(start, 40)]), full[start:], rtol=1e-6
    )
    with pytest.raises(ValueError, match="in order"):
        smoother.push(3, cube[3])


def test_linear_trend_is_preserved_everywhere() -> None:
    t = np.arange(30) * 200 / 86400
    trend = (10 + 3 * np.arange(30, dtype=np.float64))[:, None, None] * np.ones((1, 2, 2))
    out = smooth_backgrounds(trend.astype(np.float32), t, default_time_smooth(200), 200)
    np.testing.assert_allclose(out, trend, rtol=1e-5)
