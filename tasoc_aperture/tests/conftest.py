"""Synthetic scenes with known truth for the aperture tests.

``make_scene`` puts Gaussian-PSF stars (integrated over pixels) on an in-memory pixel source,
optionally saturating the brightest and spilling its excess charge along the columns, and
returns the truth needed to judge a result: each star's noise-free image and flux.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence

import attrs
import numpy as np
import pytest
from scipy.special import erf

from tasoc_core.data import ArraySource, Instrument, Stars, Target, TargetData, Timeline
from tasoc_core.testing import mag_to_flux, tan_wcs

ORIGIN = (500, 600)


def pixel_psf(shape: tuple[int, int], row: float, col: float, sigma: float) -> np.ndarray:
    """Normalised Gaussian PSF integrated over the pixels of an image of ``shape``."""
    s = np.sqrt(2.0) * sigma
    r = np.arange(shape[0], dtype=float)
    c = np.arange(shape[1], dtype=float)
    fr = 0.5 * (erf((r + 0.5 - row) / s) - erf((r - 0.5 - row) / s))
    fc = 0.5 * (erf((c + 0.5 - col) / s) - erf((c - 0.5 - col) / s))
    return fr[:, None] * fc[None, :]


def bleed_columns(image: np.ndarray, level: float) -> np.ndarray:
    """Cap pixels at ``level`` and spread each column's excess charge up and down the column."""
    out = image.copy()
    for col in np.flatnonzero((image > level).any(axis=0)):
        column = out[:, col]
        excess = float(np.sum(np.clip(column - level, 0, None)))
        np.minimum(column, level, out=column)
        sat = np.flatnonzero(column >= level)
        halves = [(sat.min() - 1, -1, excess / 2), (sat.max() + 1, 1, excess / 2)]
        for start, step, charge in halves:
            i = start
            while charge > 0 and 0 <= i < len(column):
                add = min(level - column[i], charge)
                column[i] += add
                charge -= add
                i += step
    return out


@attrs.frozen
class Scene:
    """An in-memory pixel source with known stars.

    Attributes
    ----------
    source
        The pixel source (whole array = the "detector" or the TPF).
    starid, tmag, row, col
        The stars (CCD coordinates); star 0 is the default target.
    psfs
        Normalised noise-free image of each star, (N, rows, cols) over the whole source.
    flux
        True flux per cadence of each star, (T, N).
    relative
        True relative variability of star 0.
    model
        Noise-free images after saturation/bleeding, (T, rows, cols).
    """

    source: ArraySource
    starid: np.ndarray
    tmag: np.ndarray
    row: np.ndarray
    col: np.ndarray
    psfs: np.ndarray
    flux: np.ndarray
    relative: np.ndarray
    model: np.ndarray
    cadence: int

    def target(self, index: int = 0, datasource: str = "ffi") -> Target:
        ra, dec = self.source.wcs.all_pix2world([self.col[index]], [self.row[index]], 0)
        return Target(
            starid=int(self.starid[index]),
            sector=1,
            camera=1,
            ccd=1,
            cadence=self.cadence,
            datasource=datasource,
            tmag=float(self.tmag[index]),
            ra=float(ra[0]),
            dec=float(dec[0]),
            priority=index + 1,
        )

    def data(self, index: int = 0, datasource: str = "ffi") -> TargetData:
        return TargetData(self.target(index, datasource), self.source)

    def in_stamp(self, array: np.ndarray, data: TargetData) -> np.ndarray:
        """Cut the part of a whole-source image (…, rows, cols) covered by ``data``'s stamp."""
        rs, cs = data.stamp.slices(ORIGIN)
        return array[..., rs, cs]

    def with_cubes(self, images: np.ndarray, images_err: np.ndarray | None = None) -> Scene:
        """The same scene with modified cubes (e.g. NaN pixels)."""
        src = self.source
        whole = src.read(src.max_stamp)
        with warnings.catch_warnings():
            # ArraySource averages an all-NaN pixel with np.nanmean, which warns; the NaN
            # sum-image pixel is what the tests want.
            warnings.filterwarnings("ignore", "Mean of empty slice", RuntimeWarning)
            source = self._source(src, whole, images, images_err)
        return attrs.evolve(self, source=source)

    @staticmethod
    def _source(src, whole, images, images_err) -> ArraySource:
        return ArraySource(
            images,
            src.timeline,
            src.wcs,
            src.stars(src.max_stamp, buffer=1e6),
            origin=ORIGIN,
            images_err=whole.images_err if images_err is None else images_err,
            backgrounds=whole.backgrounds,
            instrument=src.instrument,
        )


def make_scene(
    stars: Sequence[tuple[float, float, float]] = ((0.0, 0.0, 10.0),),
    *,
    shape: tuple[int, int] = (41, 41),
    ncadences: int = 300,
    cadence: int = 1800,
    psf_sigma: float = 0.8,
    amplitude: float = 0.01,
    period: float = 1.3,
    background: float = 40.0,
    saturation: float | None = None,
    noise: bool = True,
    seed: int = 1,
    offset: tuple[float, float] = (0.23, -0.31),
) -> Scene:
    """Stars given as (Δrow, Δcol, Tmag) from the source centre (+ ``offset``); star 0 varies."""
    rng = np.random.default_rng(seed)
    centre = (shape[0] // 2 + offset[0], shape[1] // 2 + offset[1])
    d = np.asarray(stars, dtype=float).reshape(-1, 3)
    rows_local = centre[0] + d[:, 0]
    cols_local = centre[1] + d[:, 1]
    psfs = np.stack([pixel_psf(shape, r, c, psf_sigma) for r, c in zip(rows_local, cols_local)])
    time = 1400.0 + np.arange(ncadences) * cadence / 86400.0
    relative = amplitude * np.sin(2.0 * np.pi * time / period)
    flux = np.tile(mag_to_flux(d[:, 2]), (ncadences, 1))
    flux[:, 0] *= 1.0 + relative
    model = np.einsum("tn,nrc->trc", flux, psfs)
    if saturation is not None:
        model = np.stack([bleed_columns(frame, saturation) for frame in model])
    instrument = Instrument(cadence=cadence, num_frm=cadence // 2)
    exposure = instrument.exposure
    variance = (np.clip(model, 0, None) + background) * exposure
    variance += instrument.num_frm * instrument.readnoise**2
    err = np.sqrt(variance) / exposure
    images = model + (rng.standard_normal(model.shape) * err if noise else 0.0)
    wcs = tan_wcs((ORIGIN[0] + centre[0], ORIGIN[1] + centre[1]), (80.0, -30.0))
    rows_ccd = rows_local + ORIGIN[0]
    cols_ccd = cols_local + ORIGIN[1]
    ra, dec = wcs.all_pix2world(cols_ccd, rows_ccd, 0)
    starid = np.arange(len(d)) + 300_000_001
    timeline = Timeline(
        time, np.zeros(ncadences), 20000 + np.arange(ncadences), np.zeros(ncadences, int)
    )
    source = ArraySource(
        images,
        timeline,
        wcs,
        Stars(starid, d[:, 2], ra, dec, rows_ccd, cols_ccd),
        origin=ORIGIN,
        images_err=err,
        backgrounds=np.full(model.shape, background, np.float32),
        instrument=instrument,
    )
    return Scene(source, starid, d[:, 2], rows_ccd, cols_ccd, psfs, flux, relative, model, cadence)


@pytest.fixture
def scene() -> Callable[..., Scene]:
    """Factory of synthetic scenes, see :func:`make_scene`."""
    return make_scene
