"""``psf``: nonlinear PSF photometry, position and flux of each fitted star per cadence."""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs
import numpy as np

from tasoc_core.data import TargetData
from tasoc_core.exceptions import TargetError
from tasoc_core.families import PhotometryMethod, PhotometryResult
from tasoc_psf._settings import CommonSettings, at_least, positive, positive_or_none

if TYPE_CHECKING:
    from tasoc_psf._stars import StarSelection

__all__ = ["PSFPhotometry"]


def _placeable(
    selection: StarSelection, flux: np.ndarray, weight: np.ndarray, min_snr: float
) -> np.ndarray:
    """Fitted stars (n,) measured with flux/uncertainty ≥ ``min_snr`` on a typical cadence."""
    typical = np.median(weight, axis=0)  # (P,)
    unit = selection.unit[: selection.n_fit].reshape(selection.n_fit, -1)
    with np.errstate(divide="ignore"):
        sigma = 1.0 / np.sqrt(unit**2 @ typical)
    return np.asarray(flux / sigma >= min_snr)


class PSFPhotometry(PhotometryMethod):
    """Nonlinear PSF photometry: position and flux of each nearby star fitted per cadence."""

    name = "psf"

    @attrs.frozen(kw_only=True)
    class Settings(CommonSettings):
        """Settings of ``[methods.psf]`` (see the tasoc-psf README)."""

        #: Most stars fitted (three parameters each), the target included.
        max_stars: int = attrs.field(default=5, validator=at_least(1))
        #: Fitted stars are at most this many pixels from the target.
        max_distance: float | None = attrs.field(default=5.0, validator=positive_or_none)
        #: Positions are fitted for stars measured at least this well per cadence (flux over
        #: its uncertainty, roughly 1/positional precision in pixels); fainter stars stay at
        #: catalog position + jitter, where a free position would only follow the noise.
        min_position_snr: float = attrs.field(default=30.0, validator=at_least(0.0))
        #: A fitted position stays within this many pixels of catalog position + jitter.
        max_shift: float = attrs.field(default=1.0, validator=positive)
        #: Most model evaluations per cadence.
        max_nfev: int = attrs.field(default=50, validator=at_least(5))

    def photometry(self, data: TargetData) -> PhotometryResult:
        from tasoc_core.blas import single_threaded_blas

        with single_threaded_blas():
            return self._photometry(data)

    def _photometry(self, data: TargetData) -> PhotometryResult:
        # Imported here: tasoc imports every plugin at start-up, and only psf needs these.
        from tasoc_psf._common import build_result
        from tasoc_psf._fit import fit_cadences
        from tasoc_psf._setup import fit_setup

        s = self.settings
        setup = fit_setup(data, s)
        selection, design = setup.selection, setup.design
        values, weight, first = setup.values, setup.weight, setup.first
        free = _placeable(selection, first.reference_flux, weight, s.min_position_snr)
        fit = fit_cadences(
            selection,
            design,
            values,
            weight,
            first.flux,
            free,
            origin=setup.origin,
            shape=setup.shape,
            max_shift=s.max_shift,
            max_nfev=s.max_nfev,
            aperture_correction=s.aperture_correction,
            fit_width=s.fit_width,
            fit_background=s.fit_background,
        )
        if not np.isfinite(fit.flux).any():
            raise TargetError(
                f"{data.target}: psf could not fit any cadence (no pixels with data under "
                f"the target's PRF in stamp {data.stamp.as_tuple()})"
            )
        warnings = []
        fitted = np.isfinite(fit.flux)
        unconverged = int(np.count_nonzero(fitted & ~fit.converged))
        if unconverged > 0.05 * fitted.sum():
            warnings.append(
                f"the fit did not converge within {s.max_nfev} evaluations on "
                f"{unconverged} of {int(fitted.sum())} cadences"
            )
        return build_result(
            data,
            s,
            selection,
            method="psf",
            flux=fit.flux,
            flux_err=fit.flux_err,
            local_background=fit.background,
            mask=first.mask,
            fitted_flux=fit.fluxes,
            centroid=fit.centroid,
            chi2=fit.chi2,
            headers={
                "PSF_SHFT": (s.max_shift, "[pixels] largest fitted position offset"),
                "PSF_NFEV": (s.max_nfev, "most model evaluations per cadence"),
                "PSF_NCON": (unconverged, "cadences whose fit did not converge"),
                "PSF_NPOS": (int(free.sum()), "stars whose position is fitted"),
            },
            diagnostics={"psf_unconverged": float(unconverged)},
            warnings=warnings,
        )
