"""The ``ensemble`` corrector: divide each star by a median of quiet neighbours."""

from __future__ import annotations

import numpy as np
from astropy.io import fits

from tasoc_core.exceptions import InputFileError, TargetError
from tasoc_core.families import CorrectionContext, CorrectionResult, Corrector, LightCurve
from tasoc_core.flags import QUALITY
from tasoc_core.status import Status
from tasoc_ensemble._stats import StatsCache
from tasoc_ensemble.ensemble import EnsembleResult, NotEnoughMembers, ensemble_correct
from tasoc_ensemble.settings import EnsembleSettings

__all__ = ["MIN_CADENCES", "EnsembleCorrector", "ensemble_hdu"]

#: Light curves with fewer usable cadences than this are refused.
MIN_CADENCES = 50
_REJECTED = QUALITY["Rejected"]


def _describe(lc: LightCurve) -> str:
    t = lc.target
    return (
        f"TIC {t.starid} ({lc.method}, sector {t.sector}, camera {t.camera} CCD {t.ccd}, "
        f"{t.cadence} s)"
    )


def ensemble_hdu(result: EnsembleResult) -> fits.BinTableHDU:
    """The ENSEMBLE extension: member TIC numbers and their background offsets ζ."""
    hdu = fits.BinTableHDU.from_columns(
        [
            fits.Column(name="TIC", format="K", array=result.members, disp="I10"),
            fits.Column(name="BZETA", format="E", array=result.zeta, disp="E26.17"),
        ],
        name="ENSEMBLE",
    )
    hdu.header.comments["TTYPE1"] = "column title: TIC identifier"
    hdu.header.comments["TTYPE2"] = "column title: background scale"
    return hdu


class EnsembleCorrector(Corrector):
    """Ensemble photometry: each star divided by the median of its quiet neighbours."""

    name = "ensemble"
    file_tag = "ens"  # paper 004 §5: …-tasoc-ens_lc.fits.gz
    header_name = "Ensemble"
    Settings = EnsembleSettings

    def __init__(self, settings: EnsembleSettings | None = None) -> None:
        super().__init__(settings)
        #: Prepared statistics of every light curve seen by this worker (targets and
        #: neighbours), so a neighbour shared by many targets is prepared once.
        self.cache = StatsCache(self.settings.cache_size)

    def correct(self, lc: LightCurve, context: CorrectionContext) -> CorrectionResult:
        settings: EnsembleSettings = self.settings
        target = self.cache.get(lc)
        if not np.any(np.isfinite(lc.flux)):
            raise TargetError(f"{_describe(lc)}: flux is NaN on every cadence")
        if target.ngood < MIN_CADENCES:
            raise TargetError(
                f"{_describe(lc)}: only {target.ngood} usable cadences "
                f"(need at least {MIN_CADENCES})"
            )
        if not target.valid:
            raise TargetError(f"{_describe(lc)}: median flux is not positive")
        try:
            neighbours = context.candidates(lc, limit=settings.max_neighbours)
        except InputFileError as exc:
            raise TargetError(f"{_describe(lc)}: a neighbour could not be read: {exc}") from None
        candidates = [self.cache.get(other) for other in neighbours]
        try:
            result = ensemble_correct(target, candidates, settings)
        except NotEnoughMembers as exc:
            raise TargetError(f"{_describe(lc)}: {exc}") from None

        median = float(np.nanmedian(result.flux))
        flux = 1e6 * (result.flux / median - 1.0)
        flux_err = 1e6 * np.asarray(lc.flux_err, dtype=np.float64) / result.scale / median
        flux_err[~np.isfinite(flux)] = np.nan
        quality = np.zeros(len(lc), dtype=np.int32)
        quality[np.isfinite(target.flux) & ~np.isfinite(flux)] |= _REJECTED
        return CorrectionResult(
            flux=flux,
            flux_err=flux_err,
            quality=quality,
            status=Status.OK,
            headers={
                "ENS_MED": (median, "Median of corrected light curve before ppm"),
                "ENS_NUM": (len(result.members), "Number of targets in ensemble"),
                "ENS_DLIM": (settings.drange_limit, "Limit on differenced range metric"),
                "ENS_DREL": (settings.drange_relative, "Limit on relative diff. range"),
                "ENS_RLIM": (settings.frange_limit, "Limit on flux range metric"),
            },
            extra_hdus=(ensemble_hdu(result),),
            diagnostics={"ens_num": float(len(result.members)), "ens_fom": result.fom},
        )
