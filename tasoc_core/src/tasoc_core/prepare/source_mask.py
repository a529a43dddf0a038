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
  already covers them. A narrow glint crossing a masked star shows only in pieces either
  side of it: pieces joined through the static mask count together, and on the star's
  own pixels the glint is flagged where it stands out against the star's light.

Masked pixels are left out of the background estimate only; they are still measured.
"""

from __future__ import annotations

import functools
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
# A transient under a star is interpolated from the sky pixels within a Gaussian of this σ
# (pixels), where they carry at least this much of its weight.
_UNDER_STAR = 3.0
_MIN_SKY_WEIGHT = 0.05
# Residual of a star between one frame and the median image, as a fraction of its light,
# that is not taken for a transient on the star's pixels.
_STAR_RESIDUAL = 0.1
# Pieces of a feature seen either side of a masked star count together only when they lie
# along a line: the square root of the ratio of their pixels' principal variances must
# reach this. A glint crossing a star (σ 6 × 1.2 px) gives 10–12; the ring of residuals a
# change of focus leaves around a bright star's mask gives about 1.
_LINE_ELONGATION = 3.0


@attrs.frozen(eq=False)
class SourceMask:
    """The static mask of a CCD and the median image it was built from."""

    median: np.ndarray  #: median of the sampled frames, e-/s (float32)
    static: np.ndarray  #: True where a source lies (bool)
    sigma: float  #: robust σ of the median image's sky, e-/s
    frames: int  #: how many frames were sampled

    @functools.cached_property
    def star_light(self) -> np.ndarray:
        """The median image above its sky (the median of the unmasked pixels), ≥ 0: the
        stars' light, against which a transient on their pixels is judged."""
        sky = np.nanmedian(self.median[~self.static])
        return np.clip(self.median - sky, 0.0, None)

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
    are kept, grown by ``grow`` pixels. A star the feature crosses is added where the
    feature, interpolated from the sky pixels around the star, is as bright as the
    detection threshold: the sky under that star is just as disturbed.
    """
    diff = image - reference.median
    static = reference.static
    hot, rest, sigma = _detect(diff, static, static, nsigma, min_pixels, grow)
    if not hot.any():
        return hot
    # A broad flare fills much of a sky block and lifts its median, hiding its own
    # outskirts: estimate the sky change again without it, and look once more.
    hot, rest, sigma = _detect(diff, static, static | hot, nsigma, min_pixels, grow)
    if not hot.any():
        return hot
    sky = np.isfinite(rest) & ~static
    num = ndimage.gaussian_filter(np.where(sky, rest, 0.0), _UNDER_STAR)
    den = ndimage.gaussian_filter(sky.astype(np.float32), _UNDER_STAR)
    with np.errstate(invalid="ignore", divide="ignore"):
        under = np.where(den > _MIN_SKY_WEIGHT, num / den, 0.0)
    # The interpolation averages ~4π·s² sky pixels: its noise is that much lower.
    threshold = nsigma * sigma / np.sqrt(4 * np.pi * _UNDER_STAR**2)
    # Seen directly on the star's own pixels, against the star's light (pointing jitter and
    # variability leave residuals in proportion to it): what a narrow glint needs, which
    # the interpolation above dilutes.
    with np.errstate(invalid="ignore"):
        direct = rest > nsigma * np.hypot(sigma, _STAR_RESIDUAL * reference.star_light)
    candidates = hot | (static & ((under > max(threshold, 0.5 * nsigma * sigma)) | direct))
    labels, _ = ndimage.label(candidates, structure=np.ones((3, 3), bool))
    touched = np.unique(labels[hot])
    return np.isin(labels, touched[touched > 0])


def _detect(
    diff: np.ndarray,
    static: np.ndarray,
    unsky: np.ndarray,
    nsigma: float,
    min_pixels: int,
    grow: int,
) -> tuple[np.ndarray, np.ndarray, float]:
    """Groups outside ``static`` above the sky change estimated without ``unsky`` pixels.

    Returns the groups, the difference after removing the sky change, and its robust σ.
    """
    shape = diff.shape
    none = np.zeros(shape, dtype=bool)
    blocks = block_medians(np.where(unsky, np.nan, diff), _SKY_BOX)
    if np.isnan(blocks).all():
        return none, diff, float("nan")
    blocks = np.where(np.isnan(blocks), np.nanmedian(blocks), blocks)
    smooth = expand_blocks(blocks, shape, _SKY_BOX, slice(0, shape[0]), slice(0, shape[1]))
    rest = diff - smooth
    sky = rest[np.isfinite(rest) & ~unsky]
    if sky.size == 0:
        return none, rest, float("nan")
    sigma = 1.4826 * float(np.median(np.abs(sky - np.median(sky))))
    with np.errstate(invalid="ignore"):
        hot = (rest > nsigma * sigma) & ~static
    if not hot.any():
        return hot, rest, sigma
    labels, count = ndimage.label(hot, structure=np.ones((3, 3), bool))
    sizes = np.bincount(labels.ravel(), minlength=count + 1)
    keep = sizes >= min_pixels
    keep[0] = False
    if count and not keep[1:].all():
        keep |= _fragments(labels, sizes, keep, static, min_pixels)
    hot = keep[labels]
    if grow > 0 and hot.any():
        hot = ndimage.binary_dilation(hot, iterations=grow)
    return hot, rest, sigma


def _fragments(
    labels: np.ndarray, sizes: np.ndarray, keep: np.ndarray, static: np.ndarray, min_pixels: int
) -> np.ndarray:
    """Small groups that are parts of one feature running under masked stars.

    A narrow feature (a glint) crossing a star is seen only where it leaves the star's
    mask, so its visible parts can each fall below ``min_pixels``, and the star between
    them is exactly where the flag matters. Groups of at least ``min_pixels // 4`` pixels
    that are joined through static-mask components count together: they are kept when a
    kept group is among them, or when their sum reaches ``min_pixels`` and they lie along
    a line (``_LINE_ELONGATION``). Single-pixel residuals of stars moving with the
    pointing jitter stay out, and so does a ring of residuals around a star's mask.
    """
    part = sizes >= max(2, min_pixels // 4)
    part[0] = False
    if not (part & ~keep).any():
        return np.zeros_like(keep)
    joined, _ = ndimage.label(part[labels] | static, structure=np.ones((3, 3), bool))
    # Each group lies in exactly one joined component (0 for groups too small to be a
    # part); sum the parts per component.
    grouped = labels > 0
    of_group = np.zeros(sizes.size, dtype=np.int64)
    of_group[labels[grouped]] = joined[grouped]
    ncomp = joined.max() + 1
    total = np.bincount(of_group[part], weights=sizes[part], minlength=ncomp)
    # Second moments of each component's part pixels, all components at once.
    rows, cols = np.nonzero(part[labels])
    comp = joined[rows, cols]

    def mean(w: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.bincount(comp, weights=w, minlength=ncomp) / total

    mr, mc = mean(rows), mean(cols)
    vrr, vcc, vrc = (
        mean(rows * rows) - mr**2,
        mean(cols * cols) - mc**2,
        mean(rows * cols) - mr * mc,
    )
    half_spread = np.hypot(0.5 * (vrr - vcc), vrc)
    major, minor = 0.5 * (vrr + vcc) + half_spread, 0.5 * (vrr + vcc) - half_spread
    # A one-pixel-wide line has a minor variance near 0: floor it at that of a pixel (1/12).
    line = major >= _LINE_ELONGATION**2 * np.maximum(minor, 1.0 / 12.0)
    joins = (total >= min_pixels) & line
    joins[np.unique(of_group[keep])] = True
    return part & joins[of_group]
