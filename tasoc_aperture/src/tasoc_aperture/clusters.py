"""DBSCAN clustering of the pixels above the flux threshold, on the pixel grid.

This is DBSCAN (Ester et al. 1996) with the Euclidean metric, computed the way a grid of
candidate pixels allows: the ``eps``-neighbourhood is a fixed footprint of integer offsets,
so neighbour counts are one convolution and, for ``eps < 2``, clusters of core samples are
connected components under that footprint (``scipy.ndimage.label``); other radii use a
k-d tree. Labels follow scikit-learn's ``DBSCAN`` exactly — clusters numbered in the order
of their first core sample in raster order, a border sample joining the lowest-numbered
cluster within reach — which the test suite checks against scikit-learn itself.

Why not call scikit-learn here: its input validation discovers dataframe plugins through
package entry points on first use, i.e. it opens files, which a photometry method must not
do; and it costs 0.5 ms per call against 0.02 ms for a 15×15 stamp.
"""

from __future__ import annotations

import attrs
import numpy as np
from scipy import ndimage
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

__all__ = ["Clusters", "find_clusters", "neighbourhood"]

# Pixel distances are square roots of integers; the margin keeps a neighbour at exactly
# eps inside the neighbourhood whatever the rounding (scikit-learn uses <= eps as well).
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


def _renumber(labels: np.ndarray, core: np.ndarray) -> tuple[np.ndarray, int]:
    """Renumber core labels 1…n by their first core pixel in raster order."""
    flat = labels[core]
    if flat.size == 0:
        return labels, 0
    _, first = np.unique(flat, return_index=True)
    order = np.unique(flat)[np.argsort(first)]
    lut = np.zeros(int(labels.max()) + 1, dtype=np.int32)
    lut[order] = np.arange(1, len(order) + 1, dtype=np.int32)
    return lut[labels], len(order)


def _core_components_grid(core: np.ndarray, footprint: np.ndarray) -> np.ndarray:
    structure = np.zeros((3, 3), dtype=bool)
    k = footprint.shape[0] // 2
    structure[1 - k : 2 + k, 1 - k : 2 + k] = footprint
    labels, _ = ndimage.label(core, structure=structure)
    return labels.astype(np.int32)


def _core_components_tree(core: np.ndarray, radius: float) -> np.ndarray:
    points = np.argwhere(core)
    labels = np.zeros(core.shape, dtype=np.int32)
    if len(points) == 0:
        return labels
    pairs = cKDTree(points).query_pairs(radius + _EPS_MARGIN, output_type="ndarray")
    graph = coo_matrix(
        (np.ones(len(pairs), dtype=np.int8), (pairs[:, 0], pairs[:, 1])),
        shape=(len(points), len(points)),
    )
    _, component = connected_components(graph, directed=False)
    labels[points[:, 0], points[:, 1]] = component + 1
    return labels


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
    footprint = neighbourhood(radius)
    counts = ndimage.correlate(above.astype(np.int32), footprint.astype(np.int32), mode="constant")
    core = above & (counts >= min_samples)
    if footprint.shape[0] == 3:  # 1 <= eps < 2: the 3x3 (or cross) neighbourhood
        labels = _core_components_grid(core, footprint)
    else:
        labels = _core_components_tree(core, radius)
    labels, count = _renumber(labels, core)
    if count == 0:
        return Clusters(np.zeros(above.shape, dtype=np.int32), core, 0)
    # Border samples: non-core candidates within reach of a core sample join the
    # lowest-numbered such cluster, as in scikit-learn's expansion order.
    big = np.iinfo(np.int32).max
    lowest = ndimage.minimum_filter(
        np.where(core, labels, big), footprint=footprint, mode="constant", cval=big
    )
    border = above & ~core & (lowest < big)
    labels[border] = lowest[border]
    return Clusters(labels, core, count)
