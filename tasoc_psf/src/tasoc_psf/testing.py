"""Synthetic star fields rendered with a PRF model, with known truth (tests and benchmarks).

Stars are drawn with :meth:`tasoc_core.prf.PRFModel.evaluate` — by default the simulator's
analytic PRF grid — at their catalog position plus the pointing jitter of each cadence,
optionally widened by a focus scale the PRF model does not know about (as the simulator
does). Each star may carry a sinusoid. Noise is photon, sky and read noise, as in
``tasoc_core.testing.synthetic_target``.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs
import numpy as np

from tasoc_core.data import ArraySource, Instrument, Stars, Target, TargetData, Timeline
from tasoc_core.photometry.magnitudes import mag_to_flux
from tasoc_core.prf import PRFModel
from tasoc_core.simulate.prf import analytic_prf_grid
from tasoc_core.testing.synthetic import tan_wcs

__all__ = ["PRFScene", "SceneStar", "prf_scene", "simulator_prf", "sinusoid_amplitudes"]

#: Camera centre (0-based CCD row, col) of the default PRF grid: a CCD corner 2500 px away.
_CAMERA_CENTRE = (-1500.0, -2000.0)


def simulator_prf(camera: int = 1, ccd: int = 1) -> PRFModel:
    """The simulator's analytic PRF grid (elongated towards the CCD corner used here)."""
    return PRFModel(
        analytic_prf_grid(_CAMERA_CENTRE), camera, ccd, origin="tasoc simulate (analytic)"
    )


@attrs.frozen
class SceneStar:
    """One star of a scene: offset from the first star (pixels), magnitude, sinusoid."""

    drow: float
    dcol: float
    tmag: float
    amplitude: float = 0.0  #: relative semi-amplitude
    period: float = 1.0  #: days


@attrs.frozen
class PRFScene:
    """A rendered scene and its truth.

    Attributes
    ----------
    source
        The pixels, catalog and PRF as a pixel source.
    targets
        One Target per star (star 0 first).
    flux
        True flux (T, N) of every star per cadence, e-/s.
    relative
        True relative variability (T, N).
    positions
        True (row, col) of the stars (N, 2), without jitter.
    jitter
        Pointing offset (T, 2) applied to every star.
    """

    source: ArraySource
    targets: tuple[Target, ...]
    flux: np.ndarray
    relative: np.ndarray
    positions: np.ndarray
    jitter: np.ndarray

    @property
    def data(self) -> TargetData:
        """TargetData of star 0."""
        return self.data_for(0)

    def data_for(self, index: int) -> TargetData:
        """TargetData of star ``index`` (its default stamp)."""
        return TargetData(self.targets[index], self.source)

    @property
    def time(self) -> np.ndarray:
        return self.source.timeline.time


