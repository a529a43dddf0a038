"""Which catalog stars share the aperture, and how much of its light they contribute."""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs
import numpy as np

from tasoc_aperture.k2p2 import StampStars

if TYPE_CHECKING:
    from tasoc_core.data import Stars
    from tasoc_core.prf import PRFModel

__all__ = [
    "PRF_SIZE",
    "ApertureStars",
    "contamination",
    "prf_contamination",
    "stars_in_aperture",
]

#: Side of the PRF image of one star (pixels): the TESS PRF models' extent.
PRF_SIZE = 13
_ZERO_POINT = 20.451


@attrs.frozen
class ApertureStars:
    """The catalog stars whose pixel lies in the aperture, the target excepted.

    Attributes
    ----------
    starid, tmag
        TIC numbers and magnitudes of the other stars in the aperture.
    """

    starid: np.ndarray
    tmag: np.ndarray

    def fainter_than(self, tmag: float, starid: int) -> tuple[int, ...]:
        """TICs of the stars fainter than ``tmag`` (ties: those with a larger TIC number)."""
        fainter = (self.tmag > tmag) | ((self.tmag == tmag) & (self.starid > starid))
        return tuple(int(s) for s in self.starid[fainter])

    def brighter_than(self, tmag: float, starid: int) -> tuple[int, ...]:
        """TICs of the stars that are not :meth:`fainter_than` the target."""
        fainter = set(self.fainter_than(tmag, starid))
        return tuple(int(s) for s in self.starid if int(s) not in fainter)


def stars_in_aperture(stars: StampStars, aperture: np.ndarray, target: int) -> ApertureStars:
    """Stars other than ``target`` whose (rounded) position falls on an aperture pixel."""
    inside = stars.labels_at(aperture.astype(np.int8)) > 0
    other = inside & (stars.starid != target)
    return ApertureStars(stars.starid[other], stars.tmag[other])


def contamination(target_tmag: float, others_tmag: np.ndarray) -> float:
    """Fraction of the aperture's catalog flux from other stars (paper 003, Eq. 2).

    ``C = 1 − 10^(0.4 (Tmag_total − Tmag_target))`` where ``Tmag_total`` is the combined
    magnitude of the target and every other star in the aperture; equivalently
    ``1 − F_target / (F_target + Σ F_other)``.
    """
    others = np.asarray(others_tmag, dtype=np.float64)
    target_flux = 10.0 ** (-0.4 * target_tmag)
    total = target_flux + float(np.sum(10.0 ** (-0.4 * others)))
    return float(max(0.0, 1.0 - target_flux / total))


def prf_contamination(
    prf: PRFModel,
    stars: Stars,
    target: int,
    aperture_rows: np.ndarray,
    aperture_cols: np.ndarray,
) -> float:
    """Fraction of the aperture's light from other stars, through the PRF.

    Every catalog star is rendered with the CCD's PRF model at its position
    (``PRF_SIZE`` × ``PRF_SIZE`` pixels, flux from Tmag with the TESS zero point) and its
    light on the aperture pixels summed: ``C = 1 − F_target,ap / Σ F_k,ap``. Unlike
    :func:`contamination` (paper 003 Eq. 2, a lower bound) this counts the light of stars
    outside the aperture that spills into it and only the part of the target's light that
    falls on it. ``stars`` must hold the stars around the stamp as well (their light
    reaches in); ``aperture_rows``/``aperture_cols`` are CCD pixel coordinates.
    """
    if len(stars) == 0:
        return 0.0
    fractions, rows, cols = prf.stamps(stars.row, stars.col, PRF_SIZE)
    # PRF images reach PRF_SIZE pixels past the CCD edge at most: shift to non-negative.
    width = int(max(cols.max(), np.max(aperture_cols))) + 2 * PRF_SIZE + 1

    def code(r: np.ndarray, c: np.ndarray) -> np.ndarray:
        return (np.asarray(r) + PRF_SIZE) * width + (np.asarray(c) + PRF_SIZE)

    inside = np.isin(code(rows, cols), code(aperture_rows, aperture_cols))
    flux = 10.0 ** (-0.4 * (np.asarray(stars.tmag, dtype=np.float64) - _ZERO_POINT))
    on_aperture = np.where(inside, fractions, 0.0).sum(axis=1) * flux
    total = float(on_aperture.sum())
    own = float(on_aperture[stars.starid == target].sum())
    if total <= 0.0 or own <= 0.0:
        return float("nan")
    return float(min(1.0, max(0.0, 1.0 - own / total)))
