"""The sector's clock: cadences, the downlink gap, momentum dumps, coarse pointing, jitter.

Times are spacecraft times in TDB on the BTJD scale (JD − 2457000; JD doubles would only
resolve ~40 µs). Everything that varies faster than an FFI is generated on a 20-s *base
grid* covering the sector and block-averaged into any cadence (20, 120, 200, 600 or
1800 s are all whole multiples of it), so an FFI and a TPF see the same pointing.
"""

from __future__ import annotations

import attrs
import numpy as np

from tasoc_core.flags import TESS_QUALITY

__all__ = ["BASE_STEP", "CadenceGrid", "Timeline", "build_timeline", "cadence_number"]

#: Base-grid step (s).
BASE_STEP = 20
_DAY = 86400.0
# Cadence numbers follow the real mission's counter: FFI cadence 4697 was the first 30-min
# FFI of sector 1, at spacecraft time TJD 1325.3274 - 0.0039 (tasoc_reference.md §4.1).
_CADENCE_T0_TJD = 0.5 * (1325.317007851970 + 1325.337841177751) - 3.9072474e-3
_CADENCE_N0_1800 = 4697

_DESAT = TESS_QUALITY["Desat"]
_COARSE = TESS_QUALITY["CoarsePoint"]
_EARTH = TESS_QUALITY["EarthPoint"]
_MANUAL = TESS_QUALITY["ManualExclude"]
_STRAY = TESS_QUALITY["Straylight"]
_COSMIC = TESS_QUALITY["ApertureCosmic"]
_IMPULSIVE = TESS_QUALITY["ImpulsiveOutlier"]


def cadence_number(mid_btjd: np.ndarray, cadence: int) -> np.ndarray:
    """Mission-like cadence counter of mid-exposure spacecraft times (BTJD scale)."""
    tjd = np.asarray(mid_btjd, dtype=np.float64)
    n0 = _CADENCE_N0_1800 * 1800 // cadence
    return np.round((tjd - _CADENCE_T0_TJD) * _DAY / cadence).astype(np.int64) + n0


@attrs.frozen(eq=False)
class CadenceGrid:
    """Cadences of one kind (FFI or TPF) over the sector.

    Attributes
    ----------
    cadence
        Seconds per cadence.
    start, stop, mid
        Spacecraft times (TDB, BTJD scale) of each cadence.
    in_gap
        True for cadences inside the downlink gap (no data; FFIs omit them).
    base_index
        Index of each cadence's first base-grid bin.
    cadenceno
        Mission-like cadence counter.
    """

    cadence: int
    start: np.ndarray
    stop: np.ndarray
    mid: np.ndarray
    in_gap: np.ndarray
    base_index: np.ndarray
    cadenceno: np.ndarray

    @property
    def size(self) -> int:
        return int(self.mid.size)

    def average(self, base: np.ndarray) -> np.ndarray:
        """Block-average base-grid series (…, N_base) into this grid's cadences."""
        n = self.cadence // BASE_STEP
        idx = self.base_index[:, None] + np.arange(n)[None, :]
        return np.asarray(base)[..., idx].mean(axis=-1)

    def overlaps(self, lo: float, hi: float) -> np.ndarray:
        """Cadences whose exposure overlaps [lo, hi)."""
        return (self.stop > lo) & (self.start < hi)

    def within(self, lo: float, hi: float) -> np.ndarray:
        """Cadences whose exposure lies entirely inside [lo, hi]."""
        return (self.start >= lo) & (self.stop <= hi)

    def containing(self, t: float) -> int:
        """Index of the cadence whose exposure contains time ``t``."""
        return int(np.clip(np.searchsorted(self.start, t, side="right") - 1, 0, self.size - 1))


@attrs.frozen(eq=False)
class Timeline:
    """Spacecraft time line of a simulated sector.

    Attributes
    ----------
    start, stop
        First and last instant of data (spacecraft TDB, BTJD scale).
    gap
        (start, stop) of the mid-sector downlink gap.
    dumps
        Times of momentum dumps.
    coarse
        (start, stop) of the coarse-pointing episode.
    base_time
        Mid-times of the 20-s base grid.
    jitter
        (2, N_base) pointing offset (Δrow, Δcol) in pixels on the base grid.
    focus
        (N_base,) PRF width scale on the base grid (1 = nominal focus of the PRF files).
    """

    start: float
    stop: float
    gap: tuple[float, float]
    dumps: np.ndarray
    coarse: tuple[float, float]
    base_time: np.ndarray
    jitter: np.ndarray
    focus: np.ndarray

    def grid(self, cadence: int, *, keep_gap: bool = False) -> CadenceGrid:
        """Cadences of ``cadence`` seconds; gap cadences are dropped unless ``keep_gap``."""
        if cadence % BASE_STEP or (1800 % cadence and cadence % 1800):
            raise ValueError(
                f"cadence {cadence} s is not a multiple of {BASE_STEP} s dividing 1800 s"
            )
        n = cadence // BASE_STEP
        count = self.base_time.size // n
        base_index = np.arange(count) * n
        start = self.start + base_index * BASE_STEP / _DAY
        stop = start + cadence / _DAY
        in_gap = (stop > self.gap[0]) & (start < self.gap[1])
        keep = np.ones(count, dtype=bool) if keep_gap else ~in_gap
        mid = 0.5 * (start + stop)
        return CadenceGrid(
            cadence=cadence,
            start=start[keep],
            stop=stop[keep],
            mid=mid[keep],
            in_gap=in_gap[keep],
            base_index=base_index[keep],
            cadenceno=cadence_number(mid[keep], cadence),
        )

    def quality(
        self,
        grid: CadenceGrid,
        *,
        full: bool,
        scattered: np.ndarray | None = None,
        rng: np.random.Generator | None = None,
    ) -> np.ndarray:
        """SPOC quality flags of each cadence.

        FFIs (``full=False``) get Desat at the cadence holding a dump and CoarsePoint on
        frames lying entirely inside the coarse-pointing episode. TPFs (``full=True``)
        also get CoarsePoint on every cadence overlapping it, Earth point + manual exclude
        in the gap, Straylight where the scattered light is strong (``scattered`` > 0.5
        of its maximum) and a sprinkling of cosmic-ray and impulsive-outlier flags.
        """
        q = np.zeros(grid.size, dtype=np.int32)
        for t in self.dumps:
            i = grid.containing(float(t))
            if grid.start[i] <= t < grid.stop[i]:
                q[i] |= _DESAT
        if full:
            q[grid.overlaps(*self.coarse)] |= _COARSE
            q[grid.in_gap] |= _EARTH | _MANUAL
            if scattered is not None and np.max(scattered) > 0:
                q[scattered > 0.5 * np.max(scattered)] |= _STRAY
            if rng is not None:
                q[rng.random(grid.size) < 2e-3] |= _COSMIC
                q[rng.random(grid.size) < 5e-4] |= _IMPULSIVE
        else:
            q[grid.within(*self.coarse)] |= _COARSE
        return q


