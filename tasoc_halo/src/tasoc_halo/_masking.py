"""Masking other stars in the halo: DBSCAN clusters of excess flux, as in aperture photometry.

Aperture photometry (paper 003 §5.1) finds stars as DBSCAN clusters of pixels above a flux
threshold and accepts a cluster only if a catalog star marks it. In a bright star's halo
every pixel is above such a threshold, so here the threshold applies to the *excess* over
the target's azimuthally averaged halo:

1. the radial profile of the image around the target (median in 1-px annuli) is subtracted;
2. pixels whose excess exceeds ``threshold`` × the robust scatter of the excess are
   clustered with DBSCAN (ε = √2 + tiny, min_samples 4, as in aperture photometry). On a
   pixel grid with that ε a point's neighbourhood is its 3×3 block, so DBSCAN reduces to
   image operations (:func:`grid_dbscan`, tested against scikit-learn's DBSCAN): it runs in
   microseconds and needs no scikit-learn, whose import (about a second, and touching
   files) would otherwise happen inside the method;
3. catalog stars too faint to matter where they stand are dropped: a star whose catalog
   flux is below ``contrast`` times the mean flux of its pixel can hold at most that
   fraction of any pixel there, while the target's light fills the rest (on a simulated
   Tmag 5 star, Tmag 14–17 stars on its wings seeded watershed basins that took 95 % of
   its unsaturated pixels, and the light curve kept 1 % of its pulsation);
4. a cluster holding the pixel of another catalog star and not the target's is masked;
   a cluster holding both (a neighbour on the target's wings or bleed column) is split by
   a watershed on the excess seeded at the stars, and the neighbours' basins are masked;
   clusters that no catalog star marks are noise and stay;
5. the mask is grown by ``dilation`` pixels to cover the neighbours' own wings.
"""

from __future__ import annotations

import attrs
import numpy as np
from scipy import ndimage
from sklearn.cluster import DBSCAN

__all__ = ["NeighbourMask", "grid_dbscan", "mask_neighbours", "moffat_light", "radial_profile"]

_EIGHT = np.ones((3, 3), dtype=bool)


@attrs.frozen(kw_only=True)
class NeighbourMask:
    """Result of :func:`mask_neighbours`.

    Attributes
    ----------
    mask
        Boolean image (stamp shape) of pixels masked as belonging to other stars.
    masked_stars
        Indices (into the star arrays given) of the stars whose pixels were masked.
    clusters
        Label image of the DBSCAN clusters of excess flux (0 = none).
    """

    mask: np.ndarray
    masked_stars: tuple[int, ...]
    clusters: np.ndarray


