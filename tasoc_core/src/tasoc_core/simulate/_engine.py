"""The simulation run: from a request to a directory shaped like a sector download."""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import h5py
import numpy as np
import tomli_w
from astropy.table import Table, vstack

from tasoc_core import __version__
from tasoc_core.data.target import SCIENCE_COLUMNS, SCIENCE_ROWS, Stamp
from tasoc_core.exceptions import SimulationError
from tasoc_core.io.ffi import FULL_SHAPE
from tasoc_core.prf import PRFModel
from tasoc_core.sectors import reference_time
from tasoc_core.simulate import background as bkgmod
from tasoc_core.simulate.orbit import earth_distance, write_sector_kernels
from tasoc_core.simulate.pointing import CcdGeometry, ccd_geometry, sector_pointing
from tasoc_core.simulate.prf import analytic_prf_grid, taylor_weights
from tasoc_core.simulate.profiles import Profile, get_profile
from tasoc_core.simulate.render import SATURATION_RATE, bleed, flat_indices
from tasoc_core.simulate.signals import relative_flux
from tasoc_core.simulate.stars import catalog_table, generate_stars
from tasoc_core.simulate.systematics import systematics_basis, systematics_coefficients
from tasoc_core.simulate.timeline import CadenceGrid, Timeline, build_timeline
from tasoc_core.simulate.writers import (
    GAIN,
    MEAN_BLACK,
    READ_NOISE,
    exposure_setup,
    ffi_file_name,
    tpf_file_name,
    write_ffi,
    write_tpf,
)
from tasoc_core.timing import BTJD_OFFSET, SpiceKernels, barycentric_delay

__all__ = [
    "DEFAULT_CAMERA",
    "DEFAULT_CCD",
    "DEFAULT_SECTOR",
    "FFI_CADENCES",
    "SimulationResult",
    "simulate",
]

logger = logging.getLogger(__name__)

#: Default sector: covered by the real pointing, WCS solutions and TESS ephemeris.
DEFAULT_SECTOR = 2
DEFAULT_CAMERA = 1
DEFAULT_CCD = 1
FFI_CADENCES = (1800, 600, 200)
_BRIGHT_LIMIT = 15.0  # stars fainter than this are a static field
_EXACT_SHIFT = 0.08  # px: frames with larger pointing offsets are rendered exactly
_EXACT_FAINT_SHIFT = 0.15
_STAMP = 13
_FAINT_STAMP = 7
_DATA_START_OFFSET = 0.8  # days from the pointing table's sector start to the first data
# Random streams, one per component, so adding one does not change the others.
(
    _S_TIMELINE,
    _S_STARS,
    _S_BACKGROUND,
    _S_SYSTEMATICS,
    _S_CATALOG,
    _S_FFI_NOISE,
    _S_TPF_NOISE,
    _S_TPF_FLAGS,
) = range(8)


def _rng(seed: int, *keys: int) -> np.random.Generator:
    return np.random.default_rng([int(seed), *[int(k) for k in keys]])


@attrs.frozen
class SimulationResult:
    """What ``simulate`` wrote."""

    out: Path
    n_ffi: int
    n_tpf: int
    n_stars: int
    seconds: float
    ffi_seconds: float
    tpf_seconds: float


# ----------------------------------------------------------------------------------------
# Output directory handling
# ----------------------------------------------------------------------------------------
def _prepare_output(out: Path, overwrite: bool) -> Path:
    if out.exists() and not out.is_dir():
        raise SimulationError(f"output {out} exists and is not a directory")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise SimulationError(
            f"output directory {out} exists and is not empty (use --overwrite to replace it)"
        )
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.parent / f".{out.name}.tmp-{os.getpid()}"
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir()
        probe = tmp / ".probe"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise SimulationError(
            f"cannot write to output directory {out}: {exc.strerror or exc}"
        ) from None
    return tmp


