"""Synthetic saturated stars with known truth, for tests and benchmarks of halo photometry.

The star is a pixel-integrated Gaussian core plus a Moffat halo (wings falling as r⁻³, as
the wings of real TESS PSFs do), moving with the spacecraft jitter. Charge above each
pixel's full well bleeds up and down its column, conserving charge, and is lost where the
bleed runs off the stamp. Every pixel gets photon, sky and read noise computed from its
recorded value, saturated or not: in real calibrated FFIs (π Men, sector 1) saturated pixels
scatter as much as their reported uncertainties, about 7.5 e-/s at 1e5 e-/s.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs
import numpy as np
from scipy.special import erf

from tasoc_core.data import ArraySource, Instrument, Stars, Target, TargetData, Timeline
from tasoc_core.flags import TESS_QUALITY
from tasoc_core.photometry.magnitudes import ZERO_POINT, mag_to_flux
from tasoc_core.testing.synthetic import tan_wcs

__all__ = [
    "ZERO_POINT",
    "SaturatedTarget",
    "bleed_columns",
    "mag_to_flux",
    "saturated_target",
]


@attrs.frozen
class SaturatedTarget:
    """A synthetic (possibly saturated) star and what was injected.

    Attributes
    ----------
    data
        TargetData to hand to a method.
    flux
        True total flux of the target per cadence, e-/s.
    relative
        True relative variability of the target (flux / mean − 1).
    saturated
        Stamp image (rows, cols) of pixels at their full well on every cadence.
    ever_saturated
        Stamp image of pixels at their full well on at least one cadence.
    neighbour_footprints
        Stamp images, one per neighbour, of pixels where that neighbour's mean flux exceeds
        the target's mean flux there and 20 e-/s.
    jitter
        Per-cadence (Δrow, Δcol) of the field, pixels.
    full_well
        Saturation level per pixel of the stamp, e-/s.
    lost_flux
        Mean flux (e-/s) of the charge that bled off the stamp.
    focus
        Per-cadence scale of the PSF's widths (1 without breathing).
    """

    data: TargetData
    flux: np.ndarray
    relative: np.ndarray
    saturated: np.ndarray
    ever_saturated: np.ndarray
    neighbour_footprints: tuple[np.ndarray, ...]
    jitter: np.ndarray
    full_well: np.ndarray
    lost_flux: float
    focus: np.ndarray


def _pixel_fraction(centres: np.ndarray, pos: np.ndarray, sigma: float | np.ndarray) -> np.ndarray:
    s = np.sqrt(2.0) * sigma
    return 0.5 * (erf((centres + 0.5 - pos) / s) - erf((centres - 0.5 - pos) / s))


def _psf_cube(
    shape: tuple[int, int],
    row: np.ndarray,
    col: np.ndarray,
    *,
    sigma: float,
    halo_fraction: float,
    halo_alpha: float,
    halo_beta: float,
    scale: np.ndarray | float = 1.0,
) -> np.ndarray:
    """Normalised PSF (T, rows, cols) of a star at per-cadence stamp position (row, col).

    ``scale`` (per cadence) multiplies the widths of the core and the halo (focus).
    """
    rows = np.arange(shape[0], dtype=float)
    cols = np.arange(shape[1], dtype=float)
    scale = np.broadcast_to(np.asarray(scale, dtype=float), row.shape)
    sig = (sigma * scale)[:, None]
    fr = _pixel_fraction(rows[None, :], row[:, None], sig)
    fc = _pixel_fraction(cols[None, :], col[:, None], sig)
    core = fr[:, :, None] * fc[:, None, :]
    r2 = (rows[None, :, None] - row[:, None, None]) ** 2 + (
        cols[None, None, :] - col[:, None, None]
    ) ** 2
    # Moffat profile normalised over the infinite plane: (β − 1)/(π α²) (1 + r²/α²)^−β.
    alpha = (halo_alpha * scale)[:, None, None]
    norm = (halo_beta - 1.0) / (np.pi * alpha**2)
    halo = norm * (1.0 + r2 / alpha**2) ** (-halo_beta)
    return (1.0 - halo_fraction) * core + halo_fraction * halo


def bleed_columns(image: np.ndarray, full_well: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Saturate a cube and bleed the excess charge along columns, conserving charge.

    Parameters
    ----------
    image
        Unsaturated flux cube (T, rows, cols), e-/s.
    full_well
        Saturation level per pixel (rows, cols), e-/s.

    Returns
    -------
    bled, lost
        The saturated cube, and the flux per cadence and column that bled off the stamp
        (T, cols).

    Notes
    -----
    In each column the charge above full well first fills the pixels between the lowest
    and highest saturated rows, then spreads equally up and down the column, filling each
    pixel to its full well before moving on.
    """
    _, h, w = image.shape
    level = np.broadcast_to(full_well, (h, w))[None]
    capped = np.minimum(image, level)
    excess = np.clip(image - level, 0.0, None).sum(axis=1)  # (T, cols)
    sat = image >= level
    any_sat = sat.any(axis=1)
    rows = np.arange(h)[None, :, None]
    bottom = np.where(any_sat, np.argmax(sat, axis=1), h)[:, None, :]
    top = np.where(any_sat, h - 1 - np.argmax(sat[:, ::-1, :], axis=1), -1)[:, None, :]
    cap = level - capped
    inside = (rows >= bottom) & (rows <= top)
    inner = (cap * inside).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = np.where(inner > 0, np.minimum(1.0, excess / inner), 0.0)
    half = (np.clip(excess - inner, 0.0, None) / 2.0)[:, None, :]
    up_cap = cap * (rows > top)
    cum_up = np.cumsum(up_cap, axis=1)
    fill_up = np.clip(half - (cum_up - up_cap), 0.0, up_cap)
    down_cap = cap * (rows < bottom)
    cum_down = np.cumsum(down_cap[:, ::-1, :], axis=1)[:, ::-1, :]
    fill_down = np.clip(half - (cum_down - down_cap), 0.0, down_cap)
    bled = capped + inside * cap * frac[:, None, :] + fill_up + fill_down
    lost = np.clip(half[:, 0, :] - cum_up[:, -1, :], 0.0, None) + np.clip(
        half[:, 0, :] - cum_down[:, 0, :], 0.0, None
    )
    return bled, lost


