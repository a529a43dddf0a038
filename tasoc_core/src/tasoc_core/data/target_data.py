"""What a photometry method sees of one target.

:class:`TargetData` is the one data-access object of the pipeline. It is built by the task
runner for a target and a :class:`~tasoc_core.data.source.PixelSource`, reads only the
stamp's pixels, lazily and once, and is handed to the method. Methods never open files.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import numpy as np

from tasoc_core.data.source import Instrument, PixelSource, Stars, Timeline
from tasoc_core.data.stamps import default_stamp_size
from tasoc_core.data.target import Stamp, Target
from tasoc_core.exceptions import TargetError

if TYPE_CHECKING:
    from astropy.wcs import WCS

    from tasoc_core.prf import PRFModel

__all__ = ["TargetData"]


class TargetData:
    """Pixels, times and neighbours of one target, restricted to one stamp.

    Parameters
    ----------
    target
        The target being measured.
    source
        Where the pixels come from.
    stamp
        The stamp to serve; by default the magnitude-scaled stamp centred on the target (FFI)
        or the whole TPF, clipped to the source.
    resizes
        How many times this stamp has been grown from the initial one.

    Notes
    -----
    Cubes have shape (T, rows, cols) with T the number of cadences. Arrays returned by the
    properties are shared and read-only; copy before modifying.
    """

    def __init__(
        self,
        target: Target,
        source: PixelSource,
        stamp: Stamp | None = None,
        *,
        resizes: int = 0,
    ) -> None:
        self.target = target
        self.source = source
        self._position = self._locate()
        if stamp is None:
            stamp = self._initial_stamp()
        try:
            self.stamp = stamp.clip(source.max_stamp)
        except ValueError:
            raise TargetError(
                f"{target}: stamp {stamp.as_tuple()} does not overlap the available pixels "
                f"{source.max_stamp.as_tuple()}"
            ) from None
        self.resizes = resizes

    # -- construction helpers -------------------------------------------------------------

    def _locate(self) -> tuple[float, float]:
        row, col = self.source.world_to_pixel(
            np.array([self.target.ra]), np.array([self.target.dec])
        )
        pos = (float(row[0]), float(col[0]))
        if not np.all(np.isfinite(pos)):
            raise TargetError(f"{self.target}: position could not be mapped to pixels")
        return pos

    def _initial_stamp(self) -> Stamp:
        if not self.target.is_ffi:
            return self.source.max_stamp
        height, width = default_stamp_size(self.target.tmag)
        return Stamp.centred(*self._position, height, width)

    def resized(self, *, down: int = 0, up: int = 0, left: int = 0, right: int = 0) -> TargetData:
        """A new TargetData with the stamp grown by the given number of pixels per side.

        ``down``/``up`` add rows below/above, ``left``/``right`` add columns. The stamp is
        clipped to the source, so the result may be unchanged at a detector edge; compare
        ``.stamp`` to find out.
        """
        grown = self.stamp.grow(down=down, up=up, left=left, right=right)
        return TargetData(self.target, self.source, grown, resizes=self.resizes + 1)

    # -- geometry ---------------------------------------------------------------------------

    @property
    def position(self) -> tuple[float, float]:
        """Target (row, col) in CCD coordinates at the reference frame."""
        return self._position

    @property
    def position_in_stamp(self) -> tuple[float, float]:
        """Target (row, col) relative to the stamp's first pixel."""
        return (self._position[0] - self.stamp.row_min, self._position[1] - self.stamp.col_min)

    @property
    def shape(self) -> tuple[int, int, int]:
        """(T, rows, cols) of the cubes."""
        return (len(self.time), *self.stamp.shape)

    @property
    def wcs(self) -> WCS | None:
        """Celestial WCS of the reference frame in CCD pixel coordinates."""
        return self.source.wcs

    @property
    def instrument(self) -> Instrument:
        return self.source.instrument

    @property
    def prf(self) -> PRFModel | None:
        """PRF model of the target's camera/CCD, or None (:attr:`prf_error` says why)."""
        return self.source.prf

    @property
    def prf_error(self) -> str:
        """Why :attr:`prf` is None (empty when a model is available)."""
        if self.source.prf is not None:
            return ""
        return self.source.prf_error or "no PRF model was given (set paths.prf)"

    @functools.cached_property
    def stars(self) -> Stars:
        """Catalog stars in and just around the stamp (the target included)."""
        return self.source.stars(self.stamp)

    def stars_near(self, buffer: float) -> Stars:
        """Catalog stars within ``buffer`` pixels of the stamp (:attr:`stars` uses 2 px).

        For models of the whole stamp, which need the stars outside it whose light leaks in.
        """
        return self.source.stars(self.stamp, buffer)

    @functools.cached_property
    def pos_corr(self) -> np.ndarray:
        """Per-cadence pointing offset (Δrow, Δcol) at the target position, shape (T, 2)."""
        return self.source.jitter(*self._position)

    def star_positions(self) -> np.ndarray:
        """Per-cadence (row, col) of every star in :attr:`stars`, shape (T, N, 2).

        Positions follow the pointing jitter measured at the target, which for a stamp of a
        few dozen pixels equals the jitter at each star to far below a pixel.
        """
        base = np.stack([self.stars.row, self.stars.col], axis=-1)  # (N, 2)
        return base[None, :, :] + self.pos_corr[:, None, :]

    # -- time -------------------------------------------------------------------------------

    @functools.cached_property
    def _times(self) -> tuple[np.ndarray, np.ndarray]:
        return self.source.target_times(self.target)

    @property
    def timeline(self) -> Timeline:
        return self.source.timeline

    @property
    def time(self) -> np.ndarray:
        """Mid-cadence BTJD, barycentred for this target."""
        return self._times[0]

    @property
    def timecorr(self) -> np.ndarray:
        """Barycentric correction included in :attr:`time`, days."""
        return self._times[1]

    @property
    def cadenceno(self) -> np.ndarray:
        return self.source.timeline.cadenceno

    @property
    def quality(self) -> np.ndarray:
        """SPOC quality bits per cadence."""
        return self.source.timeline.quality

    # -- pixels -----------------------------------------------------------------------------

    @functools.cached_property
    def _cubes(self):
        cubes = self.source.read(self.stamp)
        for name in ("images", "images_err", "backgrounds", "pixel_flags"):
            getattr(cubes, name).setflags(write=False)
        return cubes

    @property
    def images(self) -> np.ndarray:
        """Background-subtracted flux cube (T, rows, cols), e-/s."""
        return self._cubes.images

    @property
    def images_err(self) -> np.ndarray:
        """Flux uncertainty cube, e-/s."""
        return self._cubes.images_err

    @property
    def backgrounds(self) -> np.ndarray:
        """Subtracted background cube, e-/s."""
        return self._cubes.backgrounds

    @property
    def pixel_flags(self) -> np.ndarray:
        """PIXEL_FLAGS bits per pixel and cadence."""
        return self._cubes.pixel_flags

    @functools.cached_property
    def sumimage(self) -> np.ndarray:
        """Mean background-subtracted image over good cadences (rows, cols)."""
        image = self.source.sumimage(self.stamp)
        image.setflags(write=False)
        return image

    @functools.cached_property
    def aperture_flags(self) -> np.ndarray:
        """SPOC-style APERTURE bits of the stamp (bit 1 = pixel collected)."""
        return self.source.aperture_flags(self.stamp)

    def __repr__(self) -> str:
        return f"TargetData({self.target}, stamp={self.stamp.as_tuple()}, resizes={self.resizes})"
