"""Masking stars and transient features before the background is estimated.

Paper 003 §3.2 masks only pixels above a flux cut and notes the plan to mask known stars.
Measured on the simulator, star light inside the 64-px tiles (wings of bright stars that
move with the pointing jitter and breathe with focus, and the unresolved faint-star field)
makes the per-frame estimate wobble and biases it high; a sharp transient such as a lens
flare drags the tiles it crosses. Two masks fix this:

* a **static source mask**: the median of a subsample of frames, minus its own background
  estimate, above ``nsigma`` robust σ, grown by ``grow`` pixels — every star, fixed for the
  sector;
* a **transient mask** per frame: connected groups of at least ``min_pixels`` pixels that
  exceed that median image by more than ``nsigma`` robust σ of the frame's difference,
  after removing the smooth change of the sky (block medians), grown by ``grow`` pixels —
  an extended flare or glint in that frame only. Single pixels are not transients: stars
  moving with the pointing jitter leave such residuals everywhere, and the static mask
  already covers them.

Masked pixels are left out of the background estimate only; they are still measured.
"""

from __future__ import annotations

import logging
from pathlib import Path

import attrs
import numpy as np
from scipy import ndimage

from tasoc_core.families.background import BackgroundEstimator, FrameGeometry
from tasoc_core.prepare.shenanigans import block_medians, expand_blocks

__all__ = ["SourceMask", "build_source_mask", "transient_mask"]

logger = logging.getLogger(__name__)

# The sky can change by tens of e-/s between frames (scattered light); block medians of
# this size follow that change but not a star or a flare.
_SKY_BOX = 32


@attrs.frozen(eq=False)
class SourceMask:
    """The static mask of a CCD and the median image it was built from."""

    median: np.ndarray  #: median of the sampled frames, e-/s (float32)
    static: np.ndarray  #: True where a source lies (bool)
    sigma: float  #: robust σ of the median image's sky, e-/s
    frames: int  #: how many frames were sampled

    def save(self, path: Path) -> Path:
        np.savez(path, median=self.median, static=self.static, sigma=self.sigma, frames=self.frames)
        return path

    @classmethod
    def load(cls, path: Path) -> SourceMask:
        with np.load(path) as data:
            return cls(data["median"], data["static"], float(data["sigma"]), int(data["frames"]))


def build_source_mask(
    images: np.ndarray,
    estimator: BackgroundEstimator,
    geometry: FrameGeometry,
    *,
    exclude: np.ndarray | None = None,
    nsigma: float = 5.0,
    grow: int = 2,
) -> SourceMask:
    """The static source mask from a stack of frames (N, rows, cols).

    Parameters
    ----------
    images
        Frames sampled over the sector (bad pixels NaN).
    estimator
        The background estimator used for the median image.
    geometry
        Where the frames sit in the focal plane.
    exclude
        Pixels never to use (manual exclusions).
    nsigma, grow
        Threshold in robust σ of the median image's residual, and the dilation in pixels.
    """
    with np.errstate(all="ignore"):
        median = np.nanmedian(images, axis=0).astype(np.float32)
    unusable = ~np.isfinite(median)
    if exclude is not None:
        unusable |= exclude
    sky = estimator.estimate(median, mask=unusable, geometry=geometry).background
    residual = median - sky
    finite = residual[np.isfinite(residual)]
    if finite.size == 0:
        return SourceMask(median, np.zeros(median.shape, bool), float("nan"), len(images))
    sigma = 1.4826 * float(np.median(np.abs(finite - np.median(finite))))
    static = np.nan_to_num(residual, nan=0.0) > nsigma * sigma
    if grow > 0:
        static = ndimage.binary_dilation(static, iterations=grow)
    logger.debug("source mask: %.1f %% of pixels from %d frames", 100 * static.mean(), len(images))
    return SourceMask(median, static, sigma, len(images))


def transient_mask(
    image: np.ndarray,
    reference: SourceMask,
    *,
    nsigma: float = 5.0,
    min_pixels: int = 20,
    grow: int = 3,
) -> np.ndarray:
    """Extended features of one frame that the median image does not have.

    The smooth change of the sky between this frame and the median image is removed first
    (medians of 32×32-pixel blocks, interpolated); groups of at least ``min_pixels``
    connected pixels above ``nsigma`` robust σ of the remainder (outside the static mask)
    are returned, grown by ``grow`` pixels.
    """
    diff = image - reference.median
    blocks = block_medians(diff, _SKY_BOX)
    shape = image.shape
    smooth = expand_blocks(blocks, shape, _SKY_BOX, slice(0, shape[0]), slice(0, shape[1]))
    rest = diff - smooth
    sky = rest[np.isfinite(rest) & ~reference.static]
    if sky.size == 0:
        return np.zeros(shape, dtype=bool)
    sigma = 1.4826 * float(np.median(np.abs(sky - np.median(sky))))
    with np.errstate(invalid="ignore"):
        hot = (rest > nsigma * sigma) & ~reference.static
    if not hot.any():
        return hot
    labels, count = ndimage.label(hot, structure=np.ones((3, 3), bool))
    sizes = np.bincount(labels.ravel(), minlength=count + 1)
    keep = sizes >= min_pixels
    keep[0] = False
    hot = keep[labels]
    if grow > 0 and hot.any():
        hot = ndimage.binary_dilation(hot, iterations=grow)
    return hot
