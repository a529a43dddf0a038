"""Which catalog stars a PRF fit models, and which of them it fits.

Every catalog star within ``star_buffer`` pixels of the stamp whose light on the stamp is
not negligible is *modelled*. The target and the brightest-on-the-stamp others that pass
the cuts (at most ``max_dmag`` fainter than the target, at least ``min_inside`` of their
flux on the stamp, within ``max_distance`` of the target, not closer than
``min_separation`` to a star already fitted) are *fitted*, up to ``max_stars``; the other
modelled stars are subtracted at their catalog flux.
"""

from __future__ import annotations

import attrs
import numpy as np

from tasoc_core.data import Stars, TargetData
from tasoc_core.exceptions import TargetError
from tasoc_core.photometry.magnitudes import mag_to_flux
from tasoc_core.prf import PRFModel, StarPRFs
from tasoc_psf._settings import CommonSettings

__all__ = ["NEGLIGIBLE", "StarSelection", "require_prf", "select_stars"]

#: Stars putting less than this fraction of the target's catalog flux on the stamp are
#: left out of the model.
NEGLIGIBLE = 1e-4


@attrs.frozen
class StarSelection:
    """The modelled stars: the target first, then the other fitted stars, then fixed ones.

    Attributes
    ----------
    stars
        Catalog rows of the modelled stars, in that order.
    n_fit
        ``stars[:n_fit]`` are fitted; the rest are subtracted at ``catalog_flux``.
    catalog_flux
        Flux (e-/s) of each modelled star from its magnitude.
    inside
        Fraction of each star's flux falling on the stamp (at the reference pointing).
    prfs
        The stars' PRFs, interpolated to their CCD positions.
    unit
        Unit-flux images of the stars at the reference pointing, (N, rows, cols).
    """

    stars: Stars
    n_fit: int
    catalog_flux: np.ndarray
    inside: np.ndarray
    prfs: StarPRFs
    unit: np.ndarray

    @property
    def n_fixed(self) -> int:
        return len(self.stars) - self.n_fit

    @property
    def positions(self) -> np.ndarray:
        """Catalog (row, col) of the modelled stars, (N, 2)."""
        return np.column_stack([self.stars.row, self.stars.col])


def require_prf(data: TargetData) -> PRFModel:
    """The target's PRF model; a TargetError naming the target and the reason if missing."""
    prf = data.prf
    if prf is None:
        target = data.target
        raise TargetError(
            f"{target}: no PRF model for camera {target.camera} CCD {target.ccd}: {data.prf_error}"
        )
    return prf


def select_stars(
    data: TargetData, settings: CommonSettings, reference_offset: np.ndarray
) -> StarSelection:
    """Choose the modelled and fitted stars of ``data``'s stamp.

    Parameters
    ----------
    data
        The target's data; its PRF must be available.
    settings
        The method's settings.
    reference_offset
        Pointing offset (Δrow, Δcol) at which stars' on-stamp fractions are judged.

    Raises
    ------
    TargetError
        If there is no PRF, the target is saturated, there is no catalog star near the stamp,
        or the target is not among them.
    """
    prf = require_prf(data)
    target = data.target
    stamp = data.stamp
    if target.tmag < settings.saturation_tmag:
        raise TargetError(
            f"{target}: the target is saturated (Tmag {target.tmag:g} < "
            f"{settings.saturation_tmag:g}): its bleed columns are not described by a PRF",
            tags={"saturated"},
        )
    near = data.stars_near(settings.star_buffer)
    ok = np.isfinite(near.row) & np.isfinite(near.col) & np.isfinite(near.tmag)
    near = near.select(ok)
    if len(near) == 0:
        raise TargetError(
            f"{target}: no catalog stars in or within {settings.star_buffer:g} px of stamp "
            f"{stamp.as_tuple()}; PRF photometry needs the catalog to place the stars"
        )
    try:
        it = near.index_of(target.starid)
    except KeyError:
        raise TargetError(
            f"{target}: the target is not among the {len(near)} catalog stars near stamp "
            f"{stamp.as_tuple()}"
        ) from None
    origin = (stamp.row_min, stamp.col_min)
    prfs = prf.for_stars(near.row, near.col)
    unit = prfs.render(
        near.row + reference_offset[0], near.col + reference_offset[1], origin, stamp.shape
    )[0]
    inside = unit.sum(axis=(1, 2))
    flux = np.asarray(mag_to_flux(near.tmag), dtype=float)
    on_stamp = flux * inside
    if not inside[it] > 0:
        raise TargetError(f"{target}: the target's PRF does not reach stamp {stamp.as_tuple()}")
    modelled = on_stamp >= NEGLIGIBLE * flux[it]
    modelled[it] = True

    distance = np.hypot(near.row - near.row[it], near.col - near.col[it])
    eligible = (
        modelled & (near.tmag <= target.tmag + settings.max_dmag) & (inside >= settings.min_inside)
    )
    if settings.max_distance is not None:
        eligible &= distance <= settings.max_distance
    eligible[it] = False
    fitted = [it]
    for j in np.argsort(-on_stamp, kind="stable"):
        if len(fitted) >= settings.max_stars:
            break
        if not eligible[j]:
            continue
        sep = np.hypot(near.row[fitted] - near.row[j], near.col[fitted] - near.col[j])
        if np.all(sep >= settings.min_separation):
            fitted.append(int(j))
    fixed = [int(j) for j in np.flatnonzero(modelled) if j not in fitted]
    fixed.sort(key=lambda j: -on_stamp[j])
    order = np.array(fitted + fixed, dtype=np.int64)
    return StarSelection(
        stars=near.select(order),
        n_fit=len(fitted),
        catalog_flux=flux[order],
        inside=inside[order],
        prfs=prfs.subset(order),
        unit=unit[order],
    )
