"""Finding the saturated pixels of a bright star: the iterative TV-min rule (paper 003 §5.2).

Saturated pixels hold their full well whatever the star does, so they carry almost no total
variation and TV-min gives them most of the weight — which flattens the star's own signal
out of the light curve. Following paper 003 §5.2, pixels are discarded one at a time, from
the brightest down, across a conservative range of candidate numbers of saturated pixels;
TV-min is run on what is left after each discard, and the number of saturated pixels is
where the standard deviation of the resulting light curve jumps up (the last pixel that
could keep the light curve flat is gone).

Implementation choices (measured on the synthetic saturated stars of
:mod:`tasoc_halo.testing`):

* Pixels are ranked by a high percentile of their time series (the 98th), not by their
  median: pixels that the jitter pushes to full well only part of the time have medians
  well below full well but peaks at it, and left in they halved an injected oscillation.
* A saturated star shows a *plateau*: several pixels whose medians lie within
  ``ceiling_tolerance`` of the brightest. The plateau's level is the full well; every pixel
  whose peak reaches it is saturated at least part of the time, and the scan starts after
  them. Without this a quiet star (no signal for the scatter to jump on) kept its
  saturated pixels.
* The scatter also jumps when other constant light leaves the set (a neighbour's core, the
  jitter-sensitive core of an unsaturated star), so a jump only discards pixels that look
  saturated. Beside a plateau, those whose peak reaches ``partial_level`` (75 %) of its
  level: a Tmag 8 neighbour 13 px from a Tmag 3 star made the scatter jump threefold.
  Without a plateau, the discarded pixels must share one peak level (interquartile range
  ≤ ``max_spread``, 10 %, of the median): removing the core of an *unsaturated* Tmag 7
  star made the scatter jump 11-fold, and its four brightest pixels spread by 19 %
  (saturated pixels spread by their full-well differences, about 3 % in the π Men cutout).
* The scan ends at the larger of the number of pixels whose peak exceeds half the
  brightest median and ``range_factor`` × the number of pixels the star's flux could fill
  to full well (charge conservation), so it brackets the answer from above.
* Each TV-min run of the scan uses the brightest remaining pixels only, at most
  ``pixels_per_cadence`` per cadence: with more free weights than that, TV-min starts to fit
  the noise (see the README). The runs are warm-started from the previous one, use
  time-binned pixels (at most ``scan_cadences`` bins) and a reduced iteration limit: the
  scatter is needed to a few per cent only.
"""

from __future__ import annotations

import logging

import attrs
import numpy as np

from tasoc_halo._optimise import tv_min

__all__ = ["SaturationScan", "find_saturated"]

logger = logging.getLogger(__name__)


@attrs.frozen(kw_only=True)
class SaturationScan:
    """Result of :func:`find_saturated`.

    Attributes
    ----------
    saturated
        Boolean array (N,) of the input pixels found saturated.
    order
        Pixel indices from the brightest peak down (the discard order).
    n_saturated
        Number of saturated pixels.
    n_plateau
        Pixels discarded before the scan because their peak reached the plateau level.
    full_well
        Plateau level (e-/s), or NaN when the pixels show no plateau.
    scan_start, scan_stop
        Range of discard counts scanned (inclusive); ``scan_stop < scan_start`` when no scan
        was run.
    scatter
        Standard deviation of the TV-min light curve after each discard count of the scan.
    jump
        Largest ratio of consecutive scatters in the scan (1 if none).
    jump_at_end
        True if that jump was accepted at the last step of the scan: the range may have been
        too short.
    """

    saturated: np.ndarray
    order: np.ndarray
    n_saturated: int
    n_plateau: int
    full_well: float
    scan_start: int
    scan_stop: int
    scatter: np.ndarray
    jump: float
    jump_at_end: bool


