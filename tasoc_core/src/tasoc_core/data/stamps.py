"""Initial stamp size of an FFI target as a function of its TESS magnitude.

The relation is the original pipeline's (paper 003, Fig. 13): linear interpolation over 21
magnitude nodes, tall for bright stars because saturated charge bleeds along columns. The
result is rounded up and made odd so the target sits on the central pixel; below the
``minimum`` (11 px here, the paper's minimum stamp) it is clamped.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["default_stamp_size"]

_TMAG = np.array(
    [0, 0.526, 1.053, 1.579, 2.105, 2.632, 3.158, 3.684, 4.211, 4.737, 5.263, 5.789,
     6.316, 6.842, 7.368, 7.895, 8.421, 8.947, 9.474, 10, 13]
)  # fmt: skip
_HEIGHT = np.array(
    [832.0, 533.6, 344.1, 223.7, 147.3, 98.8, 68.0, 48.4, 36.0, 28.1, 23.0, 19.9,
     17.8, 16.6, 15.7, 15.2, 14.9, 14.7, 14.5, 14.5, 14.0]
)  # fmt: skip
_WIDTH = np.array(
    [157.7, 125.1, 100.0, 80.6, 65.7, 54.2, 45.3, 38.4, 33.2, 28.1, 23.0, 19.9,
     17.8, 16.6, 15.7, 15.2, 14.9, 14.7, 14.5, 14.5, 14.0]
)  # fmt: skip
# Beyond the last node the original kept 14 px; fainter stars need less.
_FAINT_TMAG, _FAINT_SIZE = 16.0, 11.0


def _odd(value: float, minimum: int) -> int:
    n = max(math.ceil(value), minimum)
    return n if n % 2 else n + 1


def default_stamp_size(tmag: float, *, minimum: int = 11) -> tuple[int, int]:
    """Initial (height, width) in pixels of the stamp for a star of magnitude ``tmag``.

    Examples
    --------
    >>> default_stamp_size(10.0)
    (15, 15)
    >>> default_stamp_size(2.0)
    (163, 69)
    """
    nodes = np.append(_TMAG, _FAINT_TMAG)
    height = float(np.interp(tmag, nodes, np.append(_HEIGHT, _FAINT_SIZE)))
    width = float(np.interp(tmag, nodes, np.append(_WIDTH, _FAINT_SIZE)))
    return _odd(height, minimum), _odd(width, minimum)
