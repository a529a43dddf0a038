"""Which catalog stars share the aperture, and how much of its light they contribute."""

from __future__ import annotations

import attrs
import numpy as np

from tasoc_aperture.k2p2 import StampStars

__all__ = ["ApertureStars", "contamination", "stars_in_aperture"]


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