def prf_scene(
    stars: Sequence[SceneStar],
    *,
    shape: tuple[int, int] = (25, 25),
    position: tuple[float, float] = (800.37, 900.62),
    ncadences: int = 300,
    cadence: int = 1800,
    datasource: str = "ffi",
    jitter_rms: float = 0.0,
    focus_amplitude: float = 0.0,
    background: float = 50.0,
    noise: bool = True,
    prf: PRFModel | None = None,
    attach_prf: bool = True,
    catalog_offset: Sequence[tuple[float, float]] | None = None,
    seed: int = 0,
) -> PRFScene:
    """Render stars with a PRF and noise on an (rows, cols) array around ``position``.

    Parameters
    ----------
    stars
        The stars; star 0 sits at CCD ``position``.
    shape
        Pixels of the array (the methods' stamps are cut from it).
    position
        CCD (row, col) of star 0.
    ncadences, cadence
        Number of cadences and cadence (s).
    datasource
        ``"ffi"`` or ``"tpf"``.
    jitter_rms
        Pointing jitter per axis (pixels): a random walk plus white noise of this size,
        known to the methods through ``pos_corr``.
    focus_amplitude
        Relative amplitude of a slow PRF width change the model does not know about.
    background
        Sky per pixel already subtracted (it adds noise), e-/s.
    noise
        Add noise.
    prf
        PRF model used to render; default :func:`simulator_prf`.
    attach_prf
        Hand the PRF model to the methods (False: a scene without a PRF).
    catalog_offset
        Error (Δrow, Δcol) of each star's catalog position (stars are drawn at the true
        position, the catalog says true + offset).
    seed
        Random seed.
    """
    rng = np.random.default_rng(seed)
    prf = prf or simulator_prf()
    origin = (round(position[0]) - shape[0] // 2, round(position[1]) - shape[1] // 2)
    n = len(stars)
    rows = position[0] + np.array([s.drow for s in stars])
    cols = position[1] + np.array([s.dcol for s in stars])
    tmag = np.array([s.tmag for s in stars])
    time = 1325.3 + np.arange(ncadences) * cadence / 86400.0
    relative = np.column_stack(
        [s.amplitude * np.sin(2 * np.pi * time / s.period + 0.7 * k) for k, s in enumerate(stars)]
    )
    flux = mag_to_flux(tmag)[None, :] * (1.0 + relative)
    if jitter_rms > 0:
        walk = np.cumsum(rng.standard_normal((ncadences, 2)), axis=0)
        walk *= jitter_rms / max(float(np.std(walk)), 1e-12)
        jitter = 0.7 * (walk - walk.mean(axis=0)) + 0.7 * jitter_rms * rng.standard_normal(
            (ncadences, 2)
        )
    else:
        jitter = np.zeros((ncadences, 2))
    focus = 1.0 + focus_amplitude * np.sin(2 * np.pi * time / 5.3)

    pr, pc = np.mgrid[origin[0] : origin[0] + shape[0], origin[1] : origin[1] + shape[1]]
    pr, pc = pr.ravel().astype(float), pc.ravel().astype(float)
    # Every (cadence, star) pair as one "star" of PRFModel.evaluate: one vectorised call.
    srow = (rows[None, :] + jitter[:, :1]).ravel()
    scol = (cols[None, :] + jitter[:, 1:]).ravel()
    scale = np.repeat(focus, n)[:, None]
    unit = prf.evaluate(
        np.tile(rows, ncadences), np.tile(cols, ncadences),
        pr[None, :] - srow[:, None], pc[None, :] - scol[:, None], scale,
    ).reshape(ncadences, n, -1)  # fmt: skip
    model = np.einsum("tn,tnp->tp", flux, unit).reshape(ncadences, *shape)

    instrument = Instrument(cadence=cadence, num_frm=cadence // 2)
    exposure = instrument.exposure
    variance = (np.clip(model, 0, None) + background) * exposure + instrument.num_frm * 10.0**2
    err = np.sqrt(variance) / exposure
    images = model + (rng.standard_normal(model.shape) * err if noise else 0.0)

    wcs = tan_wcs(position, (120.0, -40.0))
    cat_rows, cat_cols = rows.copy(), cols.copy()
    if catalog_offset is not None:
        offset = np.asarray(catalog_offset, dtype=float).reshape(n, 2)
        cat_rows += offset[:, 0]
        cat_cols += offset[:, 1]
    ra, dec = wcs.all_pix2world(cat_cols, cat_rows, 0)
    starids = 200_000_001 + np.arange(n)
    timeline = Timeline(
        time, np.full(ncadences, 4e-3), 20000 + np.arange(ncadences), np.zeros(ncadences)
    )
    source = ArraySource(
        images,
        timeline,
        wcs,
        Stars(starids, tmag, ra, dec, cat_rows, cat_cols),
        origin=origin,
        images_err=err,
        backgrounds=np.full(model.shape, background, np.float32),
        instrument=instrument,
        jitter=jitter,
        prf=prf if attach_prf else None,
    )
    targets = tuple(
        Target(
            starid=int(starids[k]),
            sector=1,
            camera=prf.camera,
            ccd=prf.ccd,
            cadence=cadence,
            datasource=datasource,
            tmag=float(tmag[k]),
            ra=float(ra[k]),
            dec=float(dec[k]),
            priority=k + 1,
        )
        for k in range(n)
    )
    return PRFScene(source, targets, flux, relative, np.column_stack([rows, cols]), jitter)


def sinusoid_amplitudes(time: np.ndarray, flux: np.ndarray, periods: Sequence[float]) -> np.ndarray:
    """Semi-amplitudes (flux units) of sinusoids of the given periods fitted together to flux."""
    good = np.isfinite(flux)
    t = time[good]
    columns = [np.ones_like(t)]
    for p in periods:
        columns += [np.sin(2 * np.pi * t / p), np.cos(2 * np.pi * t / p)]
    coef = np.linalg.lstsq(np.column_stack(columns), flux[good], rcond=None)[0]
    return np.hypot(coef[1::2], coef[2::2])