def _finalise(tmp: Path, out: Path) -> None:
    old = None
    if out.exists():
        old = out.parent / f".{out.name}.old-{os.getpid()}"
        os.replace(out, old)
    os.replace(tmp, out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


# ----------------------------------------------------------------------------------------
# Geometry helpers
# ----------------------------------------------------------------------------------------
def _region(profile: Profile, centre: tuple[float, float]) -> Stamp:
    full = Stamp(SCIENCE_ROWS[0], SCIENCE_ROWS[1], SCIENCE_COLUMNS[0], SCIENCE_COLUMNS[1])
    if profile.region_size is None:
        return full
    h, w = profile.region_size
    # The science corner farthest from the camera centre: corner glow is strongest there.
    far_row = max(SCIENCE_ROWS, key=lambda r: abs(r - centre[0]))
    far_col = max(SCIENCE_COLUMNS, key=lambda c: abs(c - centre[1]))
    rows = (0, h) if far_row == SCIENCE_ROWS[0] else (SCIENCE_ROWS[1] - h, SCIENCE_ROWS[1])
    cols = (
        (SCIENCE_COLUMNS[0], SCIENCE_COLUMNS[0] + w)
        if far_col == SCIENCE_COLUMNS[0]
        else (SCIENCE_COLUMNS[1] - w, SCIENCE_COLUMNS[1])
    )
    return Stamp(rows[0], rows[1], cols[0], cols[1])


def _output_bits(cols: np.ndarray) -> np.ndarray:
    """SPOC APERTURE bits of the CCD output (A–D = 32, 64, 128, 256) holding each column."""
    quarter = np.clip((np.asarray(cols) - SCIENCE_COLUMNS[0]) // 512, 0, 3)
    return (32 << quarter).astype(np.int32)


# ----------------------------------------------------------------------------------------
# The run
# ----------------------------------------------------------------------------------------
class _Run:
    """State of one simulation (kept on an object so frame workers can share it by fork)."""

    def __init__(
        self,
        profile: Profile,
        seed: int,
        sector: int,
        camera: int,
        ccd: int,
        cadence: int,
        tmp: Path,
    ):
        self.profile, self.seed, self.sector, self.camera, self.ccd = (
            profile,
            seed,
            sector,
            camera,
            ccd,
        )
        self.cadence, self.tmp = cadence, tmp
        self.geometry: CcdGeometry = ccd_geometry(sector, camera, ccd)
        self.pointing = sector_pointing(sector)
        self.cc = self.geometry.camera_centre_pixel
        self.region = _region(profile, self.cc)
        self.subframe = profile.region_size is not None
        self.shape = self.region.shape
        self.origin = (self.region.row_min, self.region.col_min)
        self.setup = exposure_setup(cadence)

    # -- set-up -----------------------------------------------------------------------
    def build(self, kernels_dir: Path) -> None:
        p = self.profile
        # All times are kept on the BTJD scale (JD − 2457000): JD doubles only resolve ~40 µs.
        start = self.pointing.start_jd + _DATA_START_OFFSET - BTJD_OFFSET
        self.timeline: Timeline = build_timeline(
            start,
            p.orbit_days,
            p.gap_days,
            p.dump_interval_days,
            p.coarse_days,
            _rng(self.seed, _S_TIMELINE),
        )
        tl = self.timeline
        self.ephemeris_source, _ = write_sector_kernels(
            kernels_dir,
            tl.start + BTJD_OFFSET,
            tl.stop + BTJD_OFFSET,
            0.5 * sum(tl.gap) + BTJD_OFFSET,
        )
        self.kernels = SpiceKernels(kernels_dir)
        self.ffi: CadenceGrid = tl.grid(self.cadence)
        centre = self.geometry.wcs.all_pix2world(
            [[0.5 * (SCIENCE_COLUMNS[0] + SCIENCE_COLUMNS[1] - 1), 0.5 * (SCIENCE_ROWS[1] - 1)]], 0
        )[0]
        self.frame_centre_sky = (float(centre[0]), float(centre[1]))
        self.barycorr = barycentric_delay(
            self.ffi.mid + BTJD_OFFSET, centre[0], centre[1], self.kernels
        )
        self.tstart = self.ffi.start + self.barycorr
        self.tstop = self.ffi.stop + self.barycorr
        self.ffi_time = self.ffi.mid + self.barycorr
        self.reference_btjd = reference_time(float(self.tstart[0]), float(self.tstop[-1]))
        self.span = (float(self.tstart[0]), float(self.tstop[-1]))
        self.jitter_ffi = self.ffi.average(tl.jitter)  # (2, T)
        self.focus_ffi = self.ffi.average(tl.focus)
        self.quality_ffi = tl.quality(self.ffi, full=False)
        self.meta = {
            "sector": self.sector,
            "camera": self.camera,
            "ccd": self.ccd,
            "setup": self.setup,
            "date": _date_string(tl.stop + 2.0 + BTJD_OFFSET),
        }
        self._stars()
        self._background()
        self._systematics()
        self._signals()
        self._prf()

    def _stars(self) -> None:
        p = self.profile
        rng = _rng(self.seed, _S_STARS)
        stars = generate_stars(
            rng,
            self.geometry.wcs,
            self.region,
            density_t15=p.density_t15,
            faint_limit=p.faint_limit,
            n_very_bright=p.n_very_bright,
            span_btjd=self.span,
            reference_jd=self.reference_btjd + BTJD_OFFSET,
            bright_oscillate=p.bright_oscillate,
        )
        inside = (
            (stars["row"] >= self.region.row_min + 6)
            & (stars["row"] < self.region.row_max - 6)
            & (stars["col"] >= self.region.col_min + 6)
            & (stars["col"] < self.region.col_max - 6)
        )
        # TPF targets: the very bright stars, then one star of each variable class, then
        # constant stars, all brighter than Tmag 13 and away from the region edges.
        order: list[int] = list(range(p.n_very_bright))
        for kind in (
            "transit",
            "solar_like",
            "eclipsing",
            "classical",
            "rotation",
            "flare",
            "long_period",
            "constant",
        ):
            cand = np.flatnonzero(
                inside
                & (stars["var_class"] == kind)
                & (stars["tmag"] < 13.0)
                & (stars["tmag"] > 6.0)
            )
            order.extend(int(i) for i in cand[:2] if int(i) not in order)
        order = order[: p.n_tpf]
        # A companion next to the first non-saturated target makes a TPF with a secondary.
        host = next((i for i in order if stars["tmag"][i] > 8.0), None)
        secondary_of = np.zeros(len(stars), dtype=np.int64)
        if host is not None:
            comp = Table(stars[host : host + 1], copy=True)
            comp["starid"] = int(stars["starid"].max()) + 17
            comp["row"] = stars["row"][host] + 2.6
            comp["col"] = stars["col"][host] - 3.1
            ra, dec = self.geometry.wcs.all_pix2world(comp["col"], comp["row"], 0)
            years = (self.reference_btjd + BTJD_OFFSET - 2451545.0) / 365.25
            comp["ra"], comp["dec"] = ra % 360.0, dec
            comp["dec_j2000"] = dec - comp["pm_dec"] * years / 3.6e6
            comp["ra_j2000"] = (
                ra - comp["pm_ra"] * years / 3.6e6 / np.cos(np.radians(dec))
            ) % 360.0
            comp["tmag"] = np.round(stars["tmag"][host] + 1.2, 3)
            comp["var_class"] = "constant"
            comp["var_params"] = "{}"
            stars = vstack([stars, comp])
            secondary_of = np.append(secondary_of, 0)
        stars["flux"] = 10.0 ** (-0.4 * (np.asarray(stars["tmag"]) - 20.451))
        stars["camera"] = self.camera
        stars["ccd"] = self.ccd
        stars["in_region"] = (
            (np.round(stars["row"]) >= self.region.row_min)
            & (np.round(stars["row"]) < self.region.row_max)
            & (np.round(stars["col"]) >= self.region.col_min)
            & (np.round(stars["col"]) < self.region.col_max)
        )
        self.stars = stars
        self.tpf_targets = [int(stars["starid"][i]) for i in order]
        fast = next(
            (i for i in order if 7.0 < stars["tmag"][i] < 11.0), order[-1] if order else None
        )
        self.fast_targets = [] if fast is None or not p.fast_tpf else [int(stars["starid"][fast])]
        self.secondary_of = secondary_of
        self.bright = np.flatnonzero(np.asarray(stars["tmag"]) < _BRIGHT_LIMIT)
        self.faint = np.flatnonzero(np.asarray(stars["tmag"]) >= _BRIGHT_LIMIT)
        self.catalog = catalog_table(stars, _rng(self.seed, _S_CATALOG))

    def _background(self) -> None:
        tl = self.timeline
        rng = _rng(self.seed, _S_BACKGROUND)
        step = max(1, tl.base_time.size // 2000)
        coarse_t = tl.base_time[::step]
        dist = np.interp(
            tl.base_time, coarse_t, earth_distance(self.kernels, coarse_t + BTJD_OFFSET)
        )
        window = track = None
        if self.profile.lens_flare:
            orbit = tl.gap[0] - tl.start
            lo = tl.start + 0.3 * orbit
            window = (lo, lo + min(1.0, 0.3 * orbit))
            r = self.region
            track = (
                (r.row_min - 20.0, r.col_min + 0.25 * r.width),
                (r.row_max + 20.0, r.col_min + 0.75 * r.width),
            )
        self.bkg_base = bkgmod.background_parameters(rng, tl.base_time, dist, window, track)
        self.bkg_ffi = self._bkg_table(self.ffi)

    def _bkg_table(self, grid: CadenceGrid) -> np.ndarray:
        return np.stack(
            [grid.average(self.bkg_base[k]) for k in bkgmod.BACKGROUND_PARAMETERS], axis=1
        )

    def _systematics(self) -> None:
        tl = self.timeline
        rng = _rng(self.seed, _S_SYSTEMATICS)
        n_patches = 2 if self.profile.region_size and max(self.profile.region_size) < 400 else 4
        self.sys_base, self.sys_names = systematics_basis(
            rng,
            tl.base_time,
            (tl.start, tl.gap[1]),
            tl.dumps,
            tl.jitter,
            self.bkg_base["scatter"],
            n_patches,
        )
        self.sys_base_arr = np.stack([self.sys_base[k] for k in self.sys_names])
        b = self.bright
        r = self.region
        self.sys_coeff, self.sys_areas = systematics_coefficients(
            rng,
            self.sys_names,
            np.asarray(self.stars["row"])[b],
            np.asarray(self.stars["col"])[b],
            self.cc,
            (0.5 * (r.row_min + r.row_max), 0.5 * (r.col_min + r.col_max)),
            float(max(r.shape)),
        )
        self.sys_ffi = self.ffi.average(self.sys_base_arr)  # (K, T)

    def _relative(self, idx: np.ndarray, times_btjd: np.ndarray, cadence: int) -> np.ndarray:
        """Exposure-averaged relative flux (len(idx), T) at per-star BTJD mid-times."""
        n_sub = max(1, cadence // 200) if cadence >= 200 else (3 if cadence == 120 else 1)
        offsets = ((np.arange(n_sub) + 0.5) / n_sub - 0.5) * cadence / 86400.0
        out = np.zeros(times_btjd.shape, dtype=np.float64)
        for j, i in enumerate(idx):
            kind = str(self.stars["var_class"][i])
            if kind == "constant":
                continue
            params = json.loads(str(self.stars["var_params"][i]))
            t = times_btjd[j][:, None] + offsets[None, :]
            out[j] = relative_flux(kind, params, t).mean(axis=1)
        return out

    def _signals(self) -> None:
        b = self.bright
        ra, dec = np.asarray(self.stars["ra"])[b], np.asarray(self.stars["dec"])[b]
        self.delay_ffi = barycentric_delay(
            self.ffi.mid + BTJD_OFFSET, ra, dec, self.kernels
        )  # (Nb, T)
        target_btjd = self.ffi.mid[None, :] + self.delay_ffi
        self.rel_ffi = self._relative(b, target_btjd, self.cadence)
        sys = 1.0 + self.sys_coeff @ self.sys_ffi
        self.flux_ffi = (
            np.asarray(self.stars["flux"])[b][:, None] * (1.0 + self.rel_ffi) * sys
        ).astype(np.float64)

    def _prf(self) -> None:
        self.prf = PRFModel(analytic_prf_grid(self.cc), self.camera, self.ccd)
        self.prf.write(self.tmp / "prf", date=self.meta["date"])
        st = self.stars
        b = self.bright
        npix = self.shape[0] * self.shape[1]
        self.b_rows = np.asarray(st["row"])[b]
        self.b_cols = np.asarray(st["col"])[b]
        basis, pr, pc = self.prf.basis(self.b_rows, self.b_cols, _STAMP)
        self.b_index = flat_indices(pr, pc, self.origin, self.shape)  # (Nb, P)
        self.b_valid = self.b_index.ravel() >= 0
        self.b_flat = self.b_index.ravel()[self.b_valid]
        self.b_basis = np.ascontiguousarray(
            basis.transpose(1, 0, 2).reshape(10, -1), dtype=np.float32
        )
        peak = np.asarray(st["flux"])[b] * basis[:, 0, :].max(axis=1)
        saturated = np.zeros(len(st), dtype=bool)
        saturated[b] = peak > SATURATION_RATE
        st["saturated"] = saturated
        sat_cols = set()
        for i in np.flatnonzero(saturated):
            c = round(st["col"][i]) - self.origin[1]
            sat_cols.update(range(c - 3, c + 4))
        self.sat_cols = np.array(
            sorted(c for c in sat_cols if 0 <= c < self.shape[1]), dtype=np.int64
        )
        # The static faint field: ten images, one per Taylor term.
        self.faint_images = np.zeros((10, npix), dtype=np.float64)
        r = self.region
        self.bkg_grid = bkgmod.BackgroundGrid(r.row_min, r.row_max, r.col_min, r.col_max, self.cc)
        f = self.faint
        self.f_rows, self.f_cols = np.asarray(st["row"])[f], np.asarray(st["col"])[f]
        self.f_flux = np.asarray(st["flux"])[f]
        for lo in range(0, f.size, 20000):
            sl = slice(lo, lo + 20000)
            fb, fr, fc = self.prf.basis(self.f_rows[sl], self.f_cols[sl], _FAINT_STAMP)
            idx = flat_indices(fr, fc, self.origin, self.shape).ravel()
            ok = idx >= 0
            for k in range(10):
                vals = (fb[:, k, :] * self.f_flux[sl, None]).ravel()
                self.faint_images[k] += np.bincount(idx[ok], weights=vals[ok], minlength=npix)
        self.rows_grid, self.cols_grid = np.mgrid[
            self.region.row_min : self.region.row_max, self.region.col_min : self.region.col_max
        ]
        # Noiseless reference image of the stars (zero jitter, nominal focus, mean flux).
        ref = np.bincount(
            self.b_flat,
            weights=(basis[:, 0, :] * np.asarray(st["flux"])[b][:, None]).ravel()[self.b_valid],
            minlength=npix,
        )
        self.star_reference = ref + self.faint_images[0]
        self.faint_images = self.faint_images.astype(
            np.float32
        )  # halves the per-frame memory traffic
        self._apertures(basis[:, 0, :])

    def _apertures(self, s0: np.ndarray) -> None:
        """Optimal (best-SNR) aperture of every bright star, for the expected-noise truth."""
        st = self.stars
        b = self.bright
        k_ref = int(np.argmin(np.abs(self.ffi_time - self.reference_btjd)))
        bkg_ref = bkgmod.evaluate_background(
            {n: self.bkg_ffi[k_ref, j] for j, n in enumerate(bkgmod.BACKGROUND_PARAMETERS)},
            self.rows_grid.ravel(),
            self.cols_grid.ravel(),
            self.cc,
        )
        signal = s0 * np.asarray(st["flux"])[b][:, None]
        idx = self.b_index
        ok = idx >= 0
        safe = np.where(ok, idx, 0)
        total = np.where(ok, self.star_reference[safe], 0.0)
        bkg = np.where(ok, bkg_ref[safe], 0.0)
        t = self.setup.exposure_s
        var = (total + bkg) * t + self.setup.nreadout * READ_NOISE**2
        snr_pix = np.where(ok, signal * t / np.sqrt(var), -np.inf)
        order = np.argsort(-snr_pix, axis=1)
        s_sorted = np.take_along_axis(np.where(ok, signal, 0.0), order, axis=1) * t
        v_sorted = np.take_along_axis(np.where(ok, var, 0.0), order, axis=1)
        cum = np.cumsum(s_sorted, axis=1) / np.sqrt(np.maximum(np.cumsum(v_sorted, axis=1), 1e-30))
        cum[~np.take_along_axis(ok, order, axis=1)] = -np.inf
        n_ap = np.argmax(cum, axis=1) + 1
        n_ap[~ok.any(axis=1)] = 0
        in_ap = np.arange(s0.shape[1])[None, :] < n_ap[:, None]
        ap_mask = np.zeros_like(ok)
        np.put_along_axis(ap_mask, order, in_ap, axis=1)
        ap_mask &= ok
        self.ap_mask = ap_mask
        n = len(st)
        npix = np.zeros(n, dtype=np.int64)
        ap_flux = np.zeros(n)
        frac = np.zeros(n)
        npix[b] = ap_mask.sum(axis=1)
        ap_flux[b] = np.where(ap_mask, total, 0.0).sum(axis=1)
        frac[b] = np.where(ap_mask, s0, 0.0).sum(axis=1)
        st["ap_npix"] = npix
        st["ap_flux"] = ap_flux
        st["ap_star_fraction"] = frac

    # -- FFIs ---------------------------------------------------------------------------
    def render_frame(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Noisy image and uncertainty (region shape, float32) of FFI cadence ``k``."""
        jr, jc = float(self.jitter_ffi[0, k]), float(self.jitter_ffi[1, k])
        focus = float(self.focus_ffi[k])
        npix = self.shape[0] * self.shape[1]
        w = taylor_weights(jr, jc, focus).astype(np.float32)
        if max(abs(jr), abs(jc)) > _EXACT_SHIFT:
            vals = self.prf.stamps(self.b_rows, self.b_cols, _STAMP, shift=(jr, jc), scale=focus)[0]
        else:
            vals = _combine(w, self.b_basis).reshape(self.b_rows.size, -1)
        vals = vals * self.flux_ffi[:, k, None]
        img = np.bincount(self.b_flat, weights=vals.ravel()[self.b_valid], minlength=npix)
        if max(abs(jr), abs(jc)) > _EXACT_FAINT_SHIFT and self.faint.size:
            for lo in range(0, self.faint.size, 20000):
                sl = slice(lo, lo + 20000)
                fv, fr, fc = self.prf.stamps(
                    self.f_rows[sl], self.f_cols[sl], _FAINT_STAMP, shift=(jr, jc), scale=focus
                )
                idx = flat_indices(fr, fc, self.origin, self.shape).ravel()
                ok = idx >= 0
                img += np.bincount(
                    idx[ok], weights=(fv * self.f_flux[sl, None]).ravel()[ok], minlength=npix
                )
        else:
            img += _combine(w, self.faint_images)
        params = {n: self.bkg_ffi[k, j] for j, n in enumerate(bkgmod.BACKGROUND_PARAMETERS)}
        img += self.bkg_grid(params).ravel()
        img = img.reshape(self.shape)
        bleed(img, self.sat_cols)
        sigma = self.setup.sigma(img).astype(np.float32)
        noise = _rng(self.seed, _S_FFI_NOISE, k).standard_normal(img.shape, dtype=np.float32)
        noise *= sigma
        noisy = img.astype(np.float32)
        noisy += noise
        return noisy, sigma

    def ffi_path(self, k: int) -> Path:
        return (
            self.tmp
            / "ffi"
            / ffi_file_name(
                float(self.ffi.stop[k]) + BTJD_OFFSET, self.sector, self.camera, self.ccd
            )
        )

    def write_frame(self, k: int) -> None:
        image, sigma = self.render_frame(k)
        if self.subframe:
            full_img, full_sig = image, sigma
        else:
            full_img = np.zeros(FULL_SHAPE, dtype=np.float32)
            full_sig = np.zeros(FULL_SHAPE, dtype=np.float32)
            rs, cs = self.region.slices()
            full_img[rs, cs] = image
            full_sig[rs, cs] = sigma
        wcs = self.geometry.wcs.deepcopy()
        # The frame's WCS follows the pointing: a star nominally at p is imaged at p + jitter.
        wcs.wcs.crpix = [
            wcs.wcs.crpix[0] + self.jitter_ffi[1, k],
            wcs.wcs.crpix[1] + self.jitter_ffi[0, k],
        ]
        if wcs.sip is not None:
            from astropy.wcs import Sip

            wcs.sip = Sip(wcs.sip.a, wcs.sip.b, wcs.sip.ap, wcs.sip.bp, wcs.wcs.crpix)
        write_ffi(
            self.ffi_path(k),
            full_img,
            full_sig,
            meta=self.meta,
            wcs=wcs,
            origin=self.origin,
            subframe=self.subframe,
            tstart=float(self.tstart[k]),
            tstop=float(self.tstop[k]),
            jd_start=float(self.ffi.start[k]) + BTJD_OFFSET,
            jd_stop=float(self.ffi.stop[k]) + BTJD_OFFSET,
            barycorr=float(self.barycorr[k]),
            quality=int(self.quality_ffi[k]),
            ffiindex=int(self.ffi.cadenceno[k]),
        )

    # -- TPFs ---------------------------------------------------------------------------
    def write_tpf(self, starid: int, cadence: int) -> dict[str, np.ndarray]:
        st = self.stars
        i = int(np.flatnonzero(st["starid"] == starid)[0])
        tl = self.timeline
        grid = tl.grid(cadence, keep_gap=True)
        setup = exposure_setup(cadence)
        size = self.profile.fast_tpf_size if cadence == 20 else self.profile.tpf_size
        full = Stamp(SCIENCE_ROWS[0], SCIENCE_ROWS[1], SCIENCE_COLUMNS[0], SCIENCE_COLUMNS[1])
        stamp = Stamp.centred(float(st["row"][i]), float(st["col"][i]), size, size).clip(full)
        near_sat = np.flatnonzero(
            np.asarray(st["saturated"])
            & (np.abs(np.asarray(st["col"]) - 0.5 * (stamp.col_min + stamp.col_max)) < size / 2 + 4)
            & (np.abs(np.asarray(st["row"]) - 0.5 * (stamp.row_min + stamp.row_max)) < 300)
        )
        # Rows far enough up and down the columns to hold the bleed of any saturated star.
        reach = (
            int(np.ceil(np.asarray(st["flux"])[near_sat].max() / SATURATION_RATE / 2)) + 15
            if near_sat.size
            else 0
        )
        ext = stamp.grow(down=reach, up=reach).clip(full) if near_sat.size else stamp
        rows_all, cols_all = np.asarray(st["row"]), np.asarray(st["col"])
        pad = _STAMP // 2 + 1
        contrib = np.flatnonzero(
            (rows_all > ext.row_min - pad)
            & (rows_all < ext.row_max + pad)
            & (cols_all > ext.col_min - pad)
            & (cols_all < ext.col_max + pad)
        )
        basis, pr, pc = self.prf.basis(rows_all[contrib], cols_all[contrib], _STAMP)
        idx = flat_indices(pr, pc, (ext.row_min, ext.col_min), ext.shape)
        T = grid.size
        jit = grid.average(tl.jitter)  # (2, T)
        foc = grid.average(tl.focus)
        W = taylor_weights(jit[0], jit[1], foc)  # (T, 10)
        # Fluxes of the contributing stars per cadence.
        is_bright = np.asarray(st["tmag"])[contrib] < _BRIGHT_LIMIT
        delays = np.zeros((contrib.size, T))
        delays[is_bright] = barycentric_delay(
            grid.mid + BTJD_OFFSET,
            np.asarray(st["ra"])[contrib[is_bright]],
            np.asarray(st["dec"])[contrib[is_bright]],
            self.kernels,
        )
        rel = self._relative(contrib, grid.mid[None, :] + delays, cadence)
        sys_basis = grid.average(self.sys_base_arr)
        brow = {int(s): j for j, s in enumerate(self.bright)}
        sysf = np.ones((contrib.size, T))
        for j, s in enumerate(contrib):
            if int(s) in brow:
                sysf[j] = 1.0 + self.sys_coeff[brow[int(s)]] @ sys_basis
        flux = np.asarray(st["flux"])[contrib][:, None] * (1.0 + rel) * sysf
        npix = ext.shape[0] * ext.shape[1]
        # Faint stars are constant: their ten Taylor images are summed once.
        static = np.zeros((10, npix))
        for j in np.flatnonzero(~is_bright):
            ok = idx[j] >= 0
            static[:, idx[j][ok]] += flux[j, 0] * basis[j][:, ok]
        cube = W @ static
        bright_j = np.flatnonzero(is_bright)
        for j in bright_j:
            ok = idx[j] >= 0
            if ok.any():
                cube[:, idx[j][ok]] += flux[j][:, None] * (W @ basis[j][:, ok])
        big = np.flatnonzero(np.abs(jit).max(axis=0) > _EXACT_SHIFT)
        if big.size and bright_j.size:
            # Large pointing excursions: the bright stars' PRFs exactly, all (cadence, star)
            # pairs at once (the faint, constant field keeps its Taylor expansion).
            ns = bright_j.size
            sel = contrib[bright_j]
            vals = self.prf.stamps(
                np.tile(rows_all[sel], big.size),
                np.tile(cols_all[sel], big.size),
                _STAMP,
                shift=(np.repeat(jit[0, big], ns), np.repeat(jit[1, big], ns)),
                scale=np.repeat(foc[big], ns),
            )[0].reshape(big.size, ns, -1)
            vals *= flux[bright_j][:, big].T[:, :, None]
            ok = idx[bright_j] >= 0
            rows_t = np.repeat(np.arange(big.size), ok.sum())
            exact_idx = rows_t * npix + np.tile(idx[bright_j][ok], big.size)
            exact = np.bincount(
                exact_idx, weights=vals[:, ok].ravel(), minlength=big.size * npix
            ).reshape(big.size, npix)
            cube[big] = exact + W[big] @ static
        erows, ecols = np.mgrid[ext.row_min : ext.row_max, ext.col_min : ext.col_max]
        table = self._bkg_table(grid)
        params = {n: table[:, j, None] for j, n in enumerate(bkgmod.BACKGROUND_PARAMETERS)}
        bkg = bkgmod.evaluate_background(
            params, erows.ravel()[None, :], ecols.ravel()[None, :], self.cc
        )
        total = (cube + bkg).reshape(T, *ext.shape)
        bleed(total)
        # Crop to the stamp.
        rs = slice(stamp.row_min - ext.row_min, stamp.row_max - ext.row_min)
        cs = slice(stamp.col_min - ext.col_min, stamp.col_max - ext.col_min)
        total = total[:, rs, cs]
        bkg = bkg.reshape(T, *ext.shape)[:, rs, cs]
        sigma = setup.sigma(total)
        rng = _rng(self.seed, _S_TPF_NOISE, starid % 2**31, cadence)
        observed = total + rng.standard_normal(total.shape) * sigma
        quality = tl.quality(
            grid,
            full=True,
            scattered=grid.average(self.bkg_base["scatter"]),
            rng=_rng(self.seed, _S_TPF_FLAGS, starid % 2**31, cadence),
        )
        impulsive = np.flatnonzero(quality & 512)
        cr, cc_ = (stamp.shape[0] // 2, stamp.shape[1] // 2)
        observed[impulsive, cr, cc_] += 8.0 * sigma[impulsive, cr, cc_]
        gap = grid.in_gap
        delay_t = delays[int(np.flatnonzero(contrib == i)[0])]
        time_col = grid.mid + delay_t
        time_col[gap] = np.nan
        flux_col = (observed - bkg).astype(np.float32)
        err_col = sigma.astype(np.float32)
        bkg_col = bkg.astype(np.float32)
        bkg_err = (setup.sigma(bkg) / np.sqrt(50.0)).astype(np.float32)
        raw = np.round(
            np.clip(observed, 0, None) * setup.exposure_s / GAIN + setup.nreadout * MEAN_BLACK
        ).astype(np.int64)
        raw = np.clip(raw, 0, 2**31 - 1).astype(np.int32)
        for arr in (flux_col, err_col, bkg_col, bkg_err):
            arr[gap] = np.nan
        raw[gap] = -1
        # APERTURE: collected, optimal aperture, background pixels, CCD output.
        _srows, scols = np.mgrid[stamp.row_min : stamp.row_max, stamp.col_min : stamp.col_max]
        aperture = np.ones(stamp.shape, dtype=np.int32) | _output_bits(scols)
        jb = int(np.flatnonzero(self.bright == i)[0]) if i in set(self.bright.tolist()) else None
        if jb is not None:
            ap_idx = self.b_index[jb][self.ap_mask[jb]]
            ap_r = ap_idx // self.shape[1] + self.origin[0]
            ap_c = ap_idx % self.shape[1] + self.origin[1]
            for r, c in zip(ap_r, ap_c):
                if stamp.contains(r, c):
                    aperture[r - stamp.row_min, c - stamp.col_min] |= 2
        starlight = (cube.reshape(T, *ext.shape)[:, rs, cs]).mean(axis=0)
        aperture[(starlight < 0.05 * bkg.mean(axis=0)) & ((aperture & 2) == 0)] |= 4
        target = {
            "starid": starid,
            "ra_j2000": st["ra_j2000"][i],
            "dec_j2000": st["dec_j2000"][i],
            "pm_ra": st["pm_ra"][i],
            "pm_dec": st["pm_dec"][i],
            "tmag": st["tmag"][i],
            "teff": st["teff"][i],
            "flfrcsap": float(st["ap_star_fraction"][i]) or 1.0,
        }
        good = ~gap
        meta = dict(self.meta, setup=setup)
        path = (
            self.tmp
            / "tpf"
            / tpf_file_name(float(grid.stop[-1]) + BTJD_OFFSET, self.sector, starid, cadence == 20)
        )
        write_tpf(
            path,
            meta=meta,
            target=target,
            wcs=self.geometry.wcs,
            stamp_origin=(stamp.row_min, stamp.col_min),
            columns={
                "TIME": time_col,
                "TIMECORR": np.where(gap, 0.0, delay_t).astype(np.float32),
                "CADENCENO": grid.cadenceno.astype(np.int32),
                "RAW_CNTS": raw,
                "FLUX": flux_col,
                "FLUX_ERR": err_col,
                "FLUX_BKG": bkg_col,
                "FLUX_BKG_ERR": bkg_err,
                "QUALITY": quality,
                "POS_CORR1": jit[1].astype(np.float32),
                "POS_CORR2": jit[0].astype(np.float32),
            },
            aperture=aperture,
            tstart=float(time_col[good][0] - 0.5 * cadence / 86400.0),
            tstop=float(time_col[good][-1] + 0.5 * cadence / 86400.0),
            jd_start=float(grid.start[good][0]) + BTJD_OFFSET,
            jd_stop=float(grid.stop[good][-1]) + BTJD_OFFSET,
        )
        in_contrib_bright = [int(s) for s in contrib if int(s) in brow]
        return {
            "time_tess": grid.mid,
            "time": time_col,
            "timecorr": delay_t,
            "cadenceno": grid.cadenceno,
            "quality": quality,
            "in_gap": gap,
            "jitter": jit.T.copy(),
            "focus": foc,
            "background": table,
            "systematics_basis": sys_basis,
            "starids": np.asarray(st["starid"])[in_contrib_bright],
            "relative_flux": rel[
                [int(np.flatnonzero(contrib == s)[0]) for s in in_contrib_bright]
            ].astype(np.float32),
            "stamp": np.array(stamp.as_tuple()),
        }


def _combine(weights: np.ndarray, terms: np.ndarray) -> np.ndarray:
    """``weights @ terms`` for (K,) and (K, M), without BLAS and without temporaries.

    BLAS would start threads of its own in every frame worker and oversubscribe the CPUs.
    """
    out = np.multiply(terms[0], weights[0])
    tmp = np.empty_like(out)
    for k in range(1, terms.shape[0]):
        np.multiply(terms[k], weights[k], out=tmp)
        out += tmp
    return out


def _date_string(jd: float) -> str:
    from astropy.time import Time

    return Time(jd, format="jd", scale="tdb").utc.strftime("%Y-%m-%d")


# ----------------------------------------------------------------------------------------
# Frame workers (fork-shared state)
# ----------------------------------------------------------------------------------------
_SHARED: _Run | None = None


def _frame_worker(k: int) -> int:
    assert _SHARED is not None
    _SHARED.write_frame(k)
    return k


_KERNEL_PID: int | None = None


def _tpf_worker(job: tuple[int, int]) -> tuple[tuple[int, int], dict[str, np.ndarray]]:
    global _KERNEL_PID
    assert _SHARED is not None
    if os.getpid() != _KERNEL_PID:  # fresh SPICE file handles in each forked worker
        _SHARED.kernels = _SHARED.kernels.reopen_in_child()
        _KERNEL_PID = os.getpid()
    tic, cadence = job
    return (cadence, tic), _SHARED.write_tpf(tic, cadence)


def _write_files(
    run: _Run, workers: int, progress: Callable[[int], None] | None
) -> tuple[dict[tuple[int, int], dict[str, np.ndarray]], float, float]:
    """Write every FFI and TPF; frames and TPFs are shared out to forked workers."""
    global _SHARED
    (run.tmp / "ffi").mkdir()
    (run.tmp / "tpf").mkdir()
    frames = range(run.ffi.size)
    # Bright targets first: they take longest.
    jobs = [(tic, 120) for tic in run.tpf_targets] + [(tic, 20) for tic in run.fast_targets]
    tpf_truth: dict[tuple[int, int], dict[str, np.ndarray]] = {}
    if workers <= 1:
        t0 = time.perf_counter()
        for k in frames:
            run.write_frame(k)
            if progress:
                progress(1)
        t1 = time.perf_counter()
        for tic, cadence in jobs:
            tpf_truth[(cadence, tic)] = run.write_tpf(tic, cadence)
            if progress:
                progress(1)
        return tpf_truth, t1 - t0, time.perf_counter() - t1
    import multiprocess

    _SHARED = run
    try:
        ctx = multiprocess.get_context("fork")
        with ctx.Pool(workers) as pool:
            t0 = time.perf_counter()
            for _ in pool.imap_unordered(_frame_worker, frames, chunksize=4):
                if progress:
                    progress(1)
            t1 = time.perf_counter()
            for key, data in pool.imap_unordered(_tpf_worker, jobs):
                tpf_truth[key] = data
                if progress:
                    progress(1)
            t2 = time.perf_counter()
    finally:
        _SHARED = None
    return tpf_truth, t1 - t0, t2 - t1


# ----------------------------------------------------------------------------------------
# Truth and side files
# ----------------------------------------------------------------------------------------
def _write_truth(run: _Run, tpf_truth: dict[tuple[int, int], dict[str, np.ndarray]]) -> None:
    d = run.tmp / "truth"
    d.mkdir()
    st = run.stars
    tpf_map: dict[int, list[str]] = {}
    for cadence, tic in tpf_truth:
        tpf_map.setdefault(tic, []).append(str(cadence))
    st["tpf"] = [",".join(tpf_map.get(int(s), [])) for s in st["starid"]]
    st["secondary_of"] = 0
    rows, cols = np.round(np.asarray(st["row"])), np.round(np.asarray(st["col"]))
    for (cadence, tic), g in tpf_truth.items():
        if cadence != 120:
            continue
        r0, r1, c0, c1 = g["stamp"]
        inside = (rows >= r0) & (rows < r1) & (cols >= c0) & (cols < c1)
        inside &= (np.asarray(st["tmag"]) < _BRIGHT_LIMIT) & (np.asarray(st["starid"]) != tic)
        st["secondary_of"][inside] = tic
    st.meta = {
        "description": "Physical stars of a tasoc simulated sector (positions at the reference epoch).",
        "reference_time_btjd": run.reference_btjd,
        "units": {
            "ra": "deg",
            "dec": "deg",
            "pm_ra": "mas/yr",
            "pm_dec": "mas/yr",
            "flux": "e-/s",
            "ap_flux": "e-/s",
        },
    }
    tmp = d / ".stars.ecsv.tmp"
    st.write(tmp, format="ascii.ecsv", overwrite=True)
    tmp.replace(d / "stars.ecsv")
    path = d / "truth.h5"
    tmp = d / ".truth.h5.tmp"
    b = run.bright
    var_rows = np.flatnonzero(np.asarray(st["var_class"])[b] != "constant")
    with h5py.File(tmp, "w") as h5:
        h5.attrs.update(
            {
                "profile": run.profile.name,
                "seed": run.seed,
                "sector": run.sector,
                "camera": run.camera,
                "ccd": run.ccd,
                "cadence": run.cadence,
                "region": np.array(run.region.as_tuple()),
                "camera_centre": np.array(run.cc),
                "camera_centre_sky": np.array(run.geometry.camera_centre_sky),
                "frame_centre_sky": np.array(run.frame_centre_sky),
                "reference_time": run.reference_btjd,
                "version": __version__,
            }
        )
        g = h5.create_group("ffi")
        g["time"] = run.ffi_time
        g["time_tess"] = run.ffi.mid
        g["tstart"] = run.tstart
        g["tstop"] = run.tstop
        g["barycorr"] = run.barycorr
        g["cadenceno"] = run.ffi.cadenceno
        g["quality"] = run.quality_ffi
        g["jitter"] = run.jitter_ffi.T
        g["focus"] = run.focus_ffi
        g["background"] = run.bkg_ffi
        g["background"].attrs["names"] = list(bkgmod.BACKGROUND_PARAMETERS)
        g["systematics_basis"] = run.sys_ffi
        g["systematics_basis"].attrs["names"] = run.sys_names
        g["delay_starids"] = np.asarray(st["starid"])[b]
        g.create_dataset(
            "delay_minus_barycorr",
            data=(run.delay_ffi - run.barycorr[None, :]).astype(np.float32),
            compression="gzip",
            shuffle=True,
        )
        g["variable_starids"] = np.asarray(st["starid"])[b][var_rows]
        g.create_dataset(
            "relative_flux",
            data=run.rel_ffi[var_rows].astype(np.float32).reshape(var_rows.size, -1),
            compression="gzip",
            shuffle=True,
        )
        # Optimal apertures: CCD pixels of each bright star's aperture, concatenated.
        a = h5.create_group("apertures")
        flat = [run.b_index[j][run.ap_mask[j]] for j in range(b.size)]
        a["starids"] = np.asarray(st["starid"])[b]
        a["offsets"] = np.concatenate([[0], np.cumsum([f.size for f in flat])]).astype(np.int64)
        allpix = np.concatenate(flat) if flat else np.zeros(0, dtype=np.int64)
        a["rows"] = (allpix // run.shape[1] + run.origin[0]).astype(np.int32)
        a["cols"] = (allpix % run.shape[1] + run.origin[1]).astype(np.int32)
        s = h5.create_group("systematics")
        s["coefficients"] = run.sys_coeff
        s["starids"] = np.asarray(st["starid"])[b]
        s.attrs["names"] = run.sys_names
        s.attrs["areas"] = json.dumps(run.sys_areas)
        e = h5.create_group("events")
        e["dumps"] = run.timeline.dumps
        e["coarse"] = np.array(run.timeline.coarse)
        e["gap"] = np.array(run.timeline.gap)
        t = h5.create_group("tpf")
        for (cadence, tic), data in sorted(tpf_truth.items()):
            grp = t.require_group(f"c{cadence}").create_group(str(tic))
            for key, value in data.items():
                grp.create_dataset(
                    key, data=value, compression="gzip" if np.size(value) > 1000 else None
                )
            grp["background"].attrs["names"] = list(bkgmod.BACKGROUND_PARAMETERS)
    tmp.replace(path)


def _write_side_files(run: _Run, result: dict[str, Any]) -> None:
    cat_dir = run.tmp / "catalog"
    cat_dir.mkdir()
    tmp = cat_dir / ".tic.csv.tmp"
    run.catalog.write(tmp, format="ascii.csv", overwrite=True)
    tmp.replace(cat_dir / "tic.csv")
    config = {
        "paths": {
            "input": ".",
            "output": "work",
            "catalog": "catalog/tic.csv",
            "spice_kernels": "spice",
            "prf": "prf",
        },
        "selection": {"sector": run.sector, "cameras": [run.camera], "ccds": [run.ccd]},
    }
    (run.tmp / "tasoc.toml").write_text(
        "# Run configuration of a tasoc simulated sector; relative paths are relative to this file.\n"
        + tomli_w.dumps(config),
        encoding="utf-8",
    )
    info = {
        "generator": f"tasoc simulate {__version__}",
        "profile": run.profile.name,
        "seed": run.seed,
        "sector": run.sector,
        "camera": run.camera,
        "ccd": run.ccd,
        "cadence": run.cadence,
        "region": {
            "row_min": run.region.row_min,
            "row_max": run.region.row_max,
            "col_min": run.region.col_min,
            "col_max": run.region.col_max,
        },
        "subframe": run.subframe,
        "pointing": {
            "ra": run.pointing.ra,
            "dec": run.pointing.dec,
            "roll": run.pointing.roll,
            "source": run.pointing.source,
        },
        "wcs_source": run.geometry.source,
        "camera_centre_pixel": list(run.cc),
        "camera_centre_sky": list(run.geometry.camera_centre_sky),
        "frame_centre_sky": list(run.frame_centre_sky),
        "ephemeris": run.ephemeris_source,
        "reference_time": run.reference_btjd,
        "time_span": list(run.span),
        "n_ffi": int(run.ffi.size),
        "n_stars": len(run.stars),
        "n_catalog": len(run.catalog),
        "tpf_targets": run.tpf_targets,
        "fast_targets": run.fast_targets,
        "momentum_dumps_btjd": run.timeline.dumps.tolist(),
        "coarse_pointing_btjd": list(run.timeline.coarse),
        "gap_btjd": list(run.timeline.gap),
    } | result
    (run.tmp / "simulation.json").write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")


# ----------------------------------------------------------------------------------------
# Public entry point
# ----------------------------------------------------------------------------------------
def simulate(
    out: Path | str,
    *,
    profile: str | Profile = "ci",
    seed: int = 1,
    sector: int = DEFAULT_SECTOR,
    camera: int = DEFAULT_CAMERA,
    ccd: int = DEFAULT_CCD,
    cadence: int = 1800,
    overwrite: bool = False,
    workers: int | None = None,
    max_frames: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> SimulationResult:
    """Simulate a TESS sector into ``out`` (see ``docs/simulator.md``).

    Parameters
    ----------
    out
        Output directory (must be empty or absent unless ``overwrite``).
    profile
        ``ci``, ``demo`` or ``full`` (or a :class:`Profile`).
    seed
        Random seed; the same seed gives byte-identical files.
    sector, camera, ccd
        What to simulate.
    cadence
        FFI cadence: 1800, 600 or 200 s.
    overwrite
        Replace an existing output directory (only once the new one is complete).
    workers
        Processes rendering frames (default: the profile's, else all CPUs).
    max_frames
        Write only the first N FFIs (benchmarks of the full profile on a small disk);
        the truth still describes the whole sector.
    progress
        Called with the number of files just written.

    Raises
    ------
    SimulationError
        Unknown profile, sector, camera or CCD, impossible cadence, unwritable output.
    """
    t_start = time.perf_counter()
    prof = profile if isinstance(profile, Profile) else get_profile(profile)
    if int(cadence) not in FFI_CADENCES:
        raise SimulationError(
            f"cadence {cadence} s is impossible for FFIs (choose 1800, 600 or 200)"
        )
    ccd_geometry(int(sector), int(camera), int(ccd))  # validates sector, camera and CCD
    out = Path(out).expanduser().resolve()
    tmp = _prepare_output(out, overwrite)
    try:
        run = _Run(prof, int(seed), int(sector), int(camera), int(ccd), int(cadence), tmp)
        run.build(tmp / "spice")
        try:
            n_workers = workers or prof.workers or os.cpu_count() or 1
            if max_frames is not None:
                run.ffi = _truncate(run.ffi, max_frames)
            tpf_truth, ffi_seconds, tpf_seconds = _write_files(run, n_workers, progress)
            if max_frames is not None:
                run.ffi = run.timeline.grid(run.cadence)
            _write_truth(run, tpf_truth)
        finally:
            run.kernels.close()
        seconds = time.perf_counter() - t_start
        n_frames = len(list((tmp / "ffi").iterdir()))
        # No run times in the files: the same seed must give the same bytes.
        _write_side_files(run, {"n_tpf": len(tpf_truth), "n_ffi_written": n_frames})
        _finalise(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    logger.info(
        "simulated sector %d camera %d CCD %d into %s in %.1f s", sector, camera, ccd, out, seconds
    )
    return SimulationResult(
        out, n_frames, len(tpf_truth), len(run.stars), seconds, ffi_seconds, tpf_seconds
    )


def expected_files(profile: Profile, cadence: int, max_frames: int | None = None) -> int:
    """Number of FFI and TPF files a run will write (for progress bars)."""
    n_orbit = round(profile.orbit_days * 86400 / 1800)
    n_ffi = 2 * n_orbit * (1800 // cadence)
    if max_frames is not None:
        n_ffi = min(n_ffi, max_frames)
    return n_ffi + profile.n_tpf + 1


def _truncate(grid: CadenceGrid, n: int) -> CadenceGrid:
    sl = slice(0, max(1, int(n)))
    return attrs.evolve(
        grid,
        start=grid.start[sl],
        stop=grid.stop[sl],
        mid=grid.mid[sl],
        in_gap=grid.in_gap[sl],
        base_index=grid.base_index[sl],
        cadenceno=grid.cadenceno[sl],
    )
