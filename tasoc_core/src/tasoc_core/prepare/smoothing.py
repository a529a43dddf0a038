"""Temporal smoothing of the per-frame backgrounds.

The background of frame k is the mean of the (finite) unsmoothed backgrounds of the frames
whose mid-times lie within ``(w + ½)`` cadences of frame k, with ``w = time_smooth // 2``.
On a regular time grid that is the centred moving average over ``time_smooth`` frames of
the original pipeline; across data gaps and missing frames it does not reach further in
time than it would on the regular grid. Near the ends of the data the window shrinks
symmetrically, and next to a bad frame its mirror frame is left out too (the original
clipped windows on one side, which biases a background that trends in time). The default window spans 1.5 h, as the original's
3 frames at 1800 s and 9 at 600 s did; at 200 s that is 27 frames (the original had no
default there and crashed, tasoc_reference.md §17.2).
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "DEFAULT_SMOOTH_SPAN",
    "StreamingSmoother",
    "default_time_smooth",
    "smooth_backgrounds",
    "window_bounds",
]

#: Time span of the default smoothing window, seconds.
DEFAULT_SMOOTH_SPAN = 5400.0


def default_time_smooth(cadence: float) -> int:
    """Default window length in frames for a cadence in seconds (odd, at least 1)."""
    frames = max(1, round(DEFAULT_SMOOTH_SPAN / float(cadence)))
    return frames if frames % 2 else frames + 1


def window_bounds(
    times: np.ndarray, time_smooth: int, cadence: float
) -> tuple[np.ndarray, np.ndarray]:
    """First and last (inclusive) frame index of every frame's smoothing window.

    Where the window is cut by the start or end of the data (or a gap), it is shortened
    on the other side too, so it stays centred and a linear trend is not biased there; the
    bounds are then made non-decreasing (the streaming smoother needs that).
    """
    times = np.asarray(times, dtype=float)
    half = (time_smooth // 2 + 0.5) * cadence / 86400.0
    first = np.searchsorted(times, times - half, side="left")
    last = np.searchsorted(times, times + half, side="right") - 1
    k = np.arange(len(times))
    first_c = np.maximum.accumulate(np.maximum(first, 2 * k - last))
    last_c = np.maximum.accumulate(np.minimum(last, 2 * k - first))
    return np.minimum(first_c, k), np.maximum(last_c, k)


class StreamingSmoother:
    """Smooth backgrounds that arrive one frame at a time, in frame order.

    Keeps a running sum over the current window, so each frame is added and removed once
    whatever the window length, and holds only the frames of one window in memory.

    Parameters
    ----------
    first, last
        Window bounds per frame (:func:`window_bounds`).
    start
        First frame whose smoothed background is wanted; frames from ``first[start]`` on
        must be pushed.
    """

    def __init__(self, first: np.ndarray, last: np.ndarray, start: int = 0) -> None:
        self._first = np.asarray(first)
        self._last = np.asarray(last)
        self._next = start  # next frame to emit
        self._held: dict[int, np.ndarray] = {}
        self._sum: np.ndarray | None = None
        self._count: np.ndarray | None = None
        self._lo = int(self._first[start]) if len(self._first) else 0  # window in the sum: [lo, hi)
        self._hi = self._lo
        self._pushed = self._lo - 1

    @property
    def first_needed(self) -> int:
        """Index of the first frame that must be pushed."""
        return self._lo

    def push(
        self, index: int, background: np.ndarray | None
    ) -> list[tuple[int, np.ndarray | None]]:
        """Add frame ``index``; return the (index, smoothed background) pairs now complete.

        The smoothed background is None while no frame of the window had a background.

        ``background`` is None for a frame without one (a bad frame): it does not count.
        """
        if index != self._pushed + 1:
            raise ValueError(
                f"frames must be pushed in order: expected {self._pushed + 1}, got {index}"
            )
        self._pushed = index
        self._held[index] = None if background is None else np.asarray(background, dtype=np.float32)
        out = []
        n = len(self._first)
        while self._next < n and self._last[self._next] <= self._pushed:
            out.append((self._next, self._emit(self._next)))
            self._next += 1
        return out

    def _emit(self, k: int) -> np.ndarray | None:
        lo, hi = int(self._first[k]), int(self._last[k]) + 1
        while self._hi < hi:
            self._add(self._held[self._hi], +1)
            self._hi += 1
        while self._lo < lo:
            self._add(self._held.pop(self._lo), -1)
            self._lo += 1
        if self._sum is None or self._count is None:
            return None
        if any(self._held[j] is None for j in range(lo, hi)):
            return self._symmetric(k, lo, hi)
        out = np.empty(self._sum.shape, dtype=np.float32)
        with np.errstate(invalid="ignore", divide="ignore"):
            # Sums are exactly 0 where the count is 0 (see _add): 0/0 gives the NaN wanted.
            np.divide(self._sum, self._count, out=out, casting="same_kind")
        return out

    def _symmetric(self, k: int, lo: int, hi: int) -> np.ndarray | None:
        """Mean over the window without bad frames, dropping their mirror frames too.

        Keeping the window centred on frame k means a background trending in time is not
        biased next to a bad frame (only pairs k−j, k+j that both exist are averaged).
        """
        frames = [self._held[k]] if self._held[k] is not None else []
        for j in range(1, max(k - lo, hi - 1 - k) + 1):
            a = self._held.get(k - j) if k - j >= lo else None
            b = self._held.get(k + j) if k + j < hi else None
            if a is not None and b is not None:
                frames.extend((a, b))
        if not frames:
            return None
        stack = np.stack(frames)
        finite = np.isfinite(stack)
        count = finite.sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(finite, stack, 0.0).sum(axis=0, dtype=np.float64) / count
        return np.where(count > 0, mean, np.nan).astype(np.float32)

    def _add(self, background: np.ndarray | None, sign: int) -> None:
        if background is None:
            return
        if self._sum is None:
            self._sum = np.zeros(background.shape, dtype=np.float64)
            self._count = np.zeros(background.shape, dtype=np.int32)
        assert self._count is not None
        finite = np.isfinite(background)
        if finite.all():
            # The usual case (estimators return finite backgrounds): no masked arithmetic.
            if sign > 0:
                self._sum += background
                self._count += 1
            else:
                self._sum -= background
                self._count -= 1
                if self._count.min() == 0:
                    np.copyto(self._sum, 0.0, where=self._count == 0)
            return
        if sign > 0:
            np.add(self._sum, background, out=self._sum, where=finite)
            self._count += finite
        else:
            np.subtract(self._sum, background, out=self._sum, where=finite)
            self._count -= finite
            # Where no frame is left, restart from an exact zero (no rounding residue).
            np.copyto(self._sum, 0.0, where=self._count == 0)


def smooth_backgrounds(
    backgrounds: np.ndarray, times: np.ndarray, time_smooth: int, cadence: float
) -> np.ndarray:
    """Smooth a whole (T, rows, cols) cube at once (for tests and small data)."""
    first, last = window_bounds(times, time_smooth, cadence)
    smoother = StreamingSmoother(first, last)
    out = np.empty(backgrounds.shape, dtype=np.float32)
    for k in range(len(times)):
        for index, smoothed in smoother.push(k, backgrounds[k]):
            out[index] = np.nan if smoothed is None else smoothed
    return out
