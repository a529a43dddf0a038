"""Halo photometry: TV-min weighted sums of the unsaturated pixels around a bright star."""

from __future__ import annotations

import logging
import math
from importlib import metadata
from typing import TYPE_CHECKING

import attrs
import numpy as np

from tasoc_core.data import Stamp, TargetData
from tasoc_core.exceptions import TargetError
from tasoc_core.families import PhotometryMethod, PhotometryResult
from tasoc_core.flags import TESS_DEFAULT_BITMASK
from tasoc_core.photometry.magnitudes import ZERO_POINT, mag_to_flux
from tasoc_core.status import Status
from tasoc_halo._objective import OBJECTIVES, PARAMETRISATIONS

if TYPE_CHECKING:
    from tasoc_halo._saturation import SaturationScan

__all__ = ["ZERO_POINT", "HaloPhotometry"]

logger = logging.getLogger(__name__)


# A cadence keeps its flux when the pixels missing there carry at most this weight.
_MAX_MISSING_WEIGHT = 0.01

try:
    _VERSION = metadata.version("tasoc-halo")
except metadata.PackageNotFoundError:  # running from a source tree
    _VERSION = "0.0.0+unknown"


def _positive(instance: object, attribute: attrs.Attribute, value: float) -> None:
    if not value > 0:
        raise ValueError(f"{attribute.name} must be positive, got {value}")


def _non_negative(instance: object, attribute: attrs.Attribute, value: float) -> None:
    if not value >= 0:
        raise ValueError(f"{attribute.name} must not be negative, got {value}")


def _at_least(low: float):
    def check(instance: object, attribute: attrs.Attribute, value: float) -> None:
        if not value >= low:
            raise ValueError(f"{attribute.name} must be at least {low}, got {value}")

    return check


def _one_of(choices: tuple[str, ...]):
    def check(instance: object, attribute: attrs.Attribute, value: str) -> None:
        if value not in choices:
            raise ValueError(f"{attribute.name} must be one of {', '.join(choices)}, got {value!r}")

    return check


def _fraction(instance: object, attribute: attrs.Attribute, value: float) -> None:
    if not 0 < value < 1:
        raise ValueError(f"{attribute.name} must be between 0 and 1, got {value}")


def _share(instance: object, attribute: attrs.Attribute, value: float) -> None:
    if not 0 <= value < 1:
        raise ValueError(f"{attribute.name} must be at least 0 and below 1, got {value}")


