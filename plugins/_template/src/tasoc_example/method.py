"""Fixed circular-aperture photometry."""

from __future__ import annotations

import attrs
import numpy as np

from tasoc_core.data import TargetData
from tasoc_core.exceptions import TargetError
from tasoc_core.families import PhotometryMethod, PhotometryResult
from tasoc_core.status import Status

__all__ = ["CircularAperture"]


def _positive(instance: object, attribute: attrs.Attribute, value: float) -> None:
    if not value > 0:
        raise ValueError(f"{attribute.name} must be positive, got {value}")


class CircularAperture(PhotometryMethod):
    """Sum of the pixels whose centres lie within a fixed radius of the target."""

    name = "example"

    @attrs.frozen
    class Settings:
        #: Aperture radius in pixels.
        radius: float = attrs.field(default=2.5, validator=_positive)

    def photometry(self, data: TargetData) -> PhotometryResult:
        row, col = data.position_in_stamp
        rows, cols = np.indices(data.stamp.shape)
        aperture = np.hypot(rows - row, cols - col) <= self.settings.radius
        if not aperture.any():
            raise TargetError(f"{data.target}: no pixel centre within {self.settings.radius} px")
        images = data.images[:, aperture]
        flux = np.nansum(images, axis=1)
        flux_err = np.sqrt(np.nansum(data.images_err[:, aperture] ** 2, axis=1))
        empty = np.all(~np.isfinite(images), axis=1)
        flux[empty] = flux_err[empty] = np.nan
        weights = np.clip(images, 0, None)
        total = weights.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            centroid = np.stack(
                [
                    (weights * rows[aperture]).sum(axis=1) / total + data.stamp.row_min,
                    (weights * cols[aperture]).sum(axis=1) / total + data.stamp.col_min,
                ],
                axis=1,
            )
        stars = data.stars
        inside = aperture[
            np.clip(np.round(stars.row - data.stamp.row_min).astype(int), 0, aperture.shape[0] - 1),
            np.clip(np.round(stars.col - data.stamp.col_min).astype(int), 0, aperture.shape[1] - 1),
        ] & np.array([data.stamp.contains(r, c) for r, c in zip(stars.row, stars.col)], dtype=bool)
        others = inside & (stars.starid != data.target.starid)
        total_flux = np.sum(10 ** (-0.4 * stars.tmag[inside])) if inside.any() else np.nan
        contamination = (
            float(1.0 - 10 ** (-0.4 * data.target.tmag) / total_flux) if inside.any() else None
        )
        status = Status.WARNING if contamination is not None and contamination > 0.5 else Status.OK
        return PhotometryResult(
            data=data,
            flux=flux,
            flux_err=flux_err,
            background=np.nansum(data.backgrounds[:, aperture], axis=1),
            centroid=centroid,
            aperture=aperture,
            status=status,
            warnings=("more than half the aperture flux is from other stars",)
            if status == Status.WARNING
            else (),
            contamination=contamination,
            skip_targets=tuple(
                int(s) for s in stars.starid[others & (stars.tmag > data.target.tmag)]
            ),
            headers={"EX_RAD": (self.settings.radius, "[pixels] aperture radius")},
        )
