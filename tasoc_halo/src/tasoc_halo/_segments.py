"""Splitting a sector into segments (orbits) that get their own weight maps.

The pointing and focus of TESS change across the data-downlink gap between orbits, so the
best pixel weights differ. The original pipeline used hand-made split times for some
sectors and otherwise one automatic split when exactly one gap > 0.5 d lay in the middle
of the data. Here the sector is split at its largest gaps: every gap of at least
``min_gap`` days between usable cadences is a candidate, largest first, and is accepted
when both sides keep at least ``min_cadences`` usable cadences. A two-orbit sector splits
once at the orbit gap; sectors with more, or longer, interruptions split more often.
"""

from __future__ import annotations

import numpy as np

__all__ = ["split_segments"]


def split_segments(
    time: np.ndarray,
    usable: np.ndarray,
    *,
    min_gap: float = 0.5,
    min_cadences: int = 100,
) -> np.ndarray:
    """Segment index (0, 1, …) of every cadence.

    Parameters
    ----------
    time
        Cadence times (days), in cadence order; may contain NaN.
    usable
        Cadences used to fit the weights (good quality, finite data).
    min_gap
        Smallest gap (days) between consecutive usable cadences to split at.
    min_cadences
        Usable cadences each segment must keep.

    Returns
    -------
    numpy.ndarray
        Integer segment index per cadence. A split between usable cadences *a* and *b*
        falls at the middle of the gap in time, so unusable cadences inside a gap go to the
        nearer side.
    """
    time = np.asarray(time, dtype=float)
    idx = np.flatnonzero(np.asarray(usable, dtype=bool) & np.isfinite(time))
    segment = np.zeros(len(time), dtype=int)
    if len(idx) < 2:
        return segment
    gaps = np.diff(time[idx])
    cuts: list[int] = []  # positions in idx after which a segment ends
    for g in np.argsort(gaps)[::-1]:
        if gaps[g] < min_gap:
            break
        edges = np.array(sorted([*cuts, int(g)]))
        sizes = np.diff(np.concatenate([[-1], edges, [len(idx) - 1]]))
        if sizes.min() >= min_cadences:
            cuts = edges.tolist()
    for cut in cuts:
        a, b = idx[cut], idx[cut + 1]
        middle = 0.5 * (time[a] + time[b])
        between = np.arange(a + 1, b)
        later = between[~(time[between] < middle)]  # NaN times go with the later side
        start = int(later[0]) if len(later) else b
        segment[start:] += 1
    return segment
