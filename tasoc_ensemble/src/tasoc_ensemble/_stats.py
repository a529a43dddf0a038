"""Per-star statistics for ensemble membership, prepared once and cached per worker."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable

import attrs
import numpy as np

from tasoc_core.families import LightCurve
from tasoc_core.flags import CBV_BITMASK, QUALITY

__all__ = ["PreparedLightCurve", "StatsCache", "prepare_light_curve"]

#: tasoc QUALITY bits whose cadences are left out (FlaggedBadData, ManualExclude).
_BAD = QUALITY.mask(["FlaggedBadData", "ManualExclude"])


@attrs.frozen(eq=False)
class PreparedLightCurve:
    """A light curve reduced to what the ensemble needs.

    Attributes
    ----------
    starid
        TIC identifier.
    cadenceno
        Cadence numbers (shared between stars when equal, to save memory).
    flux
        Raw flux (e-/s) with excluded cadences set to NaN: non-finite, tasoc QUALITY
        FlaggedBadData or ManualExclude, or SPOC SafeMode/EarthPoint/Desat/ManualExclude.
    median
        Median of the usable flux (NaN when there is none or it is not positive).
    frange
        (95th − 5th percentile) / median: how variable the star is.
    drange
        Standard deviation of the first differences / median: its point-to-point noise.
    ngood
        Number of usable cadences.
    """

    starid: int
    cadenceno: np.ndarray
    flux: np.ndarray
    median: float
    frange: float
    drange: float
    ngood: int

    @property
    def valid(self) -> bool:
        return bool(np.isfinite(self.median) and self.ngood >= 3)


def prepare_light_curve(lc: LightCurve, cadenceno: np.ndarray | None = None) -> PreparedLightCurve:
    """Mask bad cadences and compute median, frange and drange (paper 004 §3.2.1).

    ``cadenceno``, if equal to the light curve's cadence numbers, is stored instead of them,
    so that stars of one CCD share one array.
    """
    flux = np.array(lc.flux, dtype=np.float64)
    bad = ~np.isfinite(flux) | ((lc.quality & _BAD) != 0) | ((lc.pixel_quality & CBV_BITMASK) != 0)
    flux[bad] = np.nan
    good = flux[~bad]
    cad = np.asarray(lc.cadenceno, dtype=np.int64)
    if cadenceno is not None and len(cadenceno) == len(cad) and np.array_equal(cadenceno, cad):
        cad = cadenceno
    median = float(np.median(good)) if len(good) else np.nan
    if not median > 0:
        return PreparedLightCurve(lc.target.starid, cad, flux, np.nan, np.nan, np.nan, len(good))
    p5, p95 = np.percentile(good, [5, 95])
    drange = float(np.std(np.diff(good)) / median) if len(good) > 2 else np.nan
    return PreparedLightCurve(
        starid=lc.target.starid,
        cadenceno=cad,
        flux=flux,
        median=median,
        frange=float((p95 - p5) / median),
        drange=drange,
        ngood=len(good),
    )


def cache_key(lc: LightCurve) -> Hashable:
    """Identity of a light curve: the same star, sector, cadence, source and photometry."""
    t = lc.target
    return (t.starid, t.sector, t.cadence, t.datasource, lc.method, t.priority)


class StatsCache:
    """Least-recently-used cache of prepared light curves.

    Parameters
    ----------
    size
        Maximum number of entries.
    prepare
        How an entry is made (counted in :attr:`prepared`).
    """

    def __init__(
        self, size: int, prepare: Callable[..., PreparedLightCurve] = prepare_light_curve
    ) -> None:
        self.size = size
        self._prepare = prepare
        self._entries: OrderedDict[Hashable, PreparedLightCurve] = OrderedDict()
        self._cadenceno: np.ndarray | None = None
        #: How many light curves were prepared (cache misses).
        self.prepared = 0

    def __len__(self) -> int:
        return len(self._entries)

    def forget(self, lc: LightCurve) -> None:
        """Drop ``lc``'s entry (e.g. when a light curve with the same identity changed)."""
        self._entries.pop(cache_key(lc), None)

    def get(self, lc: LightCurve) -> PreparedLightCurve:
        key = cache_key(lc)
        entry = self._entries.get(key)
        if entry is not None:
            self._entries.move_to_end(key)
            return entry
        entry = self._prepare(lc, self._cadenceno)
        self._cadenceno = entry.cadenceno
        self.prepared += 1
        self._entries[key] = entry
        if len(self._entries) > self.size:
            self._entries.popitem(last=False)
        return entry
