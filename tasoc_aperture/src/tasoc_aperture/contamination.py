"""Which catalog stars share the aperture, and how much of its light they contribute."""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs
import numpy as np

from tasoc_aperture.k2p2 import StampStars
from tasoc_core.photometry.magnitudes import mag_to_flux

if TYPE_CHECKING:
    from tasoc_core.data import Stars
    from tasoc_core.prf import PRFModel

__all__ = [
    "ApertureStars",
    "contamination",
    "prf_contamination",
    "stars_in_aperture",
]


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
    (:meth:`tasoc_core.prf.StarPRFs.render`, the whole PRF image; flux from Tmag with
    :func:`~tasoc_core.photometry.magnitudes.mag_to_flux`) and its light on the aperture
    pixels summed: ``C = 1 − F_target,ap / Σ F_k,ap``. Unlike :func:`contamination`
    (paper 003 Eq. 2, a lower bound) this counts the light of stars outside the aperture
    that spills into it and only the part of the target's light that falls on it.
    ``stars`` must hold the stars around the stamp as well (their light reaches in);
    ``aperture_rows``/``aperture_cols`` are CCD pixel coordinates.
    """
    if len(stars) == 0:
        return 0.0
    ap_rows = np.asarray(aperture_rows, dtype=np.int64)
    ap_cols = np.asarray(aperture_cols, dtype=np.int64)
    # Render on the aperture's bounding box.
    origin = (int(ap_rows.min()), int(ap_cols.min()))
    on = np.zeros((int(ap_rows.max()) - origin[0] + 1, int(ap_cols.max()) - origin[1] + 1), bool)
    on[ap_rows - origin[0], ap_cols - origin[1]] = True
    unit = prf.for_stars(stars.row, stars.col).render(stars.row, stars.col, origin, on.shape)[0]
    on_aperture = unit[:, on].sum(axis=1) * mag_to_flux(stars.tmag)
    total = float(on_aperture.sum())
    own = float(on_aperture[stars.starid == target].sum())
    if total <= 0.0 or own <= 0.0:
        return float("nan")
    return float(min(1.0, max(0.0, 1.0 - own / total)))