class HaloPhotometry(PhotometryMethod):
    """Halo photometry: TV-min weighted sum of unsaturated pixels (very bright stars)."""

    name = "halo"

    @attrs.frozen(kw_only=True)
    class Settings:
        """Settings of ``[methods.halo]`` (see the tasoc-halo README for the details)."""

        #: Radius (pixels) of the circular region of candidate pixels around the target.
        radius: float = attrs.field(default=20.0, validator=_positive)
        #: TV objective: "tv", "tv_o2" (second differences) or "l2v" (squared).
        objective: str = attrs.field(default="tv", validator=_one_of(OBJECTIVES))
        #: Lag (cadences) of the differences in the objective.
        lag: int = attrs.field(default=1, validator=_at_least(1))
        #: Smoothing of |x| relative to the median |Δf| of the starting light curve.
        smoothing: float = attrs.field(default=0.01, validator=_non_negative)
        #: How weights are kept positive and normalised: "bounded" or "softmax".
        parametrisation: str = attrs.field(default="bounded", validator=_one_of(PARAMETRISATIONS))
        #: Maximum L-BFGS-B iterations per segment.
        maxiter: int = attrs.field(default=1000, validator=_at_least(1))
        #: Smallest gap (days) between usable cadences at which a new segment starts.
        segment_gap: float = attrs.field(default=0.5, validator=_positive)
        #: Usable cadences every segment must keep.
        min_segment_cadences: int = attrs.field(default=100, validator=_at_least(10))
        #: Ratio of consecutive light-curve scatters that marks the saturation jump.
        saturation_jump: float = attrs.field(default=3.0, validator=_at_least(1.0))
        #: Relative width of the plateau of saturated pixel levels.
        saturation_tolerance: float = attrs.field(default=0.05, validator=_fraction)
        #: End of the saturation scan relative to the charge-conservation estimate.
        saturation_range: float = attrs.field(default=1.5, validator=_positive)
        #: Pixels within this many rows of a saturated pixel in its column are not used:
        #: they hold the ends of the bleed runs, whose charge is the overflow of the whole
        #: column and does not follow the star's flux proportionally.
        bleed_margin: int = attrs.field(default=2, validator=_at_least(0))
        #: Excess over the halo profile (robust σ) marking other stars' pixels.
        mask_threshold: float = attrs.field(default=3.0, validator=_positive)
        #: Other stars are masked where their expected light (catalog magnitude, PRF) is at
        #: least this fraction of a pixel's flux, and only there; 0: the DBSCAN clusters and
        #: watershed basins as they are, grown by ``mask_dilation``.
        mask_contrast: float = attrs.field(default=0.05, validator=_share)
        #: Pixels by which the cluster mask of other stars is grown (``mask_contrast = 0``).
        mask_dilation: int = attrs.field(default=1, validator=_at_least(0))
        #: Pixels whose median flux is below this many times their median uncertainty are
        #: not used (they carry no halo, only noise).
        min_snr: float = attrs.field(default=1.0, validator=_non_negative)
        #: Most pixels per fitted cadence the weighted sum may use (the brightest are kept):
        #: with more free weights than about a tenth of the cadences, TV-min starts to fit the
        #: noise.
        pixels_per_cadence: float = attrs.field(default=0.1, validator=_positive)
        #: Fewest pixels the weighted sum may use.
        min_pixels: int = attrs.field(default=10, validator=_at_least(1))
        #: Magnitude zero point of the flux scale.
        zero_point: float = ZERO_POINT

    def photometry(self, data: TargetData) -> PhotometryResult:
        # The science stack is imported here, not at module level: tasoc imports every
        # plugin at start-up and should not pay for scipy.optimize unless halo runs.
        from tasoc_core.blas import single_threaded_blas

        # Every matrix product here is small: threaded BLAS only adds overhead (and spinning
        # threads that steal CPU from other workers).
        with single_threaded_blas():
            return self._photometry(data)

    def _photometry(self, data: TargetData) -> PhotometryResult:
        from tasoc_halo._masking import mask_neighbours
        from tasoc_halo._optimise import tv_min
        from tasoc_halo._saturation import find_saturated
        from tasoc_halo._segments import split_segments

        s = self.settings
        target = data.target
        if len(data.stars) == 0:
            raise TargetError(
                f"{target}: no catalog stars in stamp {data.stamp.as_tuple()}; halo "
                "photometry needs the catalog to place the target and mask its neighbours"
            )
        data = self._halo_stamp(data)
        shape = data.stamp.shape
        rows, cols = np.indices(shape)
        r0, c0 = data.position_in_stamp
        region = np.hypot(rows - r0, cols - c0) <= s.radius
        images = data.images
        t_all = images.shape[0]

        finite_time = np.isfinite(data.time)
        good = ((data.quality & TESS_DEFAULT_BITMASK) == 0) & finite_time
        pix = images[:, region]  # (T, n_region), float32, read-only view or copy
        finite = np.isfinite(pix)
        # Cadences where most of the region is missing (bad frames) are not fitted.
        good &= finite.mean(axis=1) > 0.5
        if good.sum() < max(10, 4 * s.lag):
            raise TargetError(
                f"{target}: only {int(good.sum())} usable cadences for halo photometry"
            )
        fit_pix = pix[good].astype(np.float64)
        level = np.median(fit_pix, axis=0) if fit_pix.size else np.zeros(0)
        noise = np.median(data.images_err[good][:, region], axis=0) if good.any() else level
        with np.errstate(invalid="ignore"):
            candidate = (
                np.all(np.isfinite(fit_pix), axis=0)
                & (level > 0)
                & (fit_pix.mean(axis=0) > 0)
                # Pixels buried in the noise only slow the optimiser down; without a usable
                # uncertainty the pixel is kept.
                & ~(level < s.min_snr * noise)
            )
        if candidate.sum() < s.min_pixels:
            raise TargetError(
                f"{target}: only {int(candidate.sum())} pixels within {s.radius:g} px have "
                f"finite flux at least {s.min_snr:g} times their uncertainty "
                f"(at least {s.min_pixels} needed)"
            )

        segment = split_segments(
            data.time, good, min_gap=s.segment_gap, min_cadences=s.min_segment_cadences
        )
        expected = 10.0 ** (-0.4 * (target.tmag - s.zero_point))
        fit = fit_pix[:, candidate]
        scan = find_saturated(
            fit,
            expected_flux=expected,
            segments=segment[good],
            min_pixels=s.min_pixels,
            jump_threshold=s.saturation_jump,
            ceiling_tolerance=s.saturation_tolerance,
            range_factor=s.saturation_range,
            pixels_per_cadence=s.pixels_per_cadence,
            objective=s.objective,
            lag=s.lag,
            smoothing=s.smoothing,
        )
        region_idx = np.flatnonzero(region.ravel())
        cand_idx = region_idx[candidate]
        saturated_img = _image(shape, cand_idx[scan.saturated])
        bleeding = _bleed_zone(
            saturated_img, images, good, scan.full_well, s.saturation_tolerance, s.bleed_margin
        )
        # Pixels at the ends of bleed runs are discarded with the saturated ones.
        tips = bleeding.flat[cand_idx] & ~scan.saturated
        n_tips = int(tips.sum())
        n_left = int(candidate.sum() - scan.n_saturated - n_tips)
        if n_left < s.min_pixels:
            what = "no unsaturated pixels" if n_left == 0 else f"only {n_left} unsaturated pixels"
            raise TargetError(
                f"{target}: {what} within {s.radius:g} px of the target "
                f"({scan.n_saturated} of {int(candidate.sum())} usable pixels are saturated "
                f"and {n_tips} end bleed runs; "
                f"at least {s.min_pixels} needed)",
                tags={"saturated"},
            )

        mean_image = np.full(shape, np.nan)
        mean_image.flat[region_idx] = level
        unsat = _image(shape, cand_idx[~scan.saturated & ~tips])
        others = data.stars.starid != target.starid
        stars_rc = np.column_stack(
            [
                data.stars.row[others] - data.stamp.row_min,
                data.stars.col[others] - data.stamp.col_min,
            ]
        )
        neighbours = mask_neighbours(
            mean_image,
            unsat,
            (r0, c0),
            stars_rc,
            # Clusters touching the saturated core and bleed columns (or pixels lost to NaN
            # among them) are the target's; faint pixels left out for their S/N are not.
            target_pixels=saturated_img | (region & ~np.isfinite(mean_image)),
            stars_light=_neighbour_light(data, others, s.zero_point),
            contrast=s.mask_contrast,
            threshold=s.mask_threshold,
            dilation=s.mask_dilation,
        )
        use = unsat & ~neighbours.mask
        if use.sum() < s.min_pixels:
            raise TargetError(
                f"{target}: only {int(use.sum())} pixels left within {s.radius:g} px after "
                f"discarding {scan.n_saturated} saturated and masking "
                f"{int((unsat & neighbours.mask).sum())} pixels of other stars"
            )
        use_idx = np.flatnonzero(use.ravel())
        cols_in_fit = np.searchsorted(cand_idx, use_idx)
        fit_use = fit[:, cols_in_fit]

        flux = np.full(t_all, np.nan)
        flux_err = np.full(t_all, np.nan)
        background = np.full(t_all, np.nan)
        maps, cadences, objective, norms, unconverged = [], [], [], [], []
        seg_good = segment[good]
        cube_err = data.images_err.reshape(t_all, -1)[:, use_idx]
        cube_bkg = data.backgrounds.reshape(t_all, -1)[:, use_idx]
        cube = images.reshape(t_all, -1)[:, use_idx]
        brightest_first = np.argsort(-level[candidate][cols_in_fit], kind="stable")
        used = np.zeros(shape, dtype=bool)
        for seg in np.unique(segment):
            sel = segment == seg
            seg_fit = fit_use[seg_good == seg]
            npix = max(s.min_pixels, int(s.pixels_per_cadence * seg_fit.shape[0]))
            chosen = np.sort(brightest_first[:npix])
            res = tv_min(
                seg_fit[:, chosen],
                objective=s.objective,  # type: ignore[arg-type]
                lag=s.lag,
                smoothing=s.smoothing,
                parametrisation=s.parametrisation,  # type: ignore[arg-type]
                maxiter=s.maxiter,
            )
            if not res.converged:
                unconverged.append(f"segment {seg}: {res.message}")
            w = np.zeros(len(use_idx))
            w[chosen] = res.weights
            used.flat[use_idx[w > 0]] = True
            raw, missing = _weighted(cube[sel], w)
            ok = missing <= _MAX_MISSING_WEIGHT
            reference = np.median(res.flux)
            norm = expected / reference
            flux[sel] = np.where(ok, norm * raw, np.nan)
            err, _ = _weighted(np.asarray(cube_err[sel], float) ** 2, w * w)
            flux_err[sel] = np.where(ok, abs(norm) * np.sqrt(err), np.nan)
            bkg, _ = _weighted(cube_bkg[sel], w)
            background[sel] = np.where(ok, norm * bkg, np.nan)
            weight_map = np.zeros(shape)
            weight_map.flat[use_idx] = w
            maps.append(weight_map)
            cadno = data.cadenceno[sel]
            cadences.append((int(cadno.min()), int(cadno.max())))
            objective.append(res.objective)
            norms.append(norm)

        return self._result(
            data, flux, flux_err, background, used, saturated_img, neighbours.mask & region,
            scan, maps, cadences, objective, norms, unconverged, expected, n_tips,
        )  # fmt: skip

    # -- helpers ----------------------------------------------------------------------------

    def _halo_stamp(self, data: TargetData) -> TargetData:
        """FFI targets: the stamp becomes the bounding box of the halo region.

        TPF targets keep their stamp (the whole TPF): the region is cut from it.
        """
        if not data.target.is_ffi:
            return data
        half = math.ceil(self.settings.radius)
        row, col = data.position
        wanted = Stamp.centred(row, col, 2 * half + 1, 2 * half + 1)
        current = data.stamp
        if wanted == current:
            return data
        return data.resized(
            down=current.row_min - wanted.row_min,
            up=wanted.row_max - current.row_max,
            left=current.col_min - wanted.col_min,
            right=wanted.col_max - current.col_max,
        )

    def _result(
        self,
        data: TargetData,
        flux: np.ndarray,
        flux_err: np.ndarray,
        background: np.ndarray,
        use: np.ndarray,
        saturated: np.ndarray,
        masked: np.ndarray,
        scan: SaturationScan,
        maps: list[np.ndarray],
        cadences: list[tuple[int, int]],
        objective: list[float],
        norms: list[float],
        unconverged: list[str],
        expected: float,
        n_bleed: int,
    ) -> PhotometryResult:
        from tasoc_halo._weightmap import weightmap_hdu

        s = self.settings
        target = data.target
        warnings = []
        if unconverged:
            warnings.append("TV-min did not converge: " + "; ".join(unconverged))
        if scan.jump_at_end:
            warnings.append(
                "the saturation jump came at the end of the scanned range; more pixels may "
                "be saturated"
            )
        stars = data.stars
        others = stars.starid != target.starid
        spix_r = np.round(stars.row - data.stamp.row_min).astype(int)
        spix_c = np.round(stars.col - data.stamp.col_min).astype(int)
        on = (spix_r >= 0) & (spix_r < use.shape[0]) & (spix_c >= 0) & (spix_c < use.shape[1])
        in_use = np.zeros(len(stars), dtype=bool)
        in_use[on] = use[spix_r[on], spix_c[on]]
        in_core = np.zeros(len(stars), dtype=bool)
        in_core[on] = saturated[spix_r[on], spix_c[on]]
        fluxes = 10.0 ** (-0.4 * (stars.tmag - s.zero_point))
        contaminating = float(np.sum(fluxes[others & in_use]))
        contamination = contaminating / (expected + contaminating)
        skip = others & (in_use | in_core) & (stars.tmag > target.tmag)
        n_masked = int(masked.sum())
        hdu = weightmap_hdu(
            data.stamp,
            maps,
            cadences,
            [scan.n_saturated] * len(maps),
            [n_masked] * len(maps),
            objective,
            norms,
        )
        headers = {
            "HALO_VER": (_VERSION, "version of tasoc-halo"),
            "HALO_OBJ": (s.objective, "TV-min objective"),
            "HALO_LAG": (s.lag, "[cadences] lag of the objective's differences"),
            "HALO_EPS": (s.smoothing, "smoothing of |x|, relative to median |df|"),
            "HALO_PAR": (s.parametrisation, "weight parametrisation"),
            "HALO_MXI": (s.maxiter, "maximum L-BFGS-B iterations"),
            "HALO_RAD": (s.radius, "[pixels] radius of the halo region"),
            "HALO_NSG": (len(maps), "segments with their own weights"),
            "HALO_NPX": (int(use.sum()), "pixels in the weighted sum"),
            "HALO_SAT": (scan.n_saturated, "pixels discarded as saturated"),
            "HALO_JMP": (round(scan.jump, 4), "largest scatter jump of the saturation scan"),
            "HALO_BLD": (n_bleed, "pixels discarded near the ends of bleed runs"),
            "HALO_MSK": (n_masked, "pixels masked as other stars"),
            "HALO_SCL": (expected, "[e-/s] flux scale from Tmag"),
            "HALO_ZP": (s.zero_point, "zero point of the flux scale"),
        }
        if np.isfinite(scan.full_well):
            headers["HALO_WEL"] = (round(scan.full_well, 1), "[e-/s] saturation plateau level")
        time_pos = np.asarray(data.position, float)[None, :] + data.pos_corr
        return PhotometryResult(
            data=data,
            flux=flux,
            flux_err=flux_err,
            background=background,
            centroid=time_pos,
            aperture=use,
            status=Status.WARNING if warnings else Status.OK,
            warnings=tuple(warnings),
            tags={"saturated"} if scan.n_saturated else set(),
            contamination=contamination,
            skip_targets=tuple(int(x) for x in stars.starid[skip]),
            headers=headers,
            extra_hdus=(hdu,),
            diagnostics={
                "halo_pixels": float(use.sum()),
                "halo_saturated": float(scan.n_saturated),
                "halo_bleed": float(n_bleed),
                "halo_masked": float(n_masked),
                "halo_segments": float(len(maps)),
            },
        )


