"""Pieces both PRF methods share: pixel arrays, the 2×2 aperture, contamination, the result."""

from __future__ import annotations

from importlib import metadata
from typing import Any

import numpy as np

from tasoc_core.data import TargetData
from tasoc_core.exceptions import TargetError
from tasoc_core.families import PhotometryResult
from tasoc_core.flags import TESS_DEFAULT_BITMASK
from tasoc_core.status import Status
from tasoc_psf._settings import CommonSettings
from tasoc_psf._stars import StarSelection

__all__ = [
    "FOOTPRINT",
    "MAX_MASKED",
    "VERSION",
    "aperture_2x2",
    "background_flux",
    "build_result",
    "check_mask",
    "column_medians",
    "contamination",
    "masked_fraction",
    "pixel_arrays",
]

#: A target loses its fit when pixels holding more than this fraction of its light are
#: left out as not described by the model.
MAX_MASKED = 0.5

#: Pixels holding at least this fraction of the target's flux form its "aperture" (the
#: footprint of its PRF), reported in the APERTURE extension and used for pixel flags.
FOOTPRINT = 1e-3

try:
    VERSION = metadata.version("tasoc-psf")
except metadata.PackageNotFoundError:  # running from a source tree
    VERSION = "0.0.0+unknown"


def pixel_arrays(data: TargetData) -> tuple[np.ndarray, np.ndarray]:
    """Pixel values (T, P) and inverse variances (T, P); 0 and 0 where a pixel has no data."""
    t = data.images.shape[0]
    values = np.asarray(data.images, dtype=np.float64).reshape(t, -1)
    sigma = np.asarray(data.images_err, dtype=np.float64).reshape(t, -1)
    valid = np.isfinite(values) & np.isfinite(sigma) & (sigma > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        weight = np.where(valid, 1.0 / sigma**2, 0.0)
    return np.where(valid, values, 0.0), weight


def aperture_2x2(
    positions: np.ndarray, origin: tuple[int, int], shape: tuple[int, int]
) -> np.ndarray:
    """The 2×2 pixels whose centres surround the target, per cadence: (T, P) booleans.

    ``positions`` (T, 2) are CCD (row, col); pixel centres are at integers, so the pixels are
    rows floor(row) and floor(row) + 1, and likewise for columns (those on the stamp).
    """
    t = len(positions)
    out = np.zeros((t, shape[0], shape[1]), dtype=bool)
    finite = np.all(np.isfinite(positions), axis=1)
    r0 = np.floor(np.where(finite, positions[:, 0], -10.0) - origin[0]).astype(np.int64)
    c0 = np.floor(np.where(finite, positions[:, 1], -10.0) - origin[1]).astype(np.int64)
    cad = np.arange(t)
    for dr in (0, 1):
        for dc in (0, 1):
            r, c = r0 + dr, c0 + dc
            on = finite & (r >= 0) & (r < shape[0]) & (c >= 0) & (c < shape[1])
            out[cad[on], r[on], c[on]] = True
    return out.reshape(t, -1)


def contamination(selection: StarSelection, fitted_flux: np.ndarray) -> float | None:
    """Fraction of the light in the target's pixels that comes from other stars.

    Each pixel is weighted by the target's PRF, so the number says how much of what a fit of
    the target sees is someone else's light: Σ U_t · m_others / Σ U_t · (m_target + m_others),
    with the fitted stars at ``fitted_flux`` (their median) and the fixed ones at their
    catalog flux. None if the target's flux is not positive.
    """
    flux = np.concatenate([fitted_flux, selection.catalog_flux[selection.n_fit :]])
    unit = selection.unit.reshape(len(flux), -1)
    if not (np.isfinite(flux[0]) and flux[0] > 0):
        return None
    flux = np.where(np.isfinite(flux), flux, 0.0)
    weight = unit[0]
    others = np.clip(flux[1:], 0.0, None) @ unit[1:]
    total = weight @ (flux[0] * unit[0] + others)
    if not total > 0:
        return None
    return float(np.clip(weight @ others / total, 0.0, 1.0))


def column_medians(values: np.ndarray) -> np.ndarray:
    """Median of each column of (T, K) ignoring NaN; NaN (and no warning) for empty columns.

    Sorting puts NaN last, so each column's median sits at the middle of its finite values:
    one vectorised sort instead of numpy's per-column nanmedian (20× faster here).
    """
    ordered = np.sort(np.asarray(values, dtype=np.float64), axis=0)
    if len(ordered) == 0:
        return np.full(ordered.shape[1], np.nan)
    count = np.count_nonzero(np.isfinite(ordered), axis=0)
    cols = np.arange(ordered.shape[1])
    low = ordered[np.clip((count - 1) // 2, 0, None), cols]
    high = ordered[np.clip(count // 2, 0, len(ordered) - 1), cols]
    return np.where(count > 0, 0.5 * (low + high), np.nan)


def masked_fraction(selection: StarSelection, mask: np.ndarray) -> float:
    """Fraction of the target's light on the stamp that falls on left-out pixels."""
    unit = selection.unit[0].reshape(-1)
    return float(unit[mask].sum() / unit.sum())


def check_mask(data: TargetData, selection: StarSelection, mask: np.ndarray) -> None:
    """A TargetError when the pixels left out hold most of the target's light."""
    lost = masked_fraction(selection, mask)
    if lost > MAX_MASKED:
        raise TargetError(
            f"{data.target}: {lost:.0%} of the target's light falls on pixels the PRF model "
            "cannot describe (a bleed column, a star missing from the catalog, bad pixels); "
            f"at most {MAX_MASKED:.0%} may be left out"
        )


def background_flux(data: TargetData, unit: np.ndarray, local: np.ndarray) -> np.ndarray:
    """The background a PRF fit of the target alone would take for starlight, e-/s.

    Σ U·B / Σ U² per cadence, with U the target's unit PRF image and B the background per
    pixel: the one ``tasoc prepare`` subtracted plus the fitted ``local`` level (T,).
    """
    t = len(local)
    bkg = np.asarray(data.backgrounds, dtype=np.float64).reshape(t, -1)
    bkg = np.where(np.isfinite(bkg), bkg, 0.0) + local[:, None]
    u = unit.reshape(-1)
    return (bkg @ u) / (u @ u)


def build_result(
    data: TargetData,
    settings: CommonSettings,
    selection: StarSelection,
    *,
    method: str,
    flux: np.ndarray,
    flux_err: np.ndarray,
    local_background: np.ndarray,
    mask: np.ndarray,
    fitted_flux: np.ndarray,
    centroid: np.ndarray,
    chi2: np.ndarray,
    headers: dict[str, tuple[Any, str]],
    diagnostics: dict[str, float],
    warnings: list[str],
) -> PhotometryResult:
    """The PhotometryResult both methods return (see the README for every field)."""
    good = ((data.quality & TESS_DEFAULT_BITMASK) == 0) & np.isfinite(flux)
    if not good.any():
        good = np.isfinite(flux)
    median_fluxes = column_medians(fitted_flux[good])
    contam = contamination(selection, median_fluxes)
    tags = set()
    if contam is not None and contam > settings.contamination_warning:
        tags.add("crowded")
        warnings.append(
            f"{contam:.0%} of the light in the target's pixels is from other stars "
            f"(warning above {settings.contamination_warning:.0%})"
        )
    lost = masked_fraction(selection, mask)
    if lost > 0.1:
        warnings.append(
            f"pixels holding {lost:.0%} of the target's light were left out: the model could "
            "not describe them"
        )
    background = background_flux(data, selection.unit[0], local_background)
    background = np.where(np.isfinite(flux), background, np.nan)
    footprint = selection.unit[0] >= FOOTPRINT
    median_chi2 = float(column_medians(chi2[good, None])[0])
    others = selection.stars.starid[1 : selection.n_fit]
    base_headers: dict[str, tuple[Any, str]] = {
        "PSF_VER": (VERSION, "version of tasoc-psf"),
        "PSF_PRF": (_short(data.prf.origin if data.prf is not None else ""), "PRF model"),
        "PSF_NFIT": (selection.n_fit, "stars whose flux is fitted (target included)"),
        "PSF_NFIX": (selection.n_fixed, "stars subtracted at their catalog flux"),
        "PSF_BUF": (settings.star_buffer, "[pixels] stars this far off the stamp modelled"),
        "PSF_APC": (settings.aperture_correction, "2x2 residual aperture correction added"),
        "PSF_WDTH": (settings.fit_width, "common PRF width change fitted per cadence"),
        "PSF_BKG": (settings.fit_background, "constant background fitted per cadence"),
        "PSF_NMSK": (int(mask.sum()), "pixels left out: the model cannot describe them"),
        "PSF_CHI2": (
            round(median_chi2, 4) if np.isfinite(median_chi2) else None,
            "median reduced chi-square of the fits",
        ),
        "PSF_CONT": (
            round(contam, 6) if contam is not None else None,
            "fraction of target-pixel light from other stars",
        ),
        "PSF_STAR": (" ".join(str(int(s)) for s in others[:8]), "other fitted stars (TIC)"),
    }
    base_headers.update(headers)
    return PhotometryResult(
        data=data,
        flux=flux,
        flux_err=flux_err,
        background=background,
        centroid=centroid,
        aperture=footprint,
        status=Status.WARNING if warnings else Status.OK,
        warnings=tuple(warnings),
        tags=tags,
        contamination=contam,
        headers=base_headers,
        diagnostics={
            f"{method}_stars": float(selection.n_fit),
            f"{method}_fixed": float(selection.n_fixed),
            f"{method}_chi2": median_chi2,
            f"{method}_masked": float(mask.sum()),
            **diagnostics,
        },
    )


def _short(text: str, limit: int = 60) -> str:
    """FITS string values are ASCII and limited in length: keep the end of long paths."""
    text = text.encode("ascii", "replace").decode("ascii")
    return text if len(text) <= limit else "..." + text[-(limit - 3) :]
