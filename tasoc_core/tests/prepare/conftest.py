"""Small synthetic SPOC-format FFIs with known truth, for the prepare tests.

The frames are sub-frame FFIs (``CRVAL1P``/``CRVAL2P`` give the CCD position of the first
pixel, as in docs/architecture.md) with a real TESS TAN-SIP WCS (``tests/data/ffi_wcs_header.txt``)
shifted per frame by a known pointing jitter. The sky is a smooth, slowly varying
background plus a radial corner glow, stars, noise and, optionally, a moving lens-flare
disc. The full simulator (``tasoc simulate``) will replace this writer for end-to-end
truth tests; these files are small so the tests stay fast.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import attrs
import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS
from scipy.special import erf

from tasoc_core.families.background import FrameGeometry
from tasoc_core.geometry import camera_centre_pixel

DATA = Path(__file__).resolve().parents[1] / "data"
REAL_TPF = DATA / "tess25155310-s01-first-cadences.fits.gz"


_TIME_KEYS = ("TSTART", "TSTOP", "DATE-OBS", "DATE-END", "MJD-OBS", "MJD-END", "TELAPSE", "TIMEDEL",
              "TIMEPIXR", "TIMESYS", "TIMEUNIT", "MJDREF")  # fmt: skip


def real_wcs_header() -> fits.Header:
    """The WCS cards of a real FFI extension-1 header, in full-FFI (= CCD) pixel coordinates.

    Its time cards are dropped: astropy would carry them into every written frame.
    """
    header = fits.Header.fromstring((DATA / "ffi_wcs_header.txt").read_text())
    for key in _TIME_KEYS:
        header.remove(key, ignore_missing=True)
    return header


def _pixel_fraction(centres: np.ndarray, pos: np.ndarray, sigma: float) -> np.ndarray:
    s = np.sqrt(2.0) * sigma
    return 0.5 * (erf((centres + 0.5 - pos) / s) - erf((centres - 0.5 - pos) / s))


def add_stars(
    image: np.ndarray, rows: np.ndarray, cols: np.ndarray, flux: np.ndarray, sigma: float = 0.9
) -> None:
    """Add Gaussian point sources (integrated over pixels) to ``image`` in place."""
    h, w = image.shape
    off = np.arange(-5, 6)
    ir, ic = np.floor(rows).astype(int), np.floor(cols).astype(int)
    rr, cc = ir[:, None] + off, ic[:, None] + off
    vals = (
        flux[:, None, None]
        * _pixel_fraction(rr, rows[:, None], sigma)[:, :, None]
        * _pixel_fraction(cc, cols[:, None], sigma)[:, None, :]
    )
    rr3 = np.broadcast_to(rr[:, :, None], vals.shape)
    cc3 = np.broadcast_to(cc[:, None, :], vals.shape)
    ok = (rr3 >= 0) & (rr3 < h) & (cc3 >= 0) & (cc3 < w)
    np.add.at(image, (rr3[ok], cc3[ok]), vals[ok])


def write_ffi(
    path: Path,
    image: np.ndarray,
    error: np.ndarray,
    *,
    camera: int,
    ccd: int,
    tstart: float,
    tstop: float,
    origin: tuple[int, int],
    wcs_shift: tuple[float, float] | None = (0.0, 0.0),
    dquality: int = 0,
    ffiindex: int | None = None,
    barycorr: float = 0.0005,
) -> None:
    """Write a sub-frame FFI in SPOC layout (primary header, cal image, uncertainty).

    ``wcs_shift`` is the (Δrow, Δcol) by which the frame's pixel grid is displaced relative
    to the real WCS (None: write no WCS at all).
    """
    primary = fits.PrimaryHDU()
    hdr = primary.header
    hdr["TELESCOP"] = "TESS"
    hdr["INSTRUME"] = "TESS Photometer"
    hdr["ORIGIN"] = "tasoc tests"
    for key, value in (("CAMERA", camera), ("CCD", ccd), ("TSTART", tstart), ("TSTOP", tstop)):
        hdr[key] = value
    if ffiindex is not None:
        hdr["FFIINDEX"] = ffiindex
    for key, value in (("DATA_REL", 1), ("PROCVER", "tests"), ("NUM_FRM", 900), ("NREADOUT", 720),
                       ("CRMITEN", True), ("CRBLKSZ", 10), ("CRSPOC", False)):  # fmt: skip
        hdr[key] = value
    cal = fits.ImageHDU(np.asarray(image, dtype=np.float32), name=f"CAMERA.CCD {camera}.{ccd} cal")
    h1 = cal.header
    for key in ("CAMERA", "CCD", "TSTART", "TSTOP"):
        h1[key] = hdr[key]
    h1["BARYCORR"] = barycorr
    h1["DQUALITY"] = dquality
    h1["TIMEDEL"] = tstop - tstart
    h1["BACKAPP"] = False
    for key, value in (("GAINA", 5.2), ("GAINB", 5.3), ("GAINC", 5.2), ("GAIND", 5.1),
                       ("READNOIA", 10.0), ("READNOIB", 9.8), ("READNOIC", 10.2), ("READNOID", 10.0)):  # fmt: skip
        h1[key] = value
    if wcs_shift is not None:
        real = real_wcs_header()
        wcs = WCS(real, relax=True)
        # Image pixel = CCD pixel - origin; displaced frames see everything shifted by wcs_shift.
        wcs.wcs.crpix = [
            wcs.wcs.crpix[0] - origin[1] + wcs_shift[1],
            wcs.wcs.crpix[1] - origin[0] + wcs_shift[0],
        ]
        h1.update(wcs.to_header(relax=True))
    h1["WCSNAMEP"] = "PHYSICAL"
    h1["CTYPE1P"], h1["CTYPE2P"] = "RAWX", "RAWY"
    h1["CRPIX1P"], h1["CRPIX2P"] = 1, 1
    h1["CRVAL1P"], h1["CRVAL2P"] = origin[1] + 1, origin[0] + 1
    h1["CDELT1P"], h1["CDELT2P"] = 1.0, 1.0
    unc = fits.ImageHDU(
        np.asarray(error, dtype=np.float32), name=f"CAMERA.CCD {camera}.{ccd} uncert"
    )
    fits.HDUList([primary, cal, unc]).writeto(path, overwrite=True)


def ffi_name(k: int, sector: int, camera: int, ccd: int) -> str:
    # Names sort in time order; the date field only has to be 13 digits.
    return f"tess{2018206000000 + 100 * k:013d}-s{sector:04d}-{camera}-{ccd}-0120-s_ffic.fits"


def full_ccd_frame(
    seed: int = 0, nstars: int = 15000
) -> tuple[np.ndarray, np.ndarray, np.ndarray, FrameGeometry]:
    """A 2048² FFI of camera 1 / CCD 1: tilted, wavy sky; corner glow; 15000 stars; noise."""
    rng = np.random.default_rng(seed)
    n = 2048
    geo = FrameGeometry(1, 1, (0, 44), camera_centre_pixel(1, 1), 1800)
    radius = geo.radius((n, n))
    rows, cols = np.mgrid[0:n, 0:n].astype(np.float32)
    sky = 150 * (1 + 0.15 * rows / n - 0.1 * cols / n + 0.05 * np.sin(cols / 500.0))
    glow = 225 * np.exp((radius - radius.max()) / 150.0)  # 1.5 × sky at the very corner
    truth = (sky + glow).astype(np.float32)
    image = truth.astype(np.float64)
    m = nstars
    tmag = np.where(rng.random(m) < 0.7, rng.uniform(13, 17, m), rng.uniform(7, 13, m))
    flux = 10 ** (-0.4 * (tmag - 20.451))
    sr, sc = rng.uniform(-3, n + 3, m), rng.uniform(-3, n + 3, m)
    off = np.arange(-5, 6)
    rr, cc = np.floor(sr).astype(int)[:, None] + off, np.floor(sc).astype(int)[:, None] + off
    s = np.sqrt(2) * 0.9
    fr = 0.5 * (erf((rr + 0.5 - sr[:, None]) / s) - erf((rr - 0.5 - sr[:, None]) / s))
    fc = 0.5 * (erf((cc + 0.5 - sc[:, None]) / s) - erf((cc - 0.5 - sc[:, None]) / s))
    vals = flux[:, None, None] * fr[:, :, None] * fc[:, None, :]
    r3, c3 = (
        np.broadcast_to(rr[:, :, None], vals.shape),
        np.broadcast_to(cc[:, None, :], vals.shape),
    )
    ok = (r3 >= 0) & (r3 < n) & (c3 >= 0) & (c3 < n)
    np.add.at(image, (r3[ok], c3[ok]), vals[ok])
    image += rng.standard_normal((n, n)) * np.sqrt(image / 1440.0)
    return image.astype(np.float32), truth, radius, geo


@pytest.fixture(scope="session")
def full_frame() -> tuple[np.ndarray, np.ndarray, np.ndarray, FrameGeometry]:
    """(image, true background, radius, geometry) of a full 2048² CCD 1 frame."""
    return full_ccd_frame()


@attrs.frozen(eq=False)
class Sector:
    """A synthetic sector on disk and what was put into it."""

    directory: Path
    paths: list[Path]
    sector: int
    camera: int
    ccd: int
    origin: tuple[int, int]
    times: np.ndarray  # mid-times, BTJD
    tstart: np.ndarray
    tstop: np.ndarray
    sky: np.ndarray  # (T, H, W) true background
    images: np.ndarray  # (T, H, W) what was written
    jitter: np.ndarray  # (T, 2) (Δrow, Δcol)
    flare: np.ndarray  # (T, H, W) true flare added (e-/s)
    star_rows: np.ndarray
    star_cols: np.ndarray
    star_flux: np.ndarray

    @property
    def shape(self) -> tuple[int, int]:
        return self.sky.shape[1:]

    @property
    def geometry(self) -> FrameGeometry:
        return FrameGeometry(
            self.camera, self.ccd, self.origin, camera_centre_pixel(self.camera, self.ccd), 1800
        )


def make_sector(
    directory: Path,
    *,
    n: int = 24,
    shape: tuple[int, int] = (256, 256),
    origin: tuple[int, int] = (0, 44),
    sector: int = 1,
    camera: int = 1,
    ccd: int = 1,
    t0: float = 1325.29,
    cadence: float = 1800.0,
    sky_level: float = 150.0,
    glow: float = 200.0,
    nstars: int = 250,
    flare_frames: tuple[int, int] | None = None,
    flare_amplitude: float = 200.0,
    flare_radius: float = 28.0,
    jitter_scale: float = 0.05,
    dquality: dict[int, int] | None = None,
    seed: int = 1,
) -> Sector:
    """Write ``n`` sub-frame FFIs of ``shape`` at CCD ``origin`` and return the truth."""
    rng = np.random.default_rng(seed)
    directory.mkdir(parents=True, exist_ok=True)
    h, w = shape
    step = cadence / 86400.0
    tstart = t0 + step * np.arange(n)
    tstop = tstart + step
    times = 0.5 * (tstart + tstop)
    geo = FrameGeometry(camera, ccd, origin, camera_centre_pixel(camera, ccd), int(cadence))
    radius = geo.radius(shape)
    rows, cols = np.mgrid[0:h, 0:w].astype(float)
    base = sky_level * (1.0 + 0.15 * rows / h - 0.1 * cols / w + 0.05 * np.sin(cols / 90.0))
    corner = glow * np.exp((radius - radius.max()) / 150.0)
    phase = np.arange(n) / max(n - 1, 1)
    sky = (
        base[None] * (1.0 + 0.2 * phase[:, None, None])
        + corner[None] * (1.0 + 0.5 * np.sin(3 * phase))[:, None, None]
    ).astype(np.float32)
    jitter = rng.normal(0.0, jitter_scale, size=(n, 2))
    star_rows = rng.uniform(-3, h + 3, nstars)
    star_cols = rng.uniform(-3, w + 3, nstars)
    star_flux = 10 ** (-0.4 * (rng.uniform(9.0, 16.0, nstars) - 20.451))
    flare = np.zeros((n, h, w), dtype=np.float32)
    if flare_frames is not None:
        k0, k1 = flare_frames
        for k in range(k0, k1):
            f = (k - k0) / max(k1 - k0 - 1, 1)
            cr, cc = 0.3 * h + 0.4 * h * f, 0.25 * w + 0.5 * w * f
            d = np.hypot(rows - cr, cols - cc)
            flare[k] = flare_amplitude * np.clip(flare_radius - d + 0.5, 0.0, 1.0)
    images = np.empty((n, h, w), dtype=np.float32)
    paths = []
    for k in range(n):
        img = sky[k].astype(np.float64) + flare[k]
        add_stars(img, star_rows + jitter[k, 0], star_cols + jitter[k, 1], star_flux)
        err = np.sqrt(np.maximum(img, 1.0) / 1440.0) + 0.05
        img = img + rng.standard_normal(shape) * err
        images[k] = img
        path = directory / ffi_name(k, sector, camera, ccd)
        write_ffi(
            path, img, err, camera=camera, ccd=ccd, tstart=float(tstart[k]), tstop=float(tstop[k]),
            origin=origin, wcs_shift=tuple(jitter[k]), dquality=(dquality or {}).get(k, 0),
            ffiindex=1000 + k,
        )  # fmt: skip
        paths.append(path)
    return Sector(directory, paths, sector, camera, ccd, origin, times, tstart, tstop, sky, images, jitter, flare,
                  star_rows, star_cols, star_flux)  # fmt: skip


@pytest.fixture
def sector_factory(tmp_path: Path) -> Callable[..., Sector]:
    """``sector_factory(**kwargs)``: a synthetic sector under ``tmp_path/input``."""

    def make(**kwargs: object) -> Sector:
        return make_sector(tmp_path / "input", **kwargs)  # type: ignore[arg-type]

    return make


@attrs.frozen(eq=False)
class Prepared:
    """A synthetic sector and the prepare result made from it."""

    sector: Sector
    path: Path  # the HDF5 file
    result: object  # PrepareResult
    output: Path


def run_prepare(sector: Sector, output: Path, **kwargs: object):
    """``prepare_ccd`` on a synthetic sector with small blocks (several per sector)."""
    from tasoc_core.config import PrepareConfig
    from tasoc_core.prepare import prepare_ccd

    settings = kwargs.pop("settings", None) or PrepareConfig(chunk_frames=8)
    return prepare_ccd(
        sector.sector, sector.camera, sector.ccd, input_dir=sector.directory, output_dir=output,
        settings=settings, **kwargs,
    )  # fmt: skip


@pytest.fixture(scope="session")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Prepared:
    """24 frames of 256² px at the CCD 1 corner with a lens flare in frames 8-15, prepared."""
    base = tmp_path_factory.mktemp("prepared")
    sector = make_sector(base / "input", n=24, flare_frames=(8, 16))
    result = run_prepare(sector, base / "output")
    return Prepared(sector, result.path, result, base / "output")


@pytest.fixture(scope="session")
def synthetic_sector() -> Callable[..., Sector]:
    """``make_sector(directory, **kwargs)``."""
    return make_sector


@pytest.fixture(scope="session")
def prepare_runner() -> Callable[..., object]:
    """``run_prepare(sector, output, **kwargs)``."""
    return run_prepare


@pytest.fixture(scope="session")
def ffi_writer() -> Callable[..., None]:
    """``write_ffi(path, image, error, *, camera, ccd, tstart, tstop, origin, ...)``."""
    return write_ffi


@pytest.fixture(scope="session")
def ffi_namer() -> Callable[..., str]:
    """``ffi_name(k, sector, camera, ccd)``: a SPOC FFI file name sorting in time order."""
    return ffi_name