def _smooth_noise(
    rng: np.random.Generator, t_days: np.ndarray, periods: np.ndarray, amp: float
) -> np.ndarray:
    phases = rng.uniform(0, 2 * np.pi, periods.size)
    weights = rng.normal(0, 1, periods.size)
    out = np.sin(2 * np.pi * t_days[:, None] / periods[None, :] + phases[None, :]) @ weights
    return amp * out / max(np.std(out), 1e-12)


def build_timeline(start_jd: float, orbit_days: float, gap_days: float, dump_interval_days: float,
                   coarse_days: float, rng: np.random.Generator) -> Timeline:  # fmt: skip
    """Generate the time line of a sector starting at ``start_jd`` (spacecraft TDB, BTJD scale).

    The sector is two orbits of ``orbit_days`` around a ``gap_days`` downlink gap, rounded to
    whole 30-min cadences. Momentum dumps come every ``dump_interval_days`` in each orbit;
    one coarse-pointing episode of ``coarse_days`` sits a third into the second orbit.

    Jitter is a smooth drift (~0.01 px) plus 20-s noise (0.02 px), a pointing step after
    each dump that relaxes over ~1.5 h (the neighbouring cadences are disturbed, only the
    dump cadence is flagged), and a ~0.4-px random walk during coarse pointing.
    """
    n_orbit = round(orbit_days * _DAY / 1800)
    n_gap = max(1, round(gap_days * _DAY / 1800))
    n_total = (2 * n_orbit + n_gap) * (1800 // BASE_STEP)
    base_time = start_jd + (np.arange(n_total) + 0.5) * BASE_STEP / _DAY
    stop = start_jd + n_total * BASE_STEP / _DAY
    gap = (start_jd + n_orbit * 1800 / _DAY, start_jd + (n_orbit + n_gap) * 1800 / _DAY)
    orbits = [(start_jd, gap[0]), (gap[1], stop)]

    dumps = []
    for lo, hi in orbits:
        t = lo + 0.5 * dump_interval_days + rng.uniform(-0.05, 0.05)
        while t < hi - 0.05:
            dumps.append(t)
            t += dump_interval_days
    dumps_arr = np.array(dumps)
    o2 = orbits[1]
    c0 = o2[0] + (o2[1] - o2[0]) / 3.0
    # Start the episode half-way into a 30-min frame so its first and last frames are
    # only partly affected (FFIs flag only the frames fully inside it).
    c0 = start_jd + (np.floor((c0 - start_jd) * 48) + 0.5) / 48
    coarse = (c0, c0 + coarse_days)

    t = base_time - start_jd
    periods = np.array([0.37, 0.81, 1.9, 4.3, 9.7])
    jitter = np.stack([_smooth_noise(rng, t, periods, 0.01), _smooth_noise(rng, t, periods, 0.01)])
    jitter += rng.normal(0, 0.02, jitter.shape)
    for td in dumps_arr:
        after = base_time >= td
        dt = (base_time[after] - td) * 24.0  # hours
        step = rng.normal(0, 0.06, 2)
        jitter[:, after] += step[:, None] * np.exp(-dt / 1.5)[None, :]
        during = np.abs(base_time - td) < 40.0 / _DAY
        jitter[:, during] += rng.normal(0, 0.25, (2, int(during.sum())))
    inside = (base_time >= coarse[0]) & (base_time < coarse[1])
    if inside.any():
        walk = np.cumsum(rng.normal(0, 0.04, (2, int(inside.sum()))), axis=1)
        jitter[:, inside] += np.clip(walk, -0.6, 0.6)

    phase = 2 * np.pi * (base_time - start_jd) / (orbit_days + 0.5 * gap_days)
    focus = 1.0 + 0.012 * np.sin(phase + rng.uniform(0, 2 * np.pi)) + 0.004 * (t / t[-1])
    return Timeline(
        start=start_jd,
        stop=stop,
        gap=gap,
        dumps=dumps_arr,
        coarse=coarse,
        base_time=base_time,
        jitter=jitter,
        focus=focus,
    )