def radial_profile(image: np.ndarray, distance: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Median of ``image`` in 1-px annuli of ``distance``, evaluated at every pixel.

    Annuli without valid pixels take the value of the nearest annulus that has some.
    """
    ring = np.floor(distance).astype(int)
    nring = int(ring.max()) + 1
    medians = np.full(nring, np.nan)
    for r in np.unique(ring[valid]):
        medians[r] = np.median(image[valid & (ring == r)])
    known = np.flatnonzero(np.isfinite(medians))
    if known.size == 0:
        return np.zeros_like(image, dtype=float)
    filled = np.interp(np.arange(nring), known, medians[known])
    return filled[ring]


def mask_neighbours(
    image: np.ndarray,
    valid: np.ndarray,
    target: tuple[float, float],
    stars_rc: np.ndarray,
    *,
    target_pixels: np.ndarray | None = None,
    stars_light: np.ndarray | None = None,
    contrast: float = 0.0,
    threshold: float = 3.0,
    min_samples: int = 4,
    dilation: int = 1,
) -> NeighbourMask:
    """Mask the pixels of catalog stars other than the target.

    Parameters
    ----------
    image
        Mean image of the stamp (rows, cols), e-/s.
    valid
        Pixels to consider (inside the halo region, not saturated).
    target
        Target (row, col) in stamp pixel coordinates.
    stars_rc
        (M, 2) stamp (row, col) of the other catalog stars (the target excluded).
    target_pixels
        Pixels known to belong to the target although not ``valid`` (its saturated core
        and bleed columns): clusters touching them are the target's.
    stars_light
        (M, rows, cols) expected flux (e-/s) of each other star on the stamp, from its
        catalog magnitude and the PRF (or :func:`moffat_light`), for ``contrast``.
    contrast
        With ``stars_light``, a star's pixels are those where it may hold at least this
        fraction of the flux, a star that holds less of its own pixel is not masked at
        all, and every pixel where the other stars together hold this fraction is
        masked; nothing is dilated (0: clusters and basins as they are, dilated).
    threshold
        Excess over the radial profile, in units of its robust scatter, that marks a pixel.
    min_samples
        DBSCAN ``min_samples`` (the pixel itself included).
    dilation
        Pixels by which the final mask is grown.

    Returns
    -------
    NeighbourMask
    """
    shape = image.shape
    rows, cols = np.indices(shape)
    distance = np.hypot(rows - target[0], cols - target[1])
    ok = valid & np.isfinite(image)
    excess = np.where(ok, image - radial_profile(np.where(ok, image, 0.0), distance, ok), 0.0)
    values = excess[ok]
    sigma = 1.4826 * float(np.median(np.abs(values - np.median(values)))) if values.size else 0.0
    labels = np.zeros(shape, dtype=int)
    mask = np.zeros(shape, dtype=bool)
    stars_rc = np.asarray(stars_rc, dtype=float).reshape(-1, 2)
    spix = np.round(stars_rc).astype(int)
    on_stamp = (
        (spix[:, 0] >= 0) & (spix[:, 0] < shape[0]) & (spix[:, 1] >= 0) & (spix[:, 1] < shape[1])
    )
    limit = stars_light is not None and contrast > 0
    if limit:
        stars_light = np.asarray(stars_light, dtype=float).reshape(len(spix), *shape)
        with np.errstate(invalid="ignore"):
            # Where each star may hold ``contrast`` of the flux (NaN levels count as its).
            footprints = ~(stars_light < contrast * image)
        own = np.zeros(len(spix), dtype=bool)
        idx = np.flatnonzero(on_stamp)
        own[idx] = footprints[idx, spix[idx, 0], spix[idx, 1]]
        on_stamp &= own

    def light(members: np.ndarray) -> np.ndarray:
        """Pixels where any of these stars may hold ``contrast`` of the flux (all: no limit)."""
        if not limit:
            return np.ones(shape, dtype=bool)
        return np.any(footprints[np.asarray(members, dtype=int)], axis=0)

    hot = ok & (excess > threshold * sigma) if sigma > 0 else ok & (excess > 0)
    masked: list[int] = []
    if hot.sum() >= min_samples and on_stamp.any():
        labels = grid_dbscan(hot, min_samples=min_samples)
        seeds = _target_seeds(shape, target, ok, target_pixels)
        target_labels = set(np.unique(labels[seeds])) - {0}
        star_labels = np.zeros(len(spix), dtype=int)
        star_labels[on_stamp] = labels[spix[on_stamp, 0], spix[on_stamp, 1]]
        for label in np.unique(star_labels[star_labels > 0]):
            members = np.flatnonzero(star_labels == label)
            cluster = labels == label
            if label not in target_labels:
                mask |= cluster & light(members)
                masked.extend(int(i) for i in members)
                continue
            basins = _split(excess, cluster, seeds & cluster, spix[members])
            for k, i in enumerate(members, start=1):
                part = (basins == k) & light([i])
                if part.any():
                    mask |= part
                    masked.append(int(i))
    if dilation > 0 and mask.any() and not limit:
        mask = ndimage.binary_dilation(mask, structure=_EIGHT, iterations=dilation)
    if limit and on_stamp.any():
        # Pixels where the other stars together may hold ``contrast`` of the flux, whether or
        # not they stand out of the halo: TV-min favours exactly those pixels (their
        # constant share of foreign light dilutes the target's variability). Nothing is
        # dilated: the profile already holds the stars' wings.
        near = stars_light[on_stamp].sum(axis=0)
        with np.errstate(invalid="ignore"):
            mask |= ok & ~(near < contrast * image)
    return NeighbourMask(mask=mask & valid, masked_stars=tuple(sorted(masked)), clusters=labels)


def moffat_light(stars_rc: np.ndarray, flux: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Expected flux (M, rows, cols) of stars without a PRF model: ``flux/2 · (1 + d²)⁻²``.

    A Moffat profile (β = 2, holding 1.6 times the flux): 50 % at the star's own pixel,
    12 % at 1 px, 2 % at 2 px, 0.5 % at 3 px, 0.17 % at 4 px. It lies above a compact
    TESS-like PRF at every distance; elongated PRFs far from the camera centre have up to
    2.5 times more at 2–3 px (give the PRF files, ``paths.prf``, there).
    """
    rows, cols = np.indices(shape)
    stars_rc = np.asarray(stars_rc, dtype=float).reshape(-1, 2)
    d2 = (rows - stars_rc[:, 0, None, None]) ** 2 + (cols - stars_rc[:, 1, None, None]) ** 2
    return 0.5 * np.asarray(flux, dtype=float).reshape(-1, 1, 1) * (1.0 + d2) ** -2


def grid_dbscan(hot: np.ndarray, *, min_samples: int = 4) -> np.ndarray:
    """DBSCAN (scikit-learn) of the ``True`` pixels of an image with ε = √2 (the 8 neighbours).

    Returns
    -------
    numpy.ndarray
        Label image: 1, 2, … for clusters, 0 for noise and cold pixels.
    """
    hot = np.asarray(hot, dtype=bool)
    labels = np.zeros(hot.shape, dtype=np.int32)
    points = np.argwhere(hot)
    if len(points):
        fit = DBSCAN(eps=np.sqrt(2) + 1e-9, min_samples=min_samples).fit(points)
        labels[points[:, 0], points[:, 1]] = fit.labels_ + 1  # noise (-1) becomes 0
    return labels


def _target_seeds(
    shape: tuple[int, int],
    target: tuple[float, float],
    ok: np.ndarray,
    target_pixels: np.ndarray | None,
) -> np.ndarray:
    """Usable pixels that certainly belong to the target: its own pixel and the rim of its
    saturated core and bleed columns."""
    seeds = np.zeros(shape, dtype=bool)
    tpix = (round(target[0]), round(target[1]))
    if 0 <= tpix[0] < shape[0] and 0 <= tpix[1] < shape[1]:
        seeds[tpix] = True
    if target_pixels is not None and np.any(target_pixels):
        seeds |= ndimage.binary_dilation(target_pixels, structure=_EIGHT)
    return seeds & ok


def _split(
    excess: np.ndarray, cluster: np.ndarray, seeds: np.ndarray, stars: np.ndarray
) -> np.ndarray:
    """Watershed of one cluster seeded at the target's pixels and at each star (1..M).

    Returns an image whose value k ≥ 1 marks the basin of the k-th star; the target's basin
    and everything outside the cluster are 0.
    """
    values = np.where(cluster, np.clip(excess, 0.0, None), 0.0)
    top = float(values.max())
    if not top > 0:
        return np.zeros(cluster.shape, dtype=int)
    # watershed_ift floods from low to high values: the relief is the inverted excess, on a
    # logarithmic scale so that faint neighbours keep their shape next to a saturated core.
    log_excess = np.log1p(values / top * 1e6) / np.log1p(1e6)
    relief = np.where(cluster, np.round((1.0 - log_excess) * 65000.0), 65535).astype(np.uint16)
    markers = np.zeros(cluster.shape, dtype=np.int16)
    markers[~cluster] = -1
    markers[seeds] = 1
    for k, (r, c) in enumerate(stars, start=2):
        if markers[r, c] == 0:
            markers[r, c] = k
    basins = ndimage.watershed_ift(relief, markers)
    return np.where(cluster & (basins >= 2), basins - 1, 0).astype(int)
