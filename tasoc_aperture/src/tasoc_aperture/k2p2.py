"""K2P2 mask creation from a sum image: threshold, DBSCAN, watershed, holes, overflow.

The steps (paper 003 §5.1; reference §10.2) are

1. the flux threshold ``mode + thresh × MAD₋`` (:mod:`tasoc_aperture.threshold`);
2. DBSCAN clustering of the pixels above it (:mod:`tasoc_aperture.clusters`);
3. detection of saturated bleed columns in the clusters (:mod:`tasoc_aperture.saturation`);
4. watershed segmentation of the clusters' core pixels with markers tied to catalog stars
   (:mod:`tasoc_aperture.segmentation`);
5. segments of at least ``min_pixels`` pixels become masks, largest first;
6. single-pixel holes (all four edge neighbours in one mask) are filled;
7. masks holding stars with a combined magnitude at or brighter than ``saturation_limit``
   are extended along their saturated columns (overflow).
"""

from __future__ import annotations

import attrs
import numpy as np

from tasoc_aperture.clusters import find_clusters
from tasoc_aperture.saturation import saturated_pixels
from tasoc_aperture.segmentation import segment_clusters
from tasoc_aperture.settings import ApertureSettings
from tasoc_aperture.threshold import Threshold, flux_threshold

__all__ = ["MaskSet", "StampStars", "create_masks", "fill_holes", "relabel_by_size"]


