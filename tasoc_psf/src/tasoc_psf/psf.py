"""``psf``: nonlinear PSF photometry, position and flux of each fitted star per cadence."""

from __future__ import annotations

import attrs
import numpy as np

from tasoc_core.data import TargetData
from tasoc_core.exceptions import TargetError
from tasoc_core.families import PhotometryMethod, PhotometryResult
from tasoc_psf._settings import CommonSettings, at_least, positive, positive_or_none

__all__ = ["PSFPhotometry"]


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
        #: A fitted position stays within this many pixels of catalog position + jitter.
        max_shift: float = attrs.field(default=1.0, validator=positive)
        #: Most model evaluations per cadence.
        max_nfev: int = attrs.field(default=50, validator=at_least(5))

    def photometry(self, data: TargetData) -> PhotometryResult:
        from tasoc_psf._threads import single_threaded_blas

        with single_threaded_blas():
            return self._photometry(data)

    def _photometry(self, data: TargetData) -> PhotometryResult:
        # Imported here: tasoc imports every plugin at start-up, and only psf needs these.
        from tasoc_psf._common import build_result, pixel_arrays
        from tasoc_psf._design import Design, jitter_groups
        from tasoc_psf._fit import fit_cadences
        from tasoc_psf._stars import select_stars

        s = self.settings
        stamp = data.stamp
        origin, shape = (stamp.row_min, stamp.col_min), stamp.shape
        groups = jitter_groups(data.pos_corr, s.jitter_step)
        selection = select_stars(data, s, groups.reference)
        design = Design(selection, groups, origin, shape)
        values, weight = pixel_arrays(data)
        fit = fit_cadences(
            selection,
            design,
            values,
            weight,
            origin=origin,
            shape=shape,
            max_shift=s.max_shift,
            max_nfev=s.max_nfev,
            aperture_correction=s.aperture_correction,
        )
        if not np.isfinite(fit.flux).any():
            raise TargetError(
                f"{data.target}: psf could not fit any cadence (no pixels with data under "
                f"the target's PRF in stamp {stamp.as_tuple()})"
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
            pixel_weights=fit.pixel_weights,
            fitted_flux=fit.fluxes,
            centroid=fit.centroid,
            chi2=fit.chi2,
            headers={
                "PSF_SHFT": (s.max_shift, "[pixels] largest fitted position offset"),
                "PSF_NFEV": (s.max_nfev, "most model evaluations per cadence"),
                "PSF_NCON": (unconverged, "cadences whose fit did not converge"),
            },
            diagnostics={"psf_unconverged": float(unconverged)},
            warnings=warnings,
        )