def saturated_target(
    *,
    tmag: float = 3.0,
    shape: tuple[int, int] = (45, 45),
    offset: tuple[int, int] = (0, 0),
    ncadences: int = 1000,
    cadence: int = 1800,
    orbit_gap: float = 1.0,
    neighbours: Sequence[tuple[float, float, float]] = (),
    catalog: bool = True,
    amplitude: float = 0.005,
    period: float = 1.3,
    jitter_rms: float = 0.05,
    focus_rms: float = 0.0,
    focus_period: float = 2.3,
    psf_sigma: float = 0.9,
    halo_fraction: float = 0.15,
    halo_alpha: float = 3.0,
    halo_beta: float = 1.5,
    full_well: float = 1.0e5,
    full_well_scatter: float = 0.01,
    background: float = 40.0,
    noise: bool = True,
    datasource: str = "ffi",
    tic: int = 300_000_001,
    radec: tuple[float, float] = (95.0, -30.0),
    seed: int = 0,
) -> SaturatedTarget:
    """A bright star with bleed columns, jitter-driven systematics and an oscillation.

    Parameters
    ----------
    tmag
        Target magnitude; its total flux follows :func:`mag_to_flux`.
    shape
        (rows, cols) of the available pixels.
    offset
        (Δrow, Δcol) of the star from the stamp centre, whole pixels (moves the star
        towards an edge, or makes a stamp that holds only part of the bleed).
    ncadences, cadence
        Number of cadences and cadence in seconds.
    orbit_gap
        Length (days) of the data gap between the two orbits in the middle; 0 for none.
    neighbours
        (Δrow, Δcol, Tmag) of other stars relative to the target.
    catalog
        If False the catalog is empty (not even the target).
    amplitude, period
        Semi-amplitude (relative) and period (days) of the target's oscillation.
    jitter_rms
        RMS of the pointing jitter per axis, pixels (slow drift, momentum-dump resets and
        cadence-to-cadence noise).
    focus_rms, focus_period
        RMS (relative) and period (days) of a sinusoidal change of the PSF's widths (core
        and halo scaled together: "breathing", as the focus of the simulated sectors).
    psf_sigma, halo_fraction, halo_alpha, halo_beta
        Gaussian core width, and fraction, core radius and slope of the Moffat halo.
    full_well, full_well_scatter
        Mean saturation level, e-/s, and the relative RMS of each pixel's level about it.
    background
        Sky level per pixel (subtracted; adds noise).
    noise
        Add photon, sky and read noise.
    datasource
        ``"ffi"`` or ``"tpf"``.
    tic
        TIC number of the target; neighbours get the following numbers.
    radec
        Sky position (degrees) of the target.
    seed
        Random seed.
    """
    rng = np.random.default_rng(seed)
    h, w = shape
    origin = (500, 700)
    centre = (
        origin[0] + h // 2 + offset[0] + 0.27,
        origin[1] + w // 2 + offset[1] - 0.18,
    )
    wcs = tan_wcs(centre, radec)

    time = 1400.2 + np.arange(ncadences) * cadence / 86400.0
    time[ncadences // 2 :] += orbit_gap
    quality = np.zeros(ncadences, np.int32)
    # Momentum dumps every ~3 days: a flagged cadence and a jump in pointing.
    dumps = np.flatnonzero(np.diff(np.floor((time - time[0]) / 3.1)) > 0) + 1
    quality[dumps] |= TESS_QUALITY["Desat"]
    timeline = Timeline(
        time, np.full(ncadences, 4e-3), 20000 + np.arange(ncadences), quality
    )  # fmt: skip

    steps = rng.standard_normal((ncadences, 2))
    walk = np.cumsum(steps, axis=0)
    for start, stop in zip(np.r_[0, dumps], np.r_[dumps, ncadences]):
        walk[start:stop] -= walk[start]
    walk /= max(float(np.std(walk)), 1e-12)
    jitter = jitter_rms * (0.8 * walk + 0.6 * rng.standard_normal((ncadences, 2)))
    jitter -= np.median(jitter, axis=0)
    # PSF breathing: a slow oscillation of the PSF's width (focus), with a random phase.
    # (No random draw without it: the other synthetic stars keep their noise.)
    focus = np.ones(ncadences)
    if focus_rms > 0:
        phase = rng.uniform(0.0, 2.0 * np.pi)
        focus += focus_rms * np.sqrt(2.0) * np.sin(2.0 * np.pi * time / focus_period + phase)

    relative = amplitude * np.sin(2.0 * np.pi * time / period + 0.4)
    flux0 = float(mag_to_flux(tmag))
    flux = flux0 * (1.0 + relative)

    d_row = np.array([0.0] + [n[0] for n in neighbours])
    d_col = np.array([0.0] + [n[1] for n in neighbours])
    mags = np.array([tmag] + [n[2] for n in neighbours])
    rows_ccd = centre[0] + d_row
    cols_ccd = centre[1] + d_col
    ra, dec = wcs.all_pix2world(cols_ccd, rows_ccd, 0)

    psf_kw = {
        "sigma": psf_sigma,
        "halo_fraction": halo_fraction,
        "halo_alpha": halo_alpha,
        "halo_beta": halo_beta,
    }
    model = np.zeros((ncadences, h, w))
    star_means = []
    for i in range(len(mags)):
        cube = _psf_cube(
            shape,
            rows_ccd[i] - origin[0] + jitter[:, 0],
            cols_ccd[i] - origin[1] + jitter[:, 1],
            scale=focus,
            **psf_kw,
        )
        star_flux = flux if i == 0 else np.full(ncadences, float(mag_to_flux(mags[i])))
        contribution = star_flux[:, None, None] * cube
        star_means.append(contribution.mean(axis=0))
        model += contribution

    well = full_well * (1.0 + full_well_scatter * rng.standard_normal(shape))
    bled, lost = bleed_columns(model, well)
    at_well = bled >= well[None] * (1.0 - 1e-9)

    instrument = Instrument(cadence=cadence, num_frm=cadence // 2)
    exposure = instrument.exposure
    read_var = instrument.num_frm * instrument.readnoise**2
    variance_e = (bled + background) * exposure + read_var
    images = bled + (
        rng.standard_normal(bled.shape) * np.sqrt(variance_e) / exposure if noise else 0
    )
    err = np.sqrt((np.clip(images, 0, None) + background) * exposure + read_var) / exposure

    starids = np.arange(len(mags)) + tic
    if catalog:
        stars = Stars(
            starids, mags, ra, dec, np.full(len(mags), np.nan), np.full(len(mags), np.nan)
        )
    else:
        empty = np.zeros(0)
        stars = Stars(empty, empty, empty, empty, empty, empty)
    source = ArraySource(
        images,
        timeline,
        wcs,
        stars,
        origin=origin,
        images_err=err,
        backgrounds=np.full(images.shape, background, np.float32),
        instrument=instrument,
        jitter=jitter,
    )
    target = Target(
        starid=int(starids[0]),
        sector=7,
        camera=2,
        ccd=3,
        cadence=cadence,
        datasource=datasource,
        tmag=tmag,
        ra=float(ra[0]),
        dec=float(dec[0]),
        priority=1,
    )
    footprints = tuple(
        (star_means[i] > star_means[0]) & (star_means[i] > 20.0) for i in range(1, len(mags))
    )
    # The stamp the method sees: the whole synthetic image.
    stamp_data = TargetData(target, source, source.max_stamp)
    return SaturatedTarget(
        data=stamp_data,
        flux=flux,
        relative=relative,
        saturated=at_well.all(axis=0),
        ever_saturated=at_well.any(axis=0),
        neighbour_footprints=footprints,
        jitter=jitter,
        full_well=well,
        lost_flux=float(lost.sum(axis=1).mean()),
        focus=focus,
    )