@attrs.frozen
class StampStars:
    """Catalog stars in stamp pixel coordinates (row, col relative to the stamp's first pixel)."""

    starid: np.ndarray = attrs.field(converter=lambda a: np.asarray(a, dtype=np.int64))
    row: np.ndarray = attrs.field(converter=lambda a: np.asarray(a, dtype=np.float64))
    col: np.ndarray = attrs.field(converter=lambda a: np.asarray(a, dtype=np.float64))
    tmag: np.ndarray = attrs.field(converter=lambda a: np.asarray(a, dtype=np.float64))

    def __len__(self) -> int:
        return len(self.starid)

    def pixels(self, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Integer (row, col) of the pixel holding each star, and whether it is in ``shape``."""
        r = np.floor(self.row + 0.5).astype(np.int64)
        c = np.floor(self.col + 0.5).astype(np.int64)
        inside = (r >= 0) & (r < shape[0]) & (c >= 0) & (c < shape[1])
        return r, c, inside

    def labels_at(self, labels: np.ndarray) -> np.ndarray:
        """Label of the pixel holding each star (0 outside the stamp or any mask)."""
        r, c, inside = self.pixels(labels.shape)
        out = np.zeros(len(self), dtype=labels.dtype)
        out[inside] = labels[r[inside], c[inside]]
        return out


@attrs.frozen
class MaskSet:
    """The masks K2P2 found in one sum image.

    Attributes
    ----------
    labels
        Integer image: 0 outside every mask, 1…n for the masks, largest first.
    threshold
        The flux threshold, or None when the image had no positive flux.
    nclusters
        Number of DBSCAN clusters before segmentation.
    saturated
        Boolean image of the saturated pixels found in the clusters.
    """

    labels: np.ndarray
    threshold: Threshold | None
    nclusters: int
    saturated: np.ndarray

    @property
    def count(self) -> int:
        """Number of masks."""
        return int(self.labels.max(initial=0))

    def mask(self, label: int) -> np.ndarray:
        """Boolean image of mask ``label``."""
        return self.labels == label


def relabel_by_size(labels: np.ndarray, min_pixels: int) -> np.ndarray:
    """Drop regions smaller than ``min_pixels`` and renumber the rest 1…n, largest first.

    Ties keep the order of the original labels, so the result is deterministic.
    """
    sizes = np.bincount(labels.ravel(), minlength=1)
    sizes[0] = 0
    keep = np.flatnonzero(sizes >= min_pixels)
    order = keep[np.lexsort((keep, -sizes[keep]))]
    lut = np.zeros(len(sizes), dtype=np.int32)
    lut[order] = np.arange(1, len(order) + 1, dtype=np.int32)
    return lut[labels]


def fill_holes(labels: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    """Add each unlabelled pixel whose four edge neighbours share one label to that label.

    Parameters
    ----------
    labels
        Integer mask image (modified copy returned).
    allowed
        Boolean image of pixels that may be added (collected pixels).
    """
    padded = np.pad(labels, 1)
    up, down = padded[:-2, 1:-1], padded[2:, 1:-1]
    left, right = padded[1:-1, :-2], padded[1:-1, 2:]
    hole = (labels == 0) & allowed & (up > 0) & (up == down) & (up == left) & (up == right)
    out = labels.copy()
    out[hole] = up[hole]
    return out


def _extend_overflow(
    image: np.ndarray,
    labels: np.ndarray,
    above: np.ndarray,
    stars: StampStars,
    settings: ApertureSettings,
) -> np.ndarray:
    columns = saturated_pixels(image, labels, above)
    if not columns.any():
        return labels
    star_labels = stars.labels_at(labels)
    out = labels.copy()
    for label in np.unique(columns[columns > 0]):
        inside = star_labels == label
        if not inside.any():
            continue  # no catalog star: cannot tell that the streak is a saturated star
        combined = -2.5 * np.log10(np.sum(10.0 ** (-0.4 * stars.tmag[inside])))
        if combined <= settings.saturation_limit:
            # The bleed charge belongs to the saturated star, even where it crosses another
            # star's mask (whose photometry it ruins anyway).
            out[columns == label] = label
    return out


def create_masks(
    image: np.ndarray,
    stars: StampStars,
    settings: ApertureSettings,
    *,
    noise: np.ndarray | float | None = None,
) -> MaskSet:
    """Find the K2P2 masks of a sum image.

    Parameters
    ----------
    image
        Mean background-subtracted image of the stamp (e-/s); NaN where not collected.
    stars
        Catalog stars in stamp coordinates (including stars just outside the stamp).
    settings
        K2P2 parameters.
    noise
        1σ uncertainty of the sum image, per pixel (image shape) or one value (e-/s). When
        given, a pixel must also exceed ``mode + settings.noise_floor × noise`` to be a
        candidate: see the README ("noise floor") for why.

    Returns
    -------
    MaskSet
        The masks, possibly none.
    """
    image = np.asarray(image, dtype=np.float64)
    finite = np.isfinite(image)
    empty = np.zeros(image.shape, dtype=np.int32)
    threshold = flux_threshold(
        image, settings.thresh, trim=settings.kde_trim, max_flux=settings.kde_max_flux
    )
    if threshold is None:
        return MaskSet(empty, None, 0, np.zeros(image.shape, dtype=bool))
    cut: np.ndarray | float = threshold.cut
    if noise is not None and settings.noise_floor > 0:
        floor = threshold.mode + settings.noise_floor * np.nan_to_num(noise, nan=0.0)
        cut = np.maximum(threshold.cut, floor)
    with np.errstate(invalid="ignore"):
        above = finite & (image > cut)
    clusters = find_clusters(
        above, radius=settings.cluster_radius, min_samples=settings.min_for_cluster
    )
    saturated = saturated_pixels(image, clusters.labels, above) > 0
    core = clusters.core
    if settings.segmentation:
        radius = np.where(
            stars.tmag <= settings.saturation_limit,
            settings.marker_radius_bright,
            settings.marker_radius,
        )
        segments = segment_clusters(
            image,
            core,
            stars.row,
            stars.col,
            radius,
            blur=settings.ws_blur,
            threshold_rel=settings.ws_threshold,
            footprint=settings.ws_footprint,
            saturated=saturated,
        )
    else:
        segments = np.where(core, clusters.labels, 0).astype(np.int32)
    labels = relabel_by_size(segments, settings.min_pixels)
    labels = fill_holes(labels, finite)
    if settings.extend_overflow and labels.any():
        labels = relabel_by_size(
            _extend_overflow(image, labels, above, stars, settings), settings.min_pixels
        )
    labels[~finite] = 0
    return MaskSet(labels, threshold, clusters.count, saturated)
