"""The ``cbv`` corrector: co-trending with the CBVs of the star's CBV area."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from tasoc_cbv.basis import CBVSet
from tasoc_cbv.build import CBVBuildError, build_cbv_set
from tasoc_cbv.fit import FitError, fit_cbvs
from tasoc_cbv.io import find_spoc_cbv_files, parse_cbv_filename, read_cbv_fits, read_spoc_cbvs
from tasoc_cbv.prior import neighbour_prior
from tasoc_cbv.settings import CBVSettings
from tasoc_core.exceptions import ConfigError, InputFileError, TargetError
from tasoc_core.families import CorrectionContext, CorrectionResult, Corrector, LightCurve
from tasoc_core.flags import QUALITY
from tasoc_core.geometry import PLATE_SCALE, camera_centre_pixel, cbv_area
from tasoc_core.sectors import ffi_cadence
from tasoc_core.status import Status

__all__ = ["MIN_CADENCES", "CBVCorrector", "area_of"]

logger = logging.getLogger(__name__)

#: Light curves with fewer usable cadences than this are refused.
MIN_CADENCES = 50
_BAD = QUALITY.mask(["FlaggedBadData", "ManualExclude"])
_SIGMA_CLIP = QUALITY["SigmaClip"]
_REJECTED = QUALITY["Rejected"]


def _describe(lc: LightCurve) -> str:
    t = lc.target
    return f"TIC {t.starid} ({lc.method}, sector {t.sector}, camera {t.camera} CCD {t.ccd}, {t.cadence} s)"


def area_of(lc: LightCurve) -> int:
    """The light curve's CBV area: ``lc.cbv_area`` or, if unset, from its CCD position.

    The distance to the camera boresight is measured on the CCD (pixels × 21″), which is
    within a few per cent of the sky distance used by the catalog.
    """
    if lc.cbv_area is not None:
        return int(lc.cbv_area)
    row, col = lc.position
    if not (np.isfinite(row) and np.isfinite(col)):
        raise TargetError(f"{_describe(lc)}: no CBV area and no CCD position to derive it from")
    centre = camera_centre_pixel(lc.target.camera, lc.target.ccd)
    distance = np.hypot(row - centre[0], col - centre[1]) * PLATE_SCALE / 3600.0
    return int(cbv_area(lc.target.camera, lc.target.ccd, distance))


class CBVCorrector(Corrector):
    """Co-trending basis vectors per CBV area, fitted in pairs with clipping and BIC."""

    name = "cbv"
    header_name = "CBV"
    Settings = CBVSettings

    def __init__(self, settings: CBVSettings | None = None) -> None:
        super().__init__(settings)
        self._files: dict[tuple[int, int, int], Path] = {}
        self._sets: dict[tuple[int, int, int], CBVSet] = {}
        self._failed: dict[tuple[int, int, int], str] = {}
        self._spoc: dict[tuple[int, int, int], list[CBVSet]] = {}

    # --- products ------------------------------------------------------------------------

    def prepare(self, context: CorrectionContext) -> None:
        """Index the CBV files of ``context.work_dir`` (and the SPOC directory, if set)."""
        settings: CBVSettings = self.settings
        if settings.spoc_cbv_dir is not None and not Path(settings.spoc_cbv_dir).is_dir():
            raise ConfigError(
                f"correctors.cbv.spoc_cbv_dir: {settings.spoc_cbv_dir} is not a directory"
            )
        work_dir = Path(context.work_dir)
        if work_dir.is_dir():
            for path in sorted(work_dir.glob("tess-s*-tasoc_cbv.fits")):
                parsed = parse_cbv_filename(path.name)
                if parsed and parsed[3] == settings.version:
                    self._files[parsed[:3]] = path
        logger.debug("cbv: %d CBV files in %s", len(self._files), work_dir)

    def add_cbvs(self, cbvs: CBVSet) -> None:
        """Use ``cbvs`` for its sector, cadence and area (instead of a file or a build)."""
        if cbvs.area is None:
            raise ValueError("add_cbvs needs area CBVs")
        self._sets[(cbvs.sector, cbvs.cadence, cbvs.area)] = cbvs

    def _area_cbvs(self, lc: LightCurve, context: CorrectionContext) -> CBVSet:
        t = lc.target
        cadence = t.cadence if t.is_ffi else ffi_cadence(t.sector)
        area = area_of(lc)
        key = (t.sector, cadence, area)
        if key in self._sets:
            return self._sets[key]
        if key in self._failed:
            raise TargetError(f"{_describe(lc)}: {self._failed[key]}")
        if key in self._files:
            try:
                cbvs = read_cbv_fits(self._files[key])
            except InputFileError as exc:
                self._failed[key] = str(exc)
                raise TargetError(f"{_describe(lc)}: {exc}") from None
        elif self.settings.build_missing:
            logger.warning(
                "cbv: no CBV file for area %d (sector %d, %d s); building it in memory "
                "(run `tasoc cbv build` to build each area once)",
                area,
                t.sector,
                cadence,
            )
            try:
                cbvs = build_cbv_set(
                    context.light_curves(
                        camera=t.camera,
                        ccd=t.ccd,
                        cadence=cadence,
                        method=self.settings.build_method,
                        cbv_area=area,
                    ),
                    sector=t.sector,
                    camera=t.camera,
                    ccd=t.ccd,
                    cadence=cadence,
                    area=area,
                    version=self.settings.version,
                    settings=self.settings.build,
                )
            except (CBVBuildError, InputFileError) as exc:
                self._failed[key] = str(exc)
                raise TargetError(f"{_describe(lc)}: {exc}") from None
        else:
            message = (
                f"no CBVs for area {area} (sector {t.sector}, {cadence} s, version "
                f"{self.settings.version}); run `tasoc cbv build` first"
            )
            self._failed[key] = message
            raise TargetError(f"{_describe(lc)}: {message}")
        self._sets[key] = cbvs
        return cbvs

    def _spoc_cbvs(self, lc: LightCurve) -> CBVSet:
        t = lc.target
        key = (t.sector, t.camera, t.ccd)
        if key not in self._spoc:
            files = find_spoc_cbv_files(self.settings.spoc_cbv_dir, t.sector, t.camera, t.ccd)
            sets = []
            for path in files:
                try:
                    sets.append(read_spoc_cbvs(path))
                except InputFileError as exc:
                    logger.warning("cbv: %s", exc)
            self._spoc[key] = sets
        sets = self._spoc[key]
        if not sets:
            raise TargetError(
                f"{_describe(lc)}: no SPOC CBV file for sector {t.sector}, camera {t.camera}, "
                f"CCD {t.ccd} in {self.settings.spoc_cbv_dir}"
            )
        # Same cadence if there is one, else the fastest slower-or-equal one, else the slowest.
        exact = [s for s in sets if s.cadence == t.cadence]
        if exact:
            return exact[0]
        faster = [s for s in sets if s.cadence < t.cadence]
        return (
            max(faster, key=lambda s: s.cadence) if faster else min(sets, key=lambda s: s.cadence)
        )

    # --- correction ----------------------------------------------------------------------

    def correct(self, lc: LightCurve, context: CorrectionContext) -> CorrectionResult:
        settings: CBVSettings = self.settings
        flux = np.asarray(lc.flux, dtype=np.float64)
        good = np.isfinite(flux) & ((lc.quality & _BAD) == 0)
        if not np.any(np.isfinite(flux)):
            raise TargetError(f"{_describe(lc)}: flux is NaN on every cadence")
        if good.sum() < MIN_CADENCES:
            raise TargetError(
                f"{_describe(lc)}: only {int(good.sum())} usable cadences "
                f"(need at least {MIN_CADENCES})"
            )
        median = float(np.median(flux[good]))
        if not median > 0:
            raise TargetError(f"{_describe(lc)}: median flux {median:.4g} e-/s is not positive")

        if settings.spoc_cbv_dir is not None:
            cbvs = self._spoc_cbvs(lc)
            clock = lc.time
        else:
            cbvs = self._area_cbvs(lc, context)
            clock = lc.time - lc.timecorr
        single, spike, how = cbvs.on_cadences(clock, lc.cadenceno, lc.target.cadence)
        use = cbvs.usable(settings.build.threshold_snrtest)
        single, spike = single[:, use], spike[:, use]

        y = np.where(good, flux / median - 1.0, np.nan)
        err = np.asarray(lc.flux_err, dtype=np.float64) / median
        warnings: list[str] = []
        prior = None
        if settings.use_prior:
            if cbvs.coefficients is None:
                warnings.append(f"no stored coefficients for {cbvs.label}: fitted without prior")
            else:
                row, col = lc.position
                prior = neighbour_prior(
                    cbvs.coefficients,
                    row=row,
                    col=col,
                    tmag=lc.target.tmag,
                    vectors=use,
                    nvectors=cbvs.ncomponents,
                    starid=lc.target.starid,
                    neighbours=settings.prior_neighbours,
                )
                if prior is None:
                    warnings.append(f"too few neighbours for a prior in {cbvs.label}")
        try:
            fit = fit_cbvs(
                y,
                err,
                single,
                spike,
                use_bic=settings.use_bic,
                clip_sigma=settings.clip_sigma,
                max_iterations=settings.max_iterations,
                prior=prior,
            )
        except FitError as exc:
            raise TargetError(f"{_describe(lc)}: {exc} with {cbvs.label}") from None
        if not fit.converged:
            warnings.append(
                f"sigma clipping still removing points after {settings.max_iterations} iterations"
            )

        divisor = 1.0 + fit.model
        corrected = np.where(good, 1e6 * ((y + 1.0) / divisor - 1.0), np.nan)
        corrected_err = np.where(np.isfinite(corrected), 1e6 * err / divisor, np.nan)
        quality = np.zeros(len(lc), dtype=np.int32)
        quality[fit.clipped & good] |= _SIGMA_CLIP
        quality[good & ~np.isfinite(corrected)] |= _REJECTED
        return CorrectionResult(
            flux=corrected,
            flux_err=corrected_err,
            quality=quality,
            status=Status.WARNING if warnings else Status.OK,
            warnings=tuple(warnings),
            headers=self._headers(lc, cbvs, use, fit, how, prior is not None),
            diagnostics={"cbv_num": float(fit.ncbv)},
        )

    def _headers(
        self, lc: LightCurve, cbvs: CBVSet, use: np.ndarray, fit: Any, how: str, with_prior: bool
    ) -> dict[str, tuple[Any, str]]:
        k = len(use)
        headers: dict[str, tuple[Any, str]] = {
            "CBV_AREA": (area_of(lc), "CBV area of star"),
            "CBV_SRC": ("SPOC" if cbvs.source == "spoc" else "TASOC", "Origin of the CBVs"),
            "CBV_ALGN": (how, "How CBVs were put on the light curve's cadences"),
            "CBV_MET": ("MAP" if with_prior else "LS", "Method used to fit CBVs"),
            "CBV_BIC": (bool(self.settings.use_bic), "Was BIC used to select no of CBVs"),
            "CBV_PRI": (with_prior, "Was prior used"),
            "CBV_MAX": (k, "Number of possible CBVs to fit"),
            "CBV_NUM": (fit.ncbv, "Number of fitted CBVs"),
            "CBV_C0": (float(fit.coefficients[0]), "Fitted offset"),
        }
        for j in range(fit.ncbv):
            n = int(use[j]) + 1
            headers[f"CBV_C{n}"] = (float(fit.coefficients[1 + j]), f"CBV{n} coefficient")
        for j in range(fit.ncbv):
            n = int(use[j]) + 1
            headers[f"CBVS_C{n}"] = (
                float(fit.coefficients[1 + k + j]),
                f"Spike-CBV{n} coefficient",
            )
        return headers
