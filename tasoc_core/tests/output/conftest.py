"""Targets with known geometry on a real FFI WCS, and a simple photometry to write files from."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS

from tasoc_core.data import ArraySource, Instrument, Stars, Target, TargetData, Timeline
from tasoc_core.families import PhotometryResult
from tasoc_core.output import Provenance, write_lightcurve
from tasoc_core.photometry import compute_diagnostics
from tasoc_core.testing import mag_to_flux

DATA = Path(__file__).resolve().parents[1] / "data"


@pytest.fixture(scope="session")
def ffi_wcs() -> WCS:
    """Real TAN-SIP WCS of a SPOC FFI; image pixels of a full FFI are CCD pixels."""
    header = fits.Header.fromstring((DATA / "ffi_wcs_header.txt").read_text())
    return WCS(header)


@pytest.fixture(scope="session")
def lightkurve():
    """lightkurve, imported without its optional-dependency warning (oktopus)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import lightkurve

    return lightkurve


def _star_images(
    shape: tuple[int, int], origin: tuple[int, int], position: tuple[float, float], flux: float
) -> np.ndarray:
    rows = np.arange(shape[0])[:, None] + origin[0]
    cols = np.arange(shape[1])[None, :] + origin[1]
    sigma = 0.9
    psf = np.exp(-((rows - position[0]) ** 2 + (cols - position[1]) ** 2) / (2 * sigma**2))
    return flux * psf / psf.sum()


@pytest.fixture
def make_data(ffi_wcs: WCS) -> Callable[..., TargetData]:
    """Build a TargetData of a Gaussian star on the real FFI WCS.

    The source covers ``source_shape`` pixels around ``position`` (0-based CCD row, col);
    the stamp is the default magnitude-scaled stamp inside it.
    """

    def make(
        *,
        ncadences: int = 240,
        cadence: int = 1800,
        position: tuple[float, float] = (812.3, 1033.6),
        source_shape: tuple[int, int] = (25, 25),
        tmag: float = 10.0,
        quality: np.ndarray | None = None,
        pixel_flags: np.ndarray | None = None,
        jitter: np.ndarray | None = None,
        time: np.ndarray | None = None,
        datasource: str = "ffi",
        seed: int = 1,
        **target_fields,
    ) -> TargetData:
        rng = np.random.default_rng(seed)
        origin = (
            round(position[0]) - source_shape[0] // 2,
            round(position[1]) - source_shape[1] // 2,
        )
        flux = float(mag_to_flux(tmag))
        model = _star_images(source_shape, origin, position, flux)
        images = model[None] + 40.0 + rng.normal(0.0, 2.0, (ncadences, *source_shape))
        images -= 40.0  # sky subtracted, its noise kept
        if time is None:
            time = 1325.3 + np.arange(ncadences) * cadence / 86400.0
        timeline = Timeline(
            time,
            np.full(ncadences, 4.2e-3),
            4697 + np.arange(ncadences),
            np.zeros(ncadences, dtype=np.int32) if quality is None else quality,
        )
        ra, dec = ffi_wcs.all_pix2world([position[1]], [position[0]], 0)
        instrument = Instrument(
            cadence=cadence,
            num_frm=cadence // 2,
            data_rel=7,
            procver="spoc-4.0.14-20190131",
        )
        source = ArraySource(
            images,
            timeline,
            ffi_wcs,
            Stars([123456789], [tmag], ra, dec, [np.nan], [np.nan]),
            origin=origin,
            images_err=np.full(images.shape, 2.0),
            backgrounds=np.full(images.shape, 40.0),
            pixel_flags=pixel_flags,
            instrument=instrument,
            jitter=jitter,
        )
        fields = {"pm_ra": 12.5, "pm_dec": -3.0, "teff": 5750.0} | target_fields
        target = Target(
            starid=123456789,
            sector=14,
            camera=2,
            ccd=3,
            cadence=cadence,
            datasource=datasource,
            tmag=tmag,
            ra=float(ra[0]),
            dec=float(dec[0]),
            priority=17,
            **fields,
        )
        return TargetData(target, source)

    return make


def aperture_photometry(data: TargetData, radius: float = 2.5, **fields) -> PhotometryResult:
    """Sum of a circular aperture with a flux-weighted centroid (0-based CCD)."""
    r0, c0 = data.position_in_stamp
    rows, cols = np.mgrid[0 : data.stamp.height, 0 : data.stamp.width]
    aperture = (rows - r0) ** 2 + (cols - c0) ** 2 <= radius**2
    pixels = data.images[:, aperture].astype(np.float64)
    weights = np.clip(pixels, 0.0, None)
    total = weights.sum(axis=1)
    centroid = np.column_stack(
        [
            (weights * rows[aperture]).sum(axis=1) / total + data.stamp.row_min,
            (weights * cols[aperture]).sum(axis=1) / total + data.stamp.col_min,
        ]
    )
    values = {
        "data": data,
        "flux": pixels.sum(axis=1),
        "flux_err": np.sqrt((data.images_err[:, aperture].astype(np.float64) ** 2).sum(axis=1)),
        "background": data.backgrounds[:, aperture].sum(axis=1),
        "centroid": centroid,
        "aperture": aperture,
        "contamination": 0.02,
        "headers": {"AP_RAD": (radius, "aperture radius, pixels")},
        "diagnostics": {"ap_radius": radius},
    }
    return PhotometryResult(**(values | fields))


@pytest.fixture
def photometry() -> Callable[..., PhotometryResult]:
    return aperture_photometry


@pytest.fixture
def raw_file(make_data, photometry, tmp_path) -> Path:
    """A raw light-curve file of 300 cadences, written by ``write_lightcurve`` in tmp_path."""
    result = photometry(make_data(ncadences=300))
    return write_lightcurve(
        result,
        compute_diagnostics(result),
        path=tmp_path,
        provenance=Provenance(method="aperture", plugin="aperture"),
        version=1,
    )
