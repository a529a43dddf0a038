"""Boundary relations of the data validation versus TESS magnitude (reference §14.3).

The nodes are the original pipeline's (paper 003, Figs. 10–12, red lines). Except for the
contamination bound, values are interpolated linearly in log10 versus Tmag; beyond the end
nodes the end values are kept.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "contamination_upper_bound",
    "ffi_mask_size_max",
    "ffi_mask_size_min",
    "flux_lower_bound",
    "mask_size_bounds",
    "tpf_mask_size_min",
]

_FLUX_TMAG = np.array([0, 1.5, 9, 12.6, 13, 14, 15, 16, 17, 18, 19], dtype=float)
_FLUX = np.array([8e7, 1.8e7, 12500, 250, 59, 5, 1, 1, 1, 1, 1], dtype=float)

_MASK_TMAG = np.array([0, 2, 2.7, 3.55, 4.2, 4.8, 5.5, 6.8, 7.6, 8.4, 9.1, 10, 10.5, 11, 11.5])
_FFI_MIN_TMAG = np.append(_MASK_TMAG, [11.6, 16])
_FFI_MIN = np.array(
    [30, 30, 30, 30, 29, 28, 27, 26, 25, 22, 20, 15, 11.15, 8, 5, 4, 4], dtype=float
)
_FFI_MAX_TMAG = np.append(_MASK_TMAG, [12, 12.7, 13.3, 14, 14.5, 15, 16])
_FFI_MAX = np.array(
    [10000, 3200, 2400, 1400, 1200, 900, 800, 470, 260, 200, 170, 130, 120, 100, 94, 86, 76,
     67, 59, 54, 50, 50],
    dtype=float,
)  # fmt: skip
_TPF_MIN_TMAG = np.append(_MASK_TMAG, [11.6, 16, 19])
_TPF_MIN = np.array(
    [220, 200, 130, 70, 55, 43, 36, 30, 27, 22, 16, 10, 8, 6, 5, 4, 4, 4], dtype=float
)
_MIN_MASK = 4

_CONTAM_TMAG = np.arange(0, 21, dtype=float)
_CONTAM = np.array(
    [0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.12, 0.2, 0.3, 0.45, 0.6, 0.7, 0.8, 0.9, 0.9, 0.9, 0.9,
     0.9, 0.9, 0.9, 0.9]
)  # fmt: skip


def _loginterp(tmag: np.ndarray | float, nodes: np.ndarray, values: np.ndarray) -> np.ndarray:
    value = 10.0 ** np.interp(np.asarray(tmag, dtype=np.float64), nodes, np.log10(values))
    # 10**log10(130) is 130.00000000000003: round away the representation error so that
    # floor and ceil of a node value give the node value.
    return np.round(value, 9)


def flux_lower_bound(tmag: np.ndarray | float) -> np.ndarray:
    """Lowest acceptable mean flux (e-/s) of a star of magnitude ``tmag`` (at least 1)."""
    return np.maximum(_loginterp(tmag, _FLUX_TMAG, _FLUX), 1.0)


def ffi_mask_size_min(tmag: np.ndarray | float) -> np.ndarray:
    """Smallest acceptable FFI aperture (pixels): floored, at least 4."""
    return np.maximum(np.floor(_loginterp(tmag, _FFI_MIN_TMAG, _FFI_MIN)), _MIN_MASK)


def ffi_mask_size_max(tmag: np.ndarray | float) -> np.ndarray:
    """Largest acceptable FFI aperture (pixels): ceiled."""
    return np.ceil(_loginterp(tmag, _FFI_MAX_TMAG, _FFI_MAX))


def tpf_mask_size_min(tmag: np.ndarray | float) -> np.ndarray:
    """Smallest acceptable TPF aperture (pixels): floored, at least 4.

    TPF apertures have no upper bound: the downloaded stamp limits them.
    """
    return np.maximum(np.floor(_loginterp(tmag, _TPF_MIN_TMAG, _TPF_MIN)), _MIN_MASK)


def mask_size_bounds(
    tmag: np.ndarray | float, is_ffi: np.ndarray | bool
) -> tuple[np.ndarray, np.ndarray]:
    """(minimum, maximum) aperture sizes; the maximum is +inf for TPF data."""
    tmag = np.asarray(tmag, dtype=np.float64)
    is_ffi = np.broadcast_to(np.asarray(is_ffi, dtype=bool), tmag.shape)
    low = np.where(is_ffi, ffi_mask_size_min(tmag), tpf_mask_size_min(tmag))
    high = np.where(is_ffi, ffi_mask_size_max(tmag), np.inf)
    return low, high


def contamination_upper_bound(tmag: np.ndarray | float) -> np.ndarray:
    """Highest unremarkable contamination at ``tmag`` (linear in Tmag, 0.1 to 0.9)."""
    return np.interp(np.asarray(tmag, dtype=np.float64), _CONTAM_TMAG, _CONTAM)
