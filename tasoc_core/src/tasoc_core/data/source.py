"""The backend interface behind :class:`~tasoc_core.data.TargetData`.

A :class:`PixelSource` serves pixels, times and catalog stars for all targets that share one
pixel store: an FFI cube of one camera/CCD, one TPF, or arrays in memory. Methods never see
a source directly; they receive a :class:`~tasoc_core.data.TargetData` built on one.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING

import attrs
import numpy as np

from tasoc_core.data.target import Stamp, Target

if TYPE_CHECKING:
    from astropy.wcs import WCS

    from tasoc_core.prf import PRFModel

__all__ = ["Instrument", "PixelSource", "StampCubes", "Stars", "Timeline"]


def _array(dtype: type) -> attrs.Attribute:
    return attrs.field(converter=lambda a: np.asarray(a, dtype=dtype))


@attrs.frozen
class Timeline:
    """Per-cadence quantities of a data source, all of length T.

    ``time`` is mid-exposure BTJD (BJD − 2457000, TDB); ``timecorr`` is the barycentric
    correction included in it, in days; ``quality`` holds SPOC quality bits.
    """

    time: np.ndarray = _array(np.float64)
    timecorr: np.ndarray = _array(np.float64)
    cadenceno: np.ndarray = _array(np.int64)
    quality: np.ndarray = _array(np.int32)

    def __attrs_post_init__(self) -> None:
        n = len(self.time)
        for name in ("timecorr", "cadenceno", "quality"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"Timeline.{name} has length {len(getattr(self, name))}, not {n}")

    def __len__(self) -> int:
        return len(self.time)


@attrs.frozen
class StampCubes:
    """Pixel cubes of one stamp, shape (T, rows, cols)."""

    images: np.ndarray  #: background-subtracted flux, e-/s
    images_err: np.ndarray  #: flux uncertainty, e-/s
    backgrounds: np.ndarray  #: the background that was subtracted, e-/s
    pixel_flags: np.ndarray  #: PIXEL_FLAGS bits (uint8)


@attrs.frozen
class Stars:
    """Catalog stars, as parallel arrays. Positions are 0-based CCD (row, col)."""

    starid: np.ndarray = _array(np.int64)
    tmag: np.ndarray = _array(np.float64)
    ra: np.ndarray = _array(np.float64)
    dec: np.ndarray = _array(np.float64)
    row: np.ndarray = _array(np.float64)
    col: np.ndarray = _array(np.float64)

    def __len__(self) -> int:
        return len(self.starid)

    def select(self, mask: np.ndarray) -> Stars:
        """The stars where ``mask`` (boolean or index array) selects."""
        return Stars(*(getattr(self, f.name)[mask] for f in attrs.fields(Stars)))

    def index_of(self, starid: int) -> int:
        """Position of ``starid`` in the table; raises KeyError if absent."""
        hits = np.flatnonzero(self.starid == starid)
        if len(hits) == 0:
            raise KeyError(starid)
        return int(hits[0])


@attrs.frozen
class Instrument:
    """Exposure and detector facts needed for noise models and output headers."""

    cadence: int  #: seconds
    num_frm: int  #: co-added 2-s frames per cadence
    readnoise: float = 10.0  #: e- per read
    gain: float = 5.2  #: e-/DN
    nreadout: int | None = None  #: reads per cadence after cosmic-ray mitigation
    crmiten: bool = True  #: onboard cosmic-ray mitigation enabled
    crblksz: int = 10  #: cosmic-ray mitigation block size
    data_rel: int = 0  #: SPOC data release
    procver: str = ""
    crspoc: bool = False  #: SPOC (ground) cosmic-ray cleaning applied

    @property
    def deadc(self) -> float:
        """Dead-time correction: fraction of the cadence collecting photons."""
        if self.crmiten:
            return 1.98 * (self.crblksz - 2) / self.crblksz / 2.0
        return 0.99

    @property
    def exposure(self) -> float:
        """Effective exposure per cadence in seconds (XPOSURE)."""
        return 2.0 * self.deadc * self.num_frm


class PixelSource(ABC):
    """A store of pixels and metadata that :class:`TargetData` reads from.

    Implementations shall return arrays that the caller may keep but must not modify, and
    shall raise :class:`~tasoc_core.exceptions.TargetError` for a stamp or target they
    cannot serve (off the detector, all pixels missing).

    ``prf`` is the PRF model of the source's camera/CCD when one was loaded (the task
    runner attaches it when ``paths.prf`` is set), else None with ``prf_error`` saying why.
    """

    prf: PRFModel | None = None
    prf_error: str | None = None

    @property
    @abstractmethod
    def max_stamp(self) -> Stamp:
        """The largest stamp this source can serve (the CCD, or the TPF footprint)."""

    @property
    @abstractmethod
    def timeline(self) -> Timeline:
        """Times, cadence numbers and quality of every cadence."""

    @property
    @abstractmethod
    def instrument(self) -> Instrument:
        """Exposure and detector facts."""

    @abstractmethod
    def read(self, stamp: Stamp) -> StampCubes:
        """Image, uncertainty, background and pixel-flag cubes of ``stamp``."""

    @abstractmethod
    def sumimage(self, stamp: Stamp) -> np.ndarray:
        """Mean background-subtracted image over good cadences, shape of ``stamp``."""

    @abstractmethod
    def stars(self, stamp: Stamp, buffer: float = 2.0) -> Stars:
        """Catalog stars whose position is within ``buffer`` pixels of ``stamp``."""

    @abstractmethod
    def world_to_pixel(self, ra: np.ndarray, dec: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """CCD (row, col) of sky positions at the reference frame."""

    @property
    def wcs(self) -> WCS | None:
        """Celestial WCS of the reference frame in CCD pixel coordinates, if known."""
        return None

    def jitter(self, row: float, col: float) -> np.ndarray:
        """Per-cadence pixel offset (Δrow, Δcol) of a star at (row, col); shape (T, 2)."""
        return np.zeros((len(self.timeline), 2))

    def target_times(self, target: Target) -> tuple[np.ndarray, np.ndarray]:
        """Barycentric ``(time, timecorr)`` for ``target``; by default the source's own."""
        return self.timeline.time, self.timeline.timecorr

    def aperture_flags(self, stamp: Stamp) -> np.ndarray:
        """SPOC-style APERTURE bit image of ``stamp`` (bit 1: pixel collected)."""
        finite = np.isfinite(self.sumimage(stamp))
        return finite.astype(np.int32)
