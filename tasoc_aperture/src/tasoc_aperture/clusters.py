"""DBSCAN clustering of the pixels above the flux threshold (scikit-learn).

DBSCAN (Ester et al. 1996) on the (row, col) coordinates of the candidate pixels, with the
Euclidean metric: ``eps = √2`` joins the 8 neighbours of a pixel, and a cluster needs
``min_samples`` pixels (the pixel itself included) within reach of its core samples.
"""

from __future__ import annotations

import attrs
import numpy as np
from sklearn.cluster import DBSCAN

__all__ = ["Clusters", "find_clusters", "neighbourhood"]

# Pixel distances are square roots of integers; the margin keeps a neighbour at exactly
# eps inside the neighbourhood whatever the rounding.
_EPS_MARGIN = 1e-9


@attrs.frozen
class Clusters:
    """Result of clustering the pixels above the threshold.

    Attributes
    ----------
    labels
        Integer image: 0 for pixels not above the threshold or classified as noise,
        1…n for the clusters (core and border samples).
    core
        Boolean image of the core samples (pixels with at least ``min_samples`` pixels
        above the threshold, themselves included, within the cluster radius).
    count
        Number of clusters.
    """

    labels: np.ndarray
    core: np.ndarray
    count: int


def neighbourhood(radius: float) -> np.ndarray:
    """Boolean footprint of the integer offsets within ``radius`` (centre included)."""
    reach = int(np.floor(radius + _EPS_MARGIN))
    offsets = np.arange(-reach, reach + 1)
    return np.hypot(offsets[:, None], offsets[None, :]) <= radius + _EPS_MARGIN


def find_clusters(above: np.ndarray, *, radius: float, min_samples: int) -> Clusters:
    """Cluster the pixels where ``above`` is True with DBSCAN.

    Parameters
    ----------
    above
        Boolean image of candidate pixels.
    radius
        DBSCAN ``eps`` in pixels (√2: the 8 neighbours).
    min_samples
        DBSCAN ``min_samples`` (the pixel itself included).

    Returns
    -------
    Clusters
    """
    above = np.asarray(above, dtype=bool)
    points = np.argwhere(above)
    labels = np.zeros(above.shape, dtype=np.int32)
    core = np.zeros(above.shape, dtype=bool)
    if len(points) == 0:
        return Clusters(labels, core, 0)
    fit = DBSCAN(eps=radius + _EPS_MARGIN, min_samples=min_samples).fit(points)
    labels[points[:, 0], points[:, 1]] = fit.labels_ + 1  # noise (-1) becomes 0
    core[tuple(points[fit.core_sample_indices_].T)] = True
    return Clusters(labels, core, int(fit.labels_.max() + 1))
