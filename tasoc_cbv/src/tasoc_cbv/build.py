"""Building the co-trending basis vectors of one CBV area (paper 004 §3.1.1, reference §15.3).

Steps, on the relative light curves of the area's stars (``flux / mean − 1``):

1. Cadences flagged SafeMode, EarthPoint, Desat or ManualExclude (SPOC bits 170) or tasoc
   ManualExclude are removed, as are non-finite fluxes.
2. Cadences missing for more than half of the stars are shared gaps and get no CBV value;
   stars missing more than half of the remaining cadences are not used.
3. Variability (scatter around a weighted cubic over the median error) is measured and stars
   above ``threshold_variability`` × the median are left out.
4. The ``threshold_correlation`` fraction of stars with the highest median absolute
   correlation to the others are kept (normalised matrix products, in row blocks).
5. Individual gaps are filled by PCHIP; each row is scaled to unit white noise.
6. Principal components (16) by eigen-decomposition of the Gram matrix, with entropy
   cleaning of stars that dominate a vector.
7. Each vector is split into a normal and a spike vector.
8. Optionally every star of the area is fitted with all CBVs and its coefficients stored,
   for the corrector's prior.

Departures from the original, with reasons, are listed in the package README.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

import attrs
import numpy as np
from astropy.io import fits

from tasoc_cbv._matrix import AreaMatrix, assemble, correlation_rank, fill_gaps, variability
from tasoc_cbv._pca import clean_pca
from tasoc_cbv._spikes import split_spikes
from tasoc_cbv.basis import CBVCoefficients, CBVSet
from tasoc_cbv.fit import FitError, fit_cbvs
from tasoc_cbv.io import cbv_filename, write_cbv_fits
from tasoc_cbv.settings import CBVBuildSettings
from tasoc_core.exceptions import TasocError
from tasoc_core.families import CorrectionContext, LightCurve

__all__ = ["CBVBuildError", "build_cbv_set", "build_cbvs", "fit_area_coefficients"]

logger = logging.getLogger(__name__)

_MAD = 1.4826


class CBVBuildError(TasocError):
    """CBVs cannot be built for an area (too few usable stars, or an existing file differs).

    ``stars`` is the number of stars with light curves in the area when the area has too
    few usable stars or cadences (None for other reasons).
    """

    def __init__(self, message: str, *, stars: int | None = None) -> None:
        super().__init__(message)
        self.stars = stars


def _label(sector: int, camera: int, ccd: int, cadence: int, area: int) -> str:
    return f"CBV area {area} (sector {sector}, camera {camera}, CCD {ccd}, {cadence} s)"


def build_cbv_set(
    light_curves: Iterable[LightCurve],
    *,
    sector: int,
    camera: int,
    ccd: int,
    cadence: int,
    area: int,
    version: int = 1,
    settings: CBVBuildSettings | None = None,
) -> CBVSet:
    """Build the CBVs of one area from its stars' raw light curves (in memory).

    Parameters
    ----------
    light_curves
        Raw light curves of the area's stars (one cadence, one photometry method).
    sector, camera, ccd, cadence, area
        What is being built; recorded in the result.
    version
        Data-release version recorded in the result.
    settings
        Build settings (defaults: the original pipeline's).

    Returns
    -------
    CBVSet
        The vectors, with ``meta`` holding the build statistics and settings as header cards.

    Raises
    ------
    CBVBuildError
        If the area has fewer than ``settings.min_stars`` usable low-variability stars.
    """
    settings = settings or CBVBuildSettings()
    label = _label(sector, camera, ccd, cadence, area)
    matrix = assemble(light_curves)
    narea = matrix.nstars
    if narea < settings.min_stars:
        raise CBVBuildError(
            f"{label}: only {narea} stars with light curves; CBVs need at least "
            f"{settings.min_stars} low-variability stars",
            stars=narea,
        )
    good = np.isfinite(matrix.flux)
    columns = good.mean(axis=0) >= 0.5  # the rest are gaps shared by most stars
    if columns.sum() < 20:
        raise CBVBuildError(f"{label}: only {int(columns.sum())} cadences with data", stars=narea)
    usable = good[:, columns].mean(axis=1) >= 0.5
    var = variability(matrix)
    usable &= np.isfinite(var)
    if usable.sum() < settings.min_stars:
        raise CBVBuildError(
            f"{label}: only {int(usable.sum())} stars have data on more than half of the "
            f"cadences (need {settings.min_stars})",
            stars=narea,
        )
    median_var = float(np.median(var[usable]))
    low = np.flatnonzero(usable & (var < settings.threshold_variability * median_var))
    if len(low) < settings.min_stars:
        raise CBVBuildError(
            f"{label}: only {len(low)} stars below {settings.threshold_variability} × the "
            f"median variability (need {settings.min_stars})",
            stars=narea,
        )
    flux = matrix.flux[low][:, columns]
    chosen = low
    if settings.threshold_correlation < 1.0:
        rank = correlation_rank(flux)
        nkeep = max(int(settings.threshold_correlation * len(low)), settings.min_stars)
        order = np.argsort(-rank, kind="stable")[: min(nkeep, len(low))]
        order.sort()
        flux, chosen = flux[order], low[order]
    filled, ninterp = fill_gaps(flux)
    # Rows in units of their own white noise: the PCA then weighs stars by signal-to-noise.
    d = np.diff(filled, axis=1)
    noise = _MAD * np.median(np.abs(d - np.median(d, axis=1)[:, None]), axis=1) / np.sqrt(2)
    noise = np.where(noise > 0, noise, np.nanstd(filled, axis=1) + 1e-12)
    X = filled / noise[:, None]
    k = min(settings.ncomponents, X.shape[0] - 1)
    result, removed = clean_pca(
        X, k, threshold=settings.threshold_entropy, max_removals=settings.max_entropy_removals
    )
    if len(removed):
        logger.info("%s: entropy cleaning removed %d stars", label, len(removed))
    vectors = np.full((matrix.flux.shape[1], result.vectors.shape[1]), np.nan)
    vectors[columns] = result.vectors
    single, spike = split_spikes(vectors, matrix.time, cadence / 86400.0)
    stats = {
        "NAREA": (narea, "Stars in the area"),
        "NLOWVAR": (len(low), "Stars passing the variability cut"),
        "NCORR": (len(chosen), "Stars passing the correlation cut"),
        "NENTREM": (len(removed), "Stars removed by entropy cleaning"),
        "NSTARS": (len(result.kept), "Stars used to compute the CBVs"),
        "AVGINTP": (round(ninterp / max(len(chosen), 1), 3), "Mean interpolated points per star"),
    }
    cbvs = CBVSet(
        sector=sector,
        camera=camera,
        ccd=ccd,
        cadence=cadence,
        area=area,
        time=matrix.time,
        cadenceno=matrix.cadenceno,
        single=single,
        spike=spike,
        source="tasoc",
        version=version,
        nstars=len(result.kept),
        meta={**settings.header_cards(), **stats},
    )
    if settings.store_coefficients:
        coefficients = fit_area_coefficients(matrix, cbvs, settings.threshold_snrtest)
        cbvs = attrs.evolve(cbvs, coefficients=coefficients)
    logger.info(
        "%s: %d stars, %d low-variability, %d used for %d CBVs",
        label,
        narea,
        len(low),
        len(result.kept),
        cbvs.ncomponents,
    )
    return cbvs


def fit_area_coefficients(
    matrix: AreaMatrix, cbvs: CBVSet, threshold_snrtest: float
) -> CBVCoefficients:
    """Fit every star of the area with all CBVs passing the SNR test (no BIC, no prior).

    These coefficients are what the optional prior of the corrector is built from
    (reference §15.3 step 10, "initial co-trending").
    """
    use = cbvs.usable(threshold_snrtest)
    k = cbvs.ncomponents
    values = np.full((matrix.nstars, 1 + 2 * k), np.nan)
    layout = np.concatenate([[0], 1 + use, 1 + k + use])
    single, spike = cbvs.single[:, use], cbvs.spike[:, use]
    for i in range(matrix.nstars):
        rel = 1.0 + matrix.flux[i]
        med = np.nanmedian(rel) if np.any(np.isfinite(rel)) else np.nan
        if not np.isfinite(med) or med <= 0:
            continue
        try:
            fit = fit_cbvs(rel / med - 1.0, matrix.err[i] / med, single, spike, use_bic=False)
        except FitError:
            continue
        values[i, layout] = fit.coefficients
    return CBVCoefficients(
        starid=matrix.starid, row=matrix.row, col=matrix.col, tmag=matrix.tmag, values=values
    )


def _check_existing(path: Path, settings: CBVBuildSettings) -> None:
    try:
        header = fits.getheader(path, 0)
    except OSError as exc:
        raise CBVBuildError(
            f"existing CBV file {path} cannot be read ({exc}); use --overwrite"
        ) from None
    for key, (value, _comment) in settings.header_cards().items():
        if key in header and header[key] != value:
            raise CBVBuildError(
                f"existing CBV file {path} was built with {key} = {header[key]!r}, the "
                f"settings ask for {value!r}; use --overwrite (or another version) to rebuild"
            )


def build_cbvs(
    context: CorrectionContext,
    *,
    sector: int,
    camera: int,
    ccd: int,
    cadence: int,
    method: str,
    area: int,
    version: int = 1,
    settings: CBVBuildSettings | None = None,
    overwrite: bool = False,
    plot: bool = True,
) -> Path:
    """Build the CBVs of one area and write the CBV file (and plot) into ``context.work_dir``.

    An existing file built with the same settings is kept (so an interrupted build resumes
    where it stopped); one built with different settings is an error unless ``overwrite``.

    Parameters
    ----------
    context
        Gives the area's light curves (``context.light_curves``) and the output directory.
    sector, camera, ccd, cadence, area
        The area to build.
    method
        Photometry method whose light curves are used (the original used ``aperture``).
    version
        Data-release version in the file name.
    settings
        Build settings.
    overwrite
        Rebuild even if the file exists.
    plot
        Also write ``<file>.png`` with the normal and spike vectors.

    Returns
    -------
    Path
        The CBV file.

    Raises
    ------
    CBVBuildError
        Too few stars in the area, or an existing file with different settings.
    """
    settings = settings or CBVBuildSettings()
    work_dir = Path(context.work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    path = work_dir / cbv_filename(sector, cadence, area, version)
    if path.exists() and not overwrite:
        _check_existing(path, settings)
        logger.info("%s exists, keeping it", path.name)
        return path
    lcs = context.light_curves(
        camera=camera, ccd=ccd, cadence=cadence, method=method, cbv_area=area
    )
    cbvs = build_cbv_set(
        lcs,
        sector=sector,
        camera=camera,
        ccd=ccd,
        cadence=cadence,
        area=area,
        version=version,
        settings=settings,
    )
    write_cbv_fits(cbvs, path, header=cbvs.meta)
    if plot:
        from tasoc_cbv.plot import plot_cbvs

        plot_cbvs(cbvs, path.with_suffix(".png"), threshold_snrtest=settings.threshold_snrtest)
    return path