def _neighbour_light(data: TargetData, others: np.ndarray, zero_point: float) -> np.ndarray:
    """Expected flux (M, rows, cols) of the other catalog stars on the stamp, e-/s.

    From their catalog magnitudes and the CCD's PRF model, or without one from
    :func:`tasoc_halo._masking.moffat_light`.
    """
    from tasoc_halo._masking import moffat_light

    stamp = data.stamp
    rows = np.asarray(data.stars.row[others], dtype=float)
    cols = np.asarray(data.stars.col[others], dtype=float)
    flux = mag_to_flux(data.stars.tmag[others], zero_point)
    prf = data.prf
    if prf is None:
        rc = np.column_stack([rows - stamp.row_min, cols - stamp.col_min])
        return moffat_light(rc, flux, stamp.shape)
    unit = prf.for_stars(rows, cols).render(rows, cols, (stamp.row_min, stamp.col_min), stamp.shape)
    return unit[0] * flux[:, None, None]


def _bleed_zone(
    saturated: np.ndarray,
    images: np.ndarray,
    good: np.ndarray,
    full_well: float,
    tolerance: float,
    margin: int,
) -> np.ndarray:
    """Pixels within ``margin`` rows, along their column, of a pixel that saturates.

    A pixel saturates if the rule marked it or, when a full-well plateau was found, if it
    reaches the plateau level on any fitted cadence (the rule only sees candidates inside
    the region; bleed runs extend beyond it). Charge that overflows a saturated run fills
    the next pixels of the column, so the pixels just past the ends of a run carry the
    overflow of the whole column: a 0.4 % transit changed one such pixel by 12 % in the
    simulated ci sector, and 1 % of the weight on it made the transit 2.7 times too deep.
    The run ends move with the star's flux and pointing, hence the margin.
    """
    from scipy.ndimage import binary_dilation

    hit = saturated.copy()
    if np.isfinite(full_well) and good.any():
        with np.errstate(invalid="ignore"):
            peak = np.nanmax(np.where(good[:, None, None], images, -np.inf), axis=0)
            hit |= peak >= (1.0 - tolerance) * full_well
    if margin == 0 or not hit.any():
        return hit
    return binary_dilation(hit, structure=np.ones((2 * margin + 1, 1), dtype=bool))


def _image(shape: tuple[int, int], flat_index: np.ndarray) -> np.ndarray:
    out = np.zeros(shape, dtype=bool)
    out.flat[flat_index] = True
    return out


def _weighted(values: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weighted sum over pixels ignoring NaN, rescaled for the missing weight.

    Returns the sum and the fraction of the weight that was missing, per cadence.
    """
    v = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(v)
    total = np.where(finite, v, 0.0) @ weights
    present = finite @ weights
    wsum = float(weights.sum())
    with np.errstate(invalid="ignore", divide="ignore"):
        scaled = total * (wsum / present)
    return scaled, 1.0 - present / wsum
