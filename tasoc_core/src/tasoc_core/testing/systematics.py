"""Synthetic sectors with known systematics and intrinsic signals, for corrector tests.

Richer than ``tasoc_core.testing.synthetic_light_curves``: several common-mode components
whose amplitude varies smoothly with distance from the camera boresight, momentum-dump
spikes every ~3 days (the central cadence flagged Desat, its neighbours not), pointing
jitter, spatially-correlated local patches, white noise from the star's magnitude, and
intrinsic signals (quiet stars, sinusoids with P < 5 d, long-period variables, a transit).

Every component is returned separately, so a test can measure how much of each a corrector
removes: for star i, raw relative flux = (1 + intrinsic)(1 + common + local) − 1 + noise.
"""

from __future__ import annotations

import attrs
import numpy as np
from scipy.ndimage import gaussian_filter1d

from tasoc_core.data import Target
from tasoc_core.families import LightCurve
from tasoc_core.geometry import PLATE_SCALE, camera_centre_pixel, cbv_area
from tasoc_core.testing.synthetic import mag_to_flux

__all__ = ["SimulatedSector", "signal_kept", "simulate_sector", "without_signal"]

_T0 = 1325.3
_ORBIT = 13.7  # days
_DUMP_INTERVAL = 3.125  # days between momentum dumps
_GAP = 1.0  # days of downlink gap mid-sector


@attrs.frozen(eq=False)
class SimulatedSector:
    """Light curves and the truth behind them (all relative units, shape (N, T)).

    Attributes
    ----------
    light_curves
        The raw light curves (e-/s).
    time
        (T,) mid-cadence times (BTJD; timecorr is zero).
    common
        Common-mode systematics per star: smooth components + jitter + dump spikes.
    smooth
        The smooth part of ``common`` (scattered-light ramps, orbital term, drift).
    spikes
        The dump-spike part of ``common``.
    local
        Local (patch) systematics per star.
    intrinsic
        Intrinsic relative variability per star.
    noise
        The white-noise realisation per star (relative).
    kind
        (N,) ``"quiet"``, ``"sine"``, ``"lpv"`` or ``"transit"``.
    period, amplitude
        (N,) of the intrinsic signal (NaN for quiet stars).
    in_patch
        (N,) star lies in a local-systematics patch.
    dumps
        Indices of the flagged (central) dump cadences.
    smooth_coefficients
        (N, 3) amplitudes of the ramp, orbital and drift shapes per star.
    orbits
        ((start, end), ...) of the two orbits, for :meth:`smooth_at`.
    """

    light_curves: list[LightCurve]
    time: np.ndarray
    common: np.ndarray
    smooth: np.ndarray
    spikes: np.ndarray
    local: np.ndarray
    intrinsic: np.ndarray
    noise: np.ndarray
    kind: np.ndarray
    period: np.ndarray
    amplitude: np.ndarray
    in_patch: np.ndarray
    dumps: np.ndarray
    smooth_coefficients: np.ndarray
    orbits: tuple[tuple[float, float], ...]

    def smooth_at(self, star: int, time: np.ndarray) -> np.ndarray:
        """The smooth common-mode systematics of ``star`` at arbitrary ``time`` (e.g. 120 s).

        The smooth shapes are analytic in time; the drift is normalised over the FFI span.
        """
        time = np.asarray(time, dtype=float)
        starts = [o[0] for o in self.orbits]
        ends = [o[1] for o in self.orbits]
        ramp, orbit, _ = _smooth_components(time, starts, ends)
        mid = 0.5 * (self.time.min() + self.time.max())
        drift = ((time - mid) / (0.5 * (self.time.max() - self.time.min()))) ** 2 - 0.33
        a = self.smooth_coefficients[star]
        return a[0] * ramp + a[1] * orbit + a[2] * drift

    def quiet_outside_patches(self) -> np.ndarray:
        """Indices of quiet stars untouched by local systematics."""
        return np.flatnonzero((self.kind == "quiet") & (np.abs(self.local).max(axis=1) < 1e-4))

    def relative_raw(self) -> np.ndarray:
        """Raw relative flux per star (without the NaN gaps)."""
        return (1 + self.intrinsic) * (1 + self.common + self.local) - 1 + self.noise


def _smooth_components(t: np.ndarray, orbit_starts: list[float], orbit_ends: list[float]):
    """Three smooth common-mode shapes of time (unit amplitude)."""
    ramp = np.zeros_like(t)
    for start, end in zip(orbit_starts, orbit_ends):
        inside = (t >= start) & (t <= end)
        ramp[inside] += np.exp(-(t[inside] - start) / 1.2)  # scattered light fading
        ramp[inside] += 0.6 * np.exp((t[inside] - end) / 0.7)  # Earth rising before downlink
    orbit = np.sin(2 * np.pi * (t - _T0) / _ORBIT + 0.4)
    mid = 0.5 * (t.min() + t.max())
    drift = ((t - mid) / (0.5 * (t.max() - t.min()))) ** 2 - 0.33
    return ramp, orbit, drift


