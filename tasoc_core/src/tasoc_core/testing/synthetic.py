"""Small synthetic data sets with known truth, for plugin tests.

Everything here is deterministic for a given seed and fast (well under a second), so a
plugin's test suite can call it many times. For realistic end-to-end data use the
simulator (``tasoc simulate``) instead.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import attrs
import numpy as np
from astropy.table import Table
from astropy.wcs import WCS
from scipy.special import erf

from tasoc_core.data import ArraySource, Instrument, Stars, Target, TargetData, Timeline
from tasoc_core.families.background import FrameGeometry
from tasoc_core.families.correction import CorrectionContext, LightCurve
from tasoc_core.photometry.magnitudes import ZERO_POINT, mag_to_flux
from tasoc_core.prf import PRFModel

__all__ = [
    "ZERO_POINT",
    "InMemoryCorrectionContext",
    "SyntheticFrame",
    "SyntheticTarget",
    "mag_to_flux",
    "synthetic_frame",
    "synthetic_light_curves",
    "synthetic_target",
    "synthetic_validation_table",
    "tan_wcs",
]

_PLATE_SCALE = 21.0 / 3600.0  # degrees per pixel


def _pixel_fraction(centres: np.ndarray, pos: float, sigma: float) -> np.ndarray:
    s = np.sqrt(2.0) * sigma
    return 0.5 * (erf((centres + 0.5 - pos) / s) - erf((centres - 0.5 - pos) / s))


def _gaussian_stamp(
    shape: tuple[int, int], row: np.ndarray, col: np.ndarray, sigma: float
) -> np.ndarray:
    """Per-star normalised images (N, rows, cols) of Gaussian PSFs integrated over pixels."""
    rows = np.arange(shape[0], dtype=float)
    cols = np.arange(shape[1], dtype=float)
    fr = _pixel_fraction(rows[None, :], np.asarray(row)[:, None], sigma)  # (N, rows)
    fc = _pixel_fraction(cols[None, :], np.asarray(col)[:, None], sigma)  # (N, cols)
    return fr[:, :, None] * fc[:, None, :]


def tan_wcs(crpix: tuple[float, float], crval: tuple[float, float]) -> WCS:
    """A TESS-like gnomonic WCS (21″ pixels): pixel ``crpix`` (0-based row, col) at
    ``crval`` (RA, Dec in degrees), RA increasing to lower columns."""
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crpix = [crpix[1] + 1.0, crpix[0] + 1.0]  # FITS is 1-based, (col, row)
    wcs.wcs.crval = list(crval)
    wcs.wcs.cdelt = [-_PLATE_SCALE, _PLATE_SCALE]
    return wcs


@attrs.frozen
class SyntheticTarget:
    """A synthetic target and what was injected.

    Attributes
    ----------
    data
        The TargetData to hand to a method.
    flux
        True total flux of the target per cadence, e-/s.
    relative
        True relative variability of the target (flux / mean − 1).
    neighbour_flux
        True mean flux of each neighbour, e-/s.
    background
        True background per pixel (constant), e-/s.
    """

    data: TargetData
    flux: np.ndarray
    relative: np.ndarray
    neighbour_flux: np.ndarray
    background: float


def synthetic_target(
    *,
    tmag: float = 10.0,
    shape: tuple[int, int] = (31, 31),
    ncadences: int = 240,
    cadence: int = 1800,
    datasource: str = "ffi",
    neighbours: Sequence[tuple[float, float, float]] = (),
    amplitude: float = 0.01,
    period: float = 1.7,
    psf_sigma: float = 0.8,
    background: float = 40.0,
    noise: bool = True,
    seed: int = 0,
) -> SyntheticTarget:
    """A star (with optional neighbours) on a small stamp, with a sinusoidal signal.

    Parameters
    ----------
    tmag
        Target magnitude; total flux follows :func:`mag_to_flux`.
    shape
        (rows, cols) of the available pixels; the target sits near the centre.
    ncadences, cadence
        Number of cadences and cadence in seconds.
    datasource
        ``"ffi"`` or ``"tpf"``.
    neighbours
        (Δrow, Δcol, Tmag) of other stars relative to the target.
    amplitude, period
        Semi-amplitude (relative) and period (days) of the target's sinusoid.
    psf_sigma
        Gaussian PSF width in pixels. The data carry this PSF's exact PRF model
        (:meth:`~tasoc_core.prf.PRFModel.gaussian`) as ``data.prf``.
    background
        Sky level per pixel already subtracted from the images, e-/s (it still adds noise).
    noise
        Add photon, background and read noise.
    seed
        Random seed.
    """
    rng = np.random.default_rng(seed)
    origin = (1000, 1000)
    centre = (origin[0] + shape[0] // 2 + 0.23, origin[1] + shape[1] // 2 - 0.31)
    crval = (120.0, -40.0)
    wcs = tan_wcs(centre, crval)

    time = 1325.3 + np.arange(ncadences) * cadence / 86400.0
    timeline = Timeline(
        time, np.full(ncadences, 5e-3), 10000 + np.arange(ncadences), np.zeros(ncadences)
    )
    relative = amplitude * np.sin(2.0 * np.pi * time / period)
    flux0 = float(mag_to_flux(tmag))
    flux = flux0 * (1.0 + relative)

    d_row = np.array([0.0] + [n[0] for n in neighbours])
    d_col = np.array([0.0] + [n[1] for n in neighbours])
    mags = np.array([tmag] + [n[2] for n in neighbours])
    rows_ccd = centre[0] + d_row
    cols_ccd = centre[1] + d_col
    ra, dec = wcs.all_pix2world(cols_ccd, rows_ccd, 0)
    starids = np.arange(len(mags)) + 100_000_001

    psfs = _gaussian_stamp(shape, rows_ccd - origin[0], cols_ccd - origin[1], psf_sigma)
    star_flux = np.tile(mag_to_flux(mags), (ncadences, 1))
    star_flux[:, 0] = flux
    model = np.einsum("tn,nrc->trc", star_flux, psfs)

    instrument = Instrument(cadence=cadence, num_frm=cadence // 2)
    exposure = instrument.exposure
    reads = instrument.num_frm
    variance_e = (np.clip(model, 0, None) + background) * exposure + reads * instrument.readnoise**2
    err = np.sqrt(variance_e) / exposure
    images = model + (rng.standard_normal(model.shape) * err if noise else 0.0)
    source = ArraySource(
        images,
        timeline,
        wcs,
        Stars(starids, mags, ra, dec, np.full(len(mags), np.nan), np.full(len(mags), np.nan)),
        origin=origin,
        images_err=err,
        backgrounds=np.full(model.shape, background, np.float32),
        instrument=instrument,
        prf=PRFModel.gaussian(psf_sigma),
    )
    target = Target(
        starid=int(starids[0]),
        sector=1,
        camera=1,
        ccd=1,
        cadence=cadence,
        datasource=datasource,
        tmag=tmag,
        ra=float(ra[0]),
        dec=float(dec[0]),
        priority=1,
    )
    return SyntheticTarget(
        data=TargetData(target, source),
        flux=flux,
        relative=relative,
        neighbour_flux=mag_to_flux(mags[1:]),
        background=background,
    )


@attrs.frozen
class SyntheticFrame:
    """A frame with a known smooth background, for background estimators."""

    image: np.ndarray
    background: np.ndarray
    mask: np.ndarray
    geometry: FrameGeometry


def synthetic_frame(
    *, shape: tuple[int, int] = (256, 256), sky: float = 100.0, nstars: int = 150, seed: int = 0
) -> SyntheticFrame:
    """A frame: a tilted, slightly curved sky plus stars and noise; a few pixels masked."""
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[0 : shape[0], 0 : shape[1]].astype(float)
    background = sky * (
        1.0 + 0.3 * rows / shape[0] - 0.2 * cols / shape[1] + 0.1 * (cols / shape[1]) ** 2
    )
    star_rows = rng.uniform(0, shape[0], nstars)
    star_cols = rng.uniform(0, shape[1], nstars)
    fluxes = mag_to_flux(rng.uniform(9.0, 15.0, nstars))
    image = background.copy()
    for r, c, f in zip(star_rows, star_cols, fluxes):
        r0, r1 = max(int(r) - 5, 0), min(int(r) + 6, shape[0])
        c0, c1 = max(int(c) - 5, 0), min(int(c) + 6, shape[1])
        psf = _gaussian_stamp((r1 - r0, c1 - c0), np.array([r - r0]), np.array([c - c0]), 0.9)[0]
        image[r0:r1, c0:c1] += f * psf
    image += rng.standard_normal(shape) * np.sqrt(image / 1440.0)
    mask = np.zeros(shape, dtype=bool)
    mask[10:20, 30:40] = True
    image[mask] = 1e7  # masked pixels hold garbage an estimator must ignore
    geometry = FrameGeometry(camera=1, ccd=1, origin=(0, 44), camera_centre=(-3000.0, -3000.0))
    return SyntheticFrame(image.astype(np.float32), background.astype(np.float32), mask, geometry)


def synthetic_light_curves(
    *,
    nstars: int = 60,
    ncadences: int = 600,
    cadence: int = 1800,
    systematic_amplitude: float = 0.004,
    seed: int = 0,
) -> tuple[list[LightCurve], np.ndarray, np.ndarray]:
    """Light curves of quiet stars on one CCD sharing a common systematic trend.

    Returns
    -------
    light_curves
        Raw light curves (e-/s).
    common
        The injected common-mode relative trend, length ``ncadences``.
    intrinsic
        Each star's true relative variability (nstars, ncadences); the first star has a
        0.5 % sinusoid, the others are constant.
    """
    rng = np.random.default_rng(seed)
    time = 1325.3 + np.arange(ncadences) * cadence / 86400.0
    phase = (time - time[0]) / (time[-1] - time[0])
    common = systematic_amplitude * (np.sin(2 * np.pi * phase) + 0.5 * phase**2 - 0.3)
    intrinsic = np.zeros((nstars, ncadences))
    intrinsic[0] = 0.005 * np.sin(2 * np.pi * time / 0.9)
    tmags = rng.uniform(9.0, 12.0, nstars)
    rows = rng.uniform(100, 1900, nstars)
    cols = rng.uniform(100, 1900, nstars)
    out = []
    for i in range(nstars):
        f0 = float(mag_to_flux(tmags[i]))
        coupling = rng.uniform(0.8, 1.2)
        true = f0 * (1.0 + intrinsic[i]) * (1.0 + coupling * common)
        err = np.full(ncadences, np.sqrt(f0 * 1440.0) / 1440.0)
        flux = true + rng.standard_normal(ncadences) * err
        target = Target(
            starid=200_000_000 + i,
            sector=1,
            camera=1,
            ccd=1,
            cadence=cadence,
            datasource="ffi",
            tmag=tmags[i],
            ra=120.0 + i * 0.01,
            dec=-40.0,
            priority=i + 1,
        )
        out.append(
            LightCurve(
                target=target,
                method="aperture",
                time=time,
                timecorr=np.zeros(ncadences),
                cadenceno=np.arange(ncadences) + 10000,
                flux=flux,
                flux_err=err,
                quality=np.zeros(ncadences),
                pixel_quality=np.zeros(ncadences),
                position=(rows[i], cols[i]),
                cbv_area=111,
                meta={"mean_flux": f0, "tmag": float(tmags[i])},
            )
        )
    return out, common, intrinsic


class InMemoryCorrectionContext(CorrectionContext):
    """A :class:`CorrectionContext` over a list of light curves held in memory."""

    def __init__(self, light_curves: Sequence[LightCurve], work_dir: Path) -> None:
        self._lcs = list(light_curves)
        self._work_dir = Path(work_dir)

    @property
    def work_dir(self) -> Path:
        return self._work_dir

    def light_curve(self, priority: int, method: str) -> LightCurve:
        for lc in self._lcs:
            if lc.target.priority == priority and lc.method == method:
                return lc
        raise KeyError((priority, method))

    def candidates(self, lc: LightCurve, *, limit: int) -> list[LightCurve]:
        same = [
            o
            for o in self._lcs
            if o.target.priority != lc.target.priority
            and o.target.camera == lc.target.camera
            and o.target.ccd == lc.target.ccd
            and o.target.cadence == lc.target.cadence
        ]
        same.sort(
            key=lambda o: np.hypot(o.position[0] - lc.position[0], o.position[1] - lc.position[1])
        )
        return same[:limit]

    def light_curves(
        self, *, camera: int, ccd: int, cadence: int, method: str, cbv_area: int | None = None
    ) -> Iterator[LightCurve]:
        for lc in self._lcs:
            t = lc.target
            same = (t.camera, t.ccd, t.cadence) == (camera, ccd, cadence) and lc.method == method
            if same and (cbv_area is None or lc.cbv_area == cbv_area):
                yield lc


def synthetic_validation_table(*, nrows: int = 80, seed: int = 0) -> Table:
    """A diagnostics table like the one validators receive, with a few deliberate outliers."""
    rng = np.random.default_rng(seed)
    tmag = rng.uniform(6.0, 15.0, nrows)
    mean_flux = mag_to_flux(tmag) * rng.normal(1.0, 0.03, nrows)
    mean_flux[0] = -5.0  # invalid flux
    rms = 60e-6 * 10 ** (0.2 * (tmag - 8.0))
    ptp = rms * 0.8
    rms[1] = 0.0  # invalid noise
    contamination = np.clip(rng.normal(0.05, 0.05, nrows), 0, 0.9)
    contamination[2] = 1.5  # invalid contamination
    return Table(
        {
            "priority": np.arange(1, nrows + 1),
            "starid": np.arange(nrows) + 300_000_000,
            "tmag": tmag,
            "datasource": np.array(["ffi"] * nrows),
            "cadence": np.full(nrows, 1800),
            "method": np.array(["aperture"] * nrows),
            "status": np.ones(nrows, dtype=int),
            "mean_flux": mean_flux,
            "rms_hour": rms,
            "ptp": ptp,
            "mask_size": np.clip(np.round(100 * 10 ** (-0.15 * (tmag - 8))), 4, None).astype(int),
            "contamination": contamination,
            "minimal_mask": np.zeros(nrows, dtype=bool),
            "ra": rng.uniform(0, 360, nrows),
            "dec": rng.uniform(-90, 90, nrows),
        }
    )
