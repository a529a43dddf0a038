"""``linpsf``: linear PRF photometry at catalog positions (paper 003, §5.3)."""

from __future__ import annotations

import attrs
import numpy as np

from tasoc_core.data import TargetData
from tasoc_core.exceptions import TargetError
from tasoc_core.families import PhotometryMethod, PhotometryResult
from tasoc_psf._settings import CommonSettings, at_least

__all__ = ["LinPSFPhotometry"]


def _median(values: np.ndarray) -> float:
    finite = values[np.isfinite(values)]
    return float(np.median(finite)) if finite.size else np.nan


def _rms(values: np.ndarray) -> float | None:
    finite = values[np.isfinite(values)]
    if finite.size < 2:
        return None
    return round(float(np.std(finite)), 6)


class LinPSFPhotometry(PhotometryMethod):
    """Linear PRF photometry: every star's flux at its catalog position, per cadence."""

    name = "linpsf"

    @attrs.frozen(kw_only=True)
    class Settings(CommonSettings):
        """Settings of ``[methods.linpsf]`` (see the tasoc-psf README)."""

        #: Cadences solved at once (memory: chunk × pixels × stars × 8 bytes).
        chunk: int = attrs.field(default=256, validator=at_least(1))

    def photometry(self, data: TargetData) -> PhotometryResult:
        from tasoc_core.blas import single_threaded_blas

        with single_threaded_blas():
            return self._photometry(data)

    def _photometry(self, data: TargetData) -> PhotometryResult:
        # Imported here: tasoc imports every plugin at start-up, and only linpsf needs these.
        from tasoc_psf._common import aperture_2x2, build_result
        from tasoc_psf._setup import fit_setup
        from tasoc_psf._solve import solve_cadences

        s = self.settings
        setup = fit_setup(data, s, chunk=s.chunk, every_cadence=False)
        selection, design = setup.selection, setup.design
        values, weight, first = setup.values, setup.weight, setup.first
        positions = selection.positions[0] + setup.groups.offsets
        aperture = (
            aperture_2x2(positions, setup.origin, setup.shape) if s.aperture_correction else None
        )
        t_all = values.shape[0]
        chunks = [slice(a, min(t_all, a + s.chunk)) for a in range(0, t_all, s.chunk)]
        reference_flux = first.reference_flux if s.fit_width else None

        n = selection.n_fit
        fluxes = np.full((t_all, n), np.nan)
        width = np.full(t_all, np.nan)
        local = np.zeros(t_all)
        flux = np.full(t_all, np.nan)
        flux_err = np.full(t_all, np.nan)
        chi2 = np.full(t_all, np.nan)
        for sl in chunks:
            matrices = design.matrices(sl)
            columns = [matrices[:, :, :-1]]
            if reference_flux is not None:
                columns.append(design.width_column(sl, reference_flux)[:, :, None])
            if s.fit_background:
                columns.append(np.ones((matrices.shape[0], matrices.shape[1], 1)))
            solution = solve_cadences(
                np.concatenate(columns, axis=2) if len(columns) > 1 else columns[0],
                values[sl] - matrices[:, :, -1],
                weight[sl],
                None if aperture is None else aperture[sl],
            )
            fluxes[sl] = solution.flux[:, :n]
            if reference_flux is not None:
                width[sl] = solution.flux[:, n]
            if s.fit_background:
                local[sl] = solution.flux[:, -1]
            flux[sl] = solution.target_flux
            flux_err[sl] = solution.target_err
            chi2[sl] = solution.chi2
        if not np.isfinite(flux).any():
            raise TargetError(
                f"{data.target}: linpsf could not fit any cadence (no pixels with data under "
                f"the target's PRF in stamp {data.stamp.as_tuple()})"
            )
        return build_result(
            data,
            s,
            selection,
            method="linpsf",
            flux=flux,
            flux_err=flux_err,
            local_background=np.where(np.isfinite(local), local, 0.0),
            mask=first.mask,
            fitted_flux=fluxes,
            centroid=positions,
            chi2=chi2,
            headers={
                "PSF_JGRP": (design.n_groups, "pointing groups of the Taylor expansion"),
                "PSF_JSTP": (s.jitter_step, "[pixels] pointing group size"),
                "PSF_WRMS": (_rms(width), "rms of the fitted relative width change"),
            },
            diagnostics={
                "linpsf_jitter_groups": float(design.n_groups),
                "linpsf_width_rms": _rms(width) or np.nan,
                "linpsf_background": _median(local) if s.fit_background else np.nan,
            },
            warnings=[],
        )