def simulate_sector(
    *,
    nstars: int = 400,
    ncadences: int = 1300,
    cadence: int = 1800,
    sector: int = 1,
    camera: int = 1,
    ccd: int = 1,
    region: tuple[float, float, float, float] = (0.0, 2048.0, 44.0, 2092.0),
    tmag_range: tuple[float, float] = (8.0, 13.0),
    frac_sine: float = 0.1,
    frac_lpv: float = 0.03,
    transit: bool = True,
    n_patches: int = 3,
    patch_radius: float = 120.0,
    patch_amplitude: float = 3e-3,
    systematics_scale: float = 1.0,
    gap_fraction: float = 0.003,
    method: str = "aperture",
    seed: int = 0,
) -> SimulatedSector:
    """A sector of FFI light curves on one camera/CCD.

    Parameters
    ----------
    nstars, ncadences, cadence
        Size of the data set (cadences exclude the downlink gap).
    sector, camera, ccd
        Where the stars are; CBV areas follow from their distance to the camera boresight.
    region
        (row_min, row_max, col_min, col_max) in which stars are placed.
    tmag_range
        Uniform magnitude range.
    frac_sine, frac_lpv
        Fractions of stars with a sinusoid (P = 0.3–5 d) or a long-period variation
        (P = 20–60 d, 2–5 %).
    transit
        Give one quiet star a 0.5 % transit every 3.7 d.
    n_patches, patch_radius, patch_amplitude
        Local systematics: patches of Gaussian radius ``patch_radius`` (pixels) with their
        own time series of RMS ≈ ``patch_amplitude``.
    systematics_scale
        Multiplies every common-mode amplitude.
    gap_fraction
        Fraction of each star's cadences randomly set to NaN (individual gaps).
    method
        Photometry method recorded on the light curves.
    seed
        Random seed.
    """
    rng = np.random.default_rng(seed)
    step = cadence / 86400.0
    ngap = round(_GAP / step)
    total = ncadences + ngap
    cadno_all = 10_000 + np.arange(total)
    t_all = _T0 + np.arange(total) * step
    half = ncadences // 2
    keep = np.r_[0:half, half + ngap : total]
    t, cadenceno = t_all[keep], cadno_all[keep]
    orbit_starts = [t[0], t[half]]
    orbit_ends = [t[half - 1], t[-1]]
    ramp, orbit, drift = _smooth_components(t, orbit_starts, orbit_ends)

    # Pointing jitter: an AR(1) series shared by every star (coupling differs per star).
    jitter = np.zeros(len(t))
    e = rng.standard_normal(len(t))
    for i in range(1, len(t)):  # tiny, test-data only
        jitter[i] = 0.6 * jitter[i - 1] + e[i]
    jitter /= jitter.std()
    # Momentum dumps every ~3.1 d: the central cadence is flagged, both neighbours are not.
    dump_times = np.arange(t[0] + 1.3, t[-1], _DUMP_INTERVAL)
    dumps = np.unique([int(np.argmin(np.abs(t - d))) for d in dump_times])
    dumps = dumps[np.abs(t[dumps] - dump_times[: len(dumps)]) < step] if len(dumps) else dumps
    spike_shape = np.zeros(len(t))
    spike_shape[dumps] = -2.0
    for off in (-1, 1):
        idx = np.clip(dumps + off, 0, len(t) - 1)
        spike_shape[idx] += -1.0

    rows = rng.uniform(region[0], region[1], nstars)
    cols = rng.uniform(region[2], region[3], nstars)
    centre = camera_centre_pixel(camera, ccd)
    distance = np.hypot(rows - centre[0], cols - centre[1]) * PLATE_SCALE / 3600.0
    areas = cbv_area(camera, ccd, distance)
    x = distance / 17.0  # 0 (boresight) .. ~1 (corner)
    s = systematics_scale
    a_ramp = s * 3e-3 * (0.5 + 1.2 * x) * rng.normal(1, 0.1, nstars)
    a_orbit = s * 2e-3 * (1.3 - 0.9 * x) * rng.normal(1, 0.1, nstars)
    a_drift = s * 1.5e-3 * np.cos(3.0 * x) * rng.normal(1, 0.1, nstars)
    a_jitter = s * 3e-4 * rng.normal(0, 1, nstars)
    a_spike = s * 1.5e-3 * (0.6 + 0.8 * x) * rng.normal(1, 0.15, nstars)
    smooth = (
        a_ramp[:, None] * ramp[None] + a_orbit[:, None] * orbit[None] + a_drift[:, None] * drift
    )
    spikes = a_spike[:, None] * spike_shape[None]
    common = smooth + a_jitter[:, None] * jitter[None] + spikes

    local = np.zeros((nstars, len(t)))
    in_patch = np.zeros(nstars, dtype=bool)
    for _ in range(n_patches):
        pr = rng.uniform(region[0] + patch_radius, region[1] - patch_radius)
        pc = rng.uniform(region[2] + patch_radius, region[3] - patch_radius)
        # Red noise with a correlation time of about a day (scattered-light glints, local
        # background errors): smooth, irregular, different in every patch.
        series = gaussian_filter1d(rng.standard_normal(len(t)), sigma=0.7 / step, mode="nearest")
        series = patch_amplitude * (series - series.mean()) / series.std()
        d = np.hypot(rows - pr, cols - pc)
        w = np.exp(-0.5 * (d / patch_radius) ** 2)
        w[d > 3 * patch_radius] = 0.0
        local += w[:, None] * series[None]
        in_patch |= d < patch_radius

    tmag = rng.uniform(*tmag_range, nstars)
    flux0 = mag_to_flux(tmag)
    exposure = 0.8 * cadence
    sigma = np.sqrt(flux0 * exposure + 200.0 * exposure) / (flux0 * exposure)
    noise = rng.standard_normal((nstars, len(t))) * sigma[:, None]

    kind = np.full(nstars, "quiet", dtype=object)
    period = np.full(nstars, np.nan)
    amplitude = np.full(nstars, np.nan)
    intrinsic = np.zeros((nstars, len(t)))
    order = rng.permutation(nstars)
    nsine, nlpv = round(frac_sine * nstars), round(frac_lpv * nstars)
    for i in order[:nsine]:
        kind[i] = "sine"
        period[i] = rng.uniform(0.3, 5.0)
        amplitude[i] = rng.uniform(1e-3, 5e-3)
        intrinsic[i] = amplitude[i] * np.sin(2 * np.pi * t / period[i] + rng.uniform(0, 6.3))
    for i in order[nsine : nsine + nlpv]:
        kind[i] = "lpv"
        period[i] = rng.uniform(20.0, 60.0)
        amplitude[i] = rng.uniform(0.02, 0.05)
        intrinsic[i] = amplitude[i] * np.sin(2 * np.pi * t / period[i] + rng.uniform(0, 6.3))
    if transit and nstars > nsine + nlpv:
        i = order[nsine + nlpv]
        kind[i] = "transit"
        period[i], amplitude[i] = 3.7, 5e-3
        phase = ((t - _T0 - 0.8) / period[i] + 0.5) % 1.0 - 0.5
        intrinsic[i] = np.where(np.abs(phase * period[i]) < 0.075, -amplitude[i], 0.0)

    relative = (1 + intrinsic) * (1 + common + local) - 1 + noise
    lcs = []
    for i in range(nstars):
        flux = flux0[i] * (1.0 + relative[i])
        quality = np.zeros(len(t), dtype=np.int32)
        pixel_quality = np.zeros(len(t), dtype=np.int32)
        pixel_quality[dumps] |= 32  # Desat
        quality[dumps] |= 1  # FlaggedBadData
        holes = rng.random(len(t)) < gap_fraction
        flux[holes] = np.nan
        quality[holes] |= 1
        target = Target(
            starid=400_000_000 + i,
            sector=sector,
            camera=camera,
            ccd=ccd,
            cadence=cadence,
            datasource="ffi",
            tmag=tmag[i],
            ra=100.0 + rows[i] * 1e-3,
            dec=-30.0 + cols[i] * 1e-3,
            priority=i + 1,
        )
        lcs.append(
            LightCurve(
                target=target,
                method=method,
                time=t,
                timecorr=np.zeros(len(t)),
                cadenceno=cadenceno,
                flux=flux,
                flux_err=np.full(len(t), flux0[i] * sigma[i]),
                quality=quality,
                pixel_quality=pixel_quality,
                position=(float(rows[i]), float(cols[i])),
                cbv_area=int(areas[i]),
                meta={"mean_flux": float(flux0[i]), "tmag": float(tmag[i])},
            )
        )
    return SimulatedSector(
        light_curves=lcs,
        time=t,
        common=common,
        smooth=smooth,
        spikes=spikes,
        local=local,
        intrinsic=intrinsic,
        noise=noise,
        kind=kind,
        period=period,
        amplitude=amplitude,
        in_patch=in_patch,
        dumps=dumps,
        smooth_coefficients=np.column_stack([a_ramp, a_orbit, a_drift]),
        orbits=tuple(zip(orbit_starts, orbit_ends)),
    )


def without_signal(sim: SimulatedSector, i: int) -> LightCurve:
    """Star ``i`` with exactly the same systematics, noise and gaps but no intrinsic signal."""
    lc = sim.light_curves[i]
    flux = lc.meta["mean_flux"] * (1.0 + sim.common[i] + sim.local[i] + sim.noise[i])
    flux[~np.isfinite(lc.flux)] = np.nan
    return attrs.evolve(lc, flux=flux)


def signal_kept(corrected: np.ndarray, corrected_without: np.ndarray, signal: np.ndarray) -> float:
    """Injection–recovery: fraction of ``signal`` left in a corrected light curve (ppm).

    The star is corrected twice, with and without the injected signal (same noise and
    systematics); the difference is the signal as it survived the correction, and its
    regression on the injected signal is the fraction kept. Noise and systematics cancel,
    so the number measures what the corrector did to the signal and nothing else.
    """
    a, b = np.asarray(corrected) / 1e6, np.asarray(corrected_without) / 1e6
    good = np.isfinite(a) & np.isfinite(b)
    design = np.column_stack([signal[good], np.ones(good.sum())])
    return float(np.linalg.lstsq(design, (a - b)[good], rcond=None)[0][0])
