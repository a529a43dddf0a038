"""Background estimators: the sky background of one full-frame image."""

from __future__ import annotations

from abc import ABC, abstractmethod

import attrs
import numpy as np

from tasoc_core.families._base import PluginClass

__all__ = ["BackgroundEstimate", "BackgroundEstimator", "FrameGeometry"]


@attrs.frozen
class FrameGeometry:
    """Where a frame sits in the focal plane.

    Attributes
    ----------
    camera, ccd
        Camera (1–4) and CCD (1–4).
    origin
        CCD (row, col) of the image's first pixel (for SPOC FFIs: (0, 44)).
    camera_centre
        CCD (row, col) of the camera boresight; it lies off this CCD, near one corner.
        Used by estimators that model the corner glow as a function of the distance from it.
    cadence
        Frame cadence in seconds.
    """

    camera: int
    ccd: int
    origin: tuple[int, int]
    camera_centre: tuple[float, float]
    cadence: int = 1800

    def radius(self, shape: tuple[int, int]) -> np.ndarray:
        """Distance in pixels of every image pixel from the camera centre."""
        rows = np.arange(shape[0], dtype=np.float64) + self.origin[0] - self.camera_centre[0]
        cols = np.arange(shape[1], dtype=np.float64) + self.origin[1] - self.camera_centre[1]
        return np.hypot(rows[:, None], cols[None, :])


@attrs.frozen
class BackgroundEstimate:
    """An estimated background image and the pixels it was estimated from."""

    background: np.ndarray  #: float32 image, e-/s, same shape as the input
    used: np.ndarray  #: bool image, True where the pixel informed the estimate


class BackgroundEstimator(PluginClass, ABC):
    """Base class of background estimators, used by ``tasoc prepare`` on every FFI.

    Contract
    --------
    A background estimator

    * shall return a finite background for every pixel whenever at least one pixel of the
      image is usable (all-masked images give an all-NaN background);
    * shall not use pixels where ``mask`` is True;
    * shall not modify its inputs and shall not read or write files;
    * shall be deterministic and independent of other frames (temporal smoothing is applied
      afterwards by ``prepare``), so frames can be processed in parallel.
    """

    @abstractmethod
    def estimate(
        self, image: np.ndarray, *, mask: np.ndarray, geometry: FrameGeometry
    ) -> BackgroundEstimate:
        """Estimate the background of one frame.

        Parameters
        ----------
        image
            2-D calibrated science image, e-/s.
        mask
            True for pixels that must not be used (non-finite, manually excluded).
        geometry
            The frame's place in the focal plane.

        Returns
        -------
        BackgroundEstimate
        """
