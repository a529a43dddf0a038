"""Watershed segmentation of pixel clusters, with basins tied to catalog stars.

Following paper 003 (§5.1), every watershed basin must belong to a star of the catalog:
local maxima of the blurred sum image become markers only when they are the maximum
nearest to a catalog star and lie close enough to it. A cluster without any marker is
rejected as noise. Inside one patch of saturated pixels only the highest marker is kept, so
that a bleed column is never cut between stars.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from skimage.feature import peak_local_max
from skimage.segmentation import watershed

__all__ = ["find_markers", "segment_clusters"]

_EIGHT = np.ones((3, 3), dtype=bool)


def find_markers(
    blurred: np.ndarray,
    mask: np.ndarray,
    star_rows: np.ndarray,
    star_cols: np.ndarray,
    star_radius: np.ndarray,
    *,
    threshold_rel: float,
    footprint: int,
    saturated: np.ndarray | None = None,
) -> np.ndarray:
    """Marker image for the watershed: local maxima tied to catalog stars.

    Parameters
    ----------
    blurred
        Blurred sum image restricted to the clusters (zero outside).
    mask
        Boolean image of the pixels that may be segmented.
    star_rows, star_cols
        Star positions in stamp pixel coordinates.
    star_radius
        Per star, the largest distance (pixels) at which its nearest maximum is accepted.
    threshold_rel
        ``peak_local_max`` relative threshold.
    footprint
        Side of the square neighbourhood of a local maximum.
    saturated
        Boolean image of saturated pixels; one marker per connected saturated patch.

    Returns
    -------
    numpy.ndarray
        Integer image, 0 except at the markers (labelled 1…k, in raster order).
    """
    markers = np.zeros(mask.shape, dtype=np.int32)
    if len(star_rows) == 0 or not mask.any():
        return markers
    peaks = peak_local_max(
        blurred,
        threshold_rel=threshold_rel,
        footprint=np.ones((footprint, footprint), dtype=bool),
        exclude_border=False,
    )
    if len(peaks) == 0:
        return markers
    peaks = peaks[mask[peaks[:, 0], peaks[:, 1]]]
    if len(peaks) == 0:
        return markers
    distance = np.hypot(
        star_rows[:, None] - peaks[None, :, 0], star_cols[:, None] - peaks[None, :, 1]
    )
    nearest = np.argmin(distance, axis=1)
    close = distance[np.arange(len(star_rows)), nearest] <= star_radius
    chosen = peaks[np.unique(nearest[close])]
    if len(chosen) == 0:
        return markers
    if saturated is not None and saturated.any():
        chosen = _one_per_saturated_patch(chosen, blurred, saturated)
    # Raster order makes the labelling independent of the catalog's order.
    chosen = chosen[np.lexsort((chosen[:, 1], chosen[:, 0]))]
    markers[chosen[:, 0], chosen[:, 1]] = np.arange(1, len(chosen) + 1)
    return markers


def _one_per_saturated_patch(
    chosen: np.ndarray, blurred: np.ndarray, saturated: np.ndarray
) -> np.ndarray:
    patches, _ = ndimage.label(saturated, structure=_EIGHT)
    patch = patches[chosen[:, 0], chosen[:, 1]]
    height = blurred[chosen[:, 0], chosen[:, 1]]
    keep = patch == 0
    for p in np.unique(patch[patch > 0]):
        members = np.flatnonzero(patch == p)
        keep[members[np.argmax(height[members])]] = True
    return chosen[keep]


def segment_clusters(
    image: np.ndarray,
    mask: np.ndarray,
    star_rows: np.ndarray,
    star_cols: np.ndarray,
    star_radius: np.ndarray,
    *,
    blur: float,
    threshold_rel: float,
    footprint: int,
    saturated: np.ndarray | None = None,
) -> np.ndarray:
    """Split the clustered pixels into one segment per star-bearing basin.

    Parameters
    ----------
    image
        Sum image (e-/s).
    mask
        Boolean image of the clustered (core) pixels to segment.
    star_rows, star_cols, star_radius
        Catalog stars in stamp coordinates and their marker search radius.
    blur
        Gaussian σ (pixels) applied before finding maxima (0: none).
    threshold_rel, footprint
        Local-maximum settings, see :func:`find_markers`.
    saturated
        Boolean image of saturated pixels.

    Returns
    -------
    numpy.ndarray
        Integer image of segments (0 = not in any segment). Pixels of clusters holding no
        marker stay 0.
    """
    flux = np.where(mask, np.nan_to_num(image, nan=0.0), 0.0)
    blurred = ndimage.gaussian_filter(flux, blur, mode="constant") if blur > 0 else flux
    markers = find_markers(
        blurred,
        mask,
        star_rows,
        star_cols,
        star_radius,
        threshold_rel=threshold_rel,
        footprint=footprint,
        saturated=saturated,
    )
    if not markers.any():
        return markers
    # 8-connected flooding, like the 8-connected (eps = √2) clusters it splits.
    return watershed(-flux, markers, mask=mask, connectivity=2).astype(np.int32)