def _binned(
    pixels: np.ndarray, segments: np.ndarray, max_cadences: int
) -> tuple[np.ndarray, np.ndarray]:
    """Average consecutive cadences within each segment to at most ~``max_cadences`` rows.

    Returns the binned pixels and the segment index of every bin.
    """
    factor = max(1, int(np.ceil(pixels.shape[0] / max_cadences)))
    if factor == 1:
        return pixels, segments
    parts, labels = [], []
    for seg in np.unique(segments):
        block = pixels[segments == seg]
        n = block.shape[0] // factor * factor
        if n:
            parts.append(block[:n].reshape(-1, factor, block.shape[1]).mean(axis=1))
            labels.append(np.full(n // factor, seg))
    if not parts:
        return pixels, segments
    return np.concatenate(parts), np.concatenate(labels)


def _shares_ceiling(peaks: np.ndarray, max_spread: float) -> bool:
    """True if the peaks share one level, as the pixels of a saturated run do.

    Four or more pixels: interquartile range ≤ ``max_spread`` × median; two or three: full
    range ≤ 2 ``max_spread`` × median. A single pixel is not enough to tell a saturated
    pixel from the peak of an unsaturated star.
    """
    if len(peaks) < 2:
        return False
    if len(peaks) < 4:
        return bool(np.ptp(peaks) <= 2.0 * max_spread * np.median(peaks))
    q1, q2, q3 = np.percentile(peaks, [25, 50, 75])
    return bool(q3 - q1 <= max_spread * q2)


def _scatter(flux: np.ndarray, segments: np.ndarray) -> float:
    """Pooled standard deviation of the light curve normalised per segment."""
    rel = np.empty_like(flux)
    for seg in np.unique(segments):
        sel = segments == seg
        rel[sel] = flux[sel] / np.mean(flux[sel]) - 1.0
    return float(np.std(rel))


def find_saturated(
    pixels: np.ndarray,
    *,
    expected_flux: float,
    segments: np.ndarray | None = None,
    min_pixels: int = 10,
    jump_threshold: float = 3.0,
    ceiling_tolerance: float = 0.05,
    min_plateau: int = 3,
    max_spread: float = 0.1,
    partial_level: float = 0.75,
    range_factor: float = 1.5,
    scan_cadences: int = 256,
    scan_maxiter: int = 100,
    pixels_per_cadence: float = 0.1,
    objective: str = "tv",
    lag: int = 1,
    smoothing: float = 0.01,
) -> SaturationScan:
    """Find the saturated pixels among candidate halo pixels.

    Parameters
    ----------
    pixels
        Pixel matrix (T, N) of the fit cadences, finite, every pixel with a positive mean.
    expected_flux
        Expected total flux of the star, e-/s (from its magnitude); bounds the number of
        pixels its charge can fill.
    segments
        Segment index of every cadence (light curves are normalised per segment when their
        scatter is measured); default one segment.
    min_pixels
        Never discard so many that fewer than this many pixels remain.
    jump_threshold
        Smallest ratio of consecutive scatters that counts as the jump.
    ceiling_tolerance
        Relative width of the plateau of saturated pixel levels.
    min_plateau
        Pixels needed within ``ceiling_tolerance`` of the brightest median to call it a
        plateau (a PSF peak alone may share its level with one or two neighbours).
    max_spread
        Without a plateau, a jump is accepted only if the pixels it discards share a
        ceiling: the interquartile range of their peaks at most this fraction of their
        median.
    partial_level
        With a plateau, the scan's jump discards only the pixels whose peak reaches this
        fraction of the plateau level.
    range_factor
        Upper end of the scan relative to the charge-conservation estimate.
    scan_cadences, scan_maxiter
        Time bins and L-BFGS-B iterations of each TV-min run of the scan.
    pixels_per_cadence
        Each TV-min run of the scan uses the brightest remaining pixels, at most this many
        per time bin (more free weights than this fit the noise).
    objective, lag, smoothing
        Passed to :func:`~tasoc_halo._optimise.tv_min`.

    Returns
    -------
    SaturationScan
    """
    p = np.asarray(pixels, dtype=np.float64)
    t, n = p.shape
    seg = np.zeros(t, dtype=int) if segments is None else np.asarray(segments)
    level = np.median(p, axis=0)
    peak = np.percentile(p, 98.0, axis=0)
    order = np.lexsort((-level, -peak))  # brightest peak first; ties by median
    top = float(level.max())
    plateau = level >= (1.0 - ceiling_tolerance) * top
    if plateau.sum() >= min_plateau:
        full_well = float(np.median(level[plateau]))
        n_plateau = int(np.sum(peak >= (1.0 - ceiling_tolerance) * full_well))
    else:
        full_well, n_plateau = float("nan"), 0
    estimate = expected_flux / top if top > 0 else 0.0
    start = n_plateau
    stop = max(start, int(np.sum(peak >= 0.5 * top)), int(np.ceil(range_factor * estimate)))
    stop = min(stop, n - min_pixels)
    scatter: list[float] = []
    if stop > start:
        binned, bseg = _binned(p, seg, scan_cadences)
        width = max(min_pixels, int(pixels_per_cadence * binned.shape[0]))
        weights = None
        for k in range(start, stop + 1):
            res = tv_min(
                binned[:, order[k : k + width]],
                objective=objective,  # type: ignore[arg-type]
                lag=lag,
                smoothing=smoothing,
                maxiter=scan_maxiter,
                rtol=1e-2,
                window=10,
                weights_init=weights,
            )
            scatter.append(_scatter(res.flux, bseg))
            # Warm start: the next run drops the first pixel and adds the next brightest.
            weights = np.clip(res.weights[1:], 1e-9, None)
            if k + width < n:
                weights = np.append(weights, np.median(weights))
    ratios = np.array(scatter[1:]) / np.maximum(np.array(scatter[:-1]), 1e-300)
    saturated = np.zeros(n, dtype=bool)
    saturated[order[:n_plateau]] = True
    jump, at_end = (float(ratios.max()) if ratios.size else 1.0), False
    for j in np.argsort(ratios)[::-1]:
        if ratios[j] < jump_threshold:
            break
        found = order[start : start + int(j) + 1]
        if np.isfinite(full_well):
            # Beside a plateau, only pixels whose peak reaches near the full well are
            # saturated; the others made the scatter jump for another reason (typically
            # a neighbour's constant light) and are left to the neighbour masking.
            found = found[peak[found] >= partial_level * full_well]
        elif not _shares_ceiling(peak[order[: start + int(j) + 1]], max_spread):
            found = found[:0]
        if found.size:
            saturated[found] = True
            jump, at_end = float(ratios[j]), bool(j == ratios.size - 1)
            break
    n_sat = int(saturated.sum())
    logger.debug(
        "saturation: plateau %d px at %.4g e-/s, scan %d..%d, jump %.2f, %d saturated",
        n_plateau, full_well, start, stop, jump, n_sat,
    )  # fmt: skip
    return SaturationScan(
        saturated=saturated,
        order=order,
        n_saturated=n_sat,
        n_plateau=n_plateau,
        full_well=full_well,
        scan_start=start,
        scan_stop=stop,
        scatter=np.array(scatter),
        jump=jump,
        jump_at_end=at_end,
    )
