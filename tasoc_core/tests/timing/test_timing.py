"""Tests of tasoc_core.timing against independent computations (astropy, the Horizons table)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import spiceypy
from astropy import units as u
from astropy.coordinates import (
    GCRS,
    ITRS,
    CartesianRepresentation,
    EarthLocation,
    SkyCoord,
    get_body_barycentric,
)
from astropy.time import Time
from scipy.interpolate import CubicSpline

from tasoc_core.exceptions import EphemerisError, InputFileError
from tasoc_core.timing import (
    AU_KM,
    SpiceKernels,
    barycentric_delay,
    horizons_ephemeris_to_spk,
    read_horizons_vectors,
    rebarycentre,
    write_leapseconds_kernel,
    write_spacecraft_spk,
)

EPHEM = (
    Path(__file__).parents[2] / "src" / "tasoc_core" / "data_files" / "20180720_tess_ephem.csv.bz2"
)
SECTOR1 = (2458325.0, 2458353.0)


@pytest.fixture(scope="module")
def kernel_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("spice")
    write_leapseconds_kernel(d / "leapseconds.tls")
    horizons_ephemeris_to_spk(EPHEM, d / "tess.bsp", jd_range=SECTOR1)
    return d


@pytest.fixture(scope="module")
def kernels(kernel_dir: Path):
    with SpiceKernels(kernel_dir) as k:
        yield k


def test_leapseconds_kernel_gives_tdb_minus_utc(kernel_dir: Path, kernels: SpiceKernels) -> None:
    # TDB - UTC in 2019 = 37 leap seconds + 32.184 s (+ periodic TDB-TT terms < 2 ms).
    et = spiceypy.str2et("2019-07-01 00:00:00 UTC")
    assert spiceypy.deltet(et, "ET") == pytest.approx(69.184, abs=2e-3)
    text = (kernel_dir / "leapseconds.tls").read_text()
    assert text.startswith("KPL/LSK")
    assert "37,   @2017-JAN-1" in text


def test_spk_reproduces_horizons_table(kernels: SpiceKernels) -> None:
    jd, pos, vel, center = read_horizons_vectors(EPHEM)
    assert center == 0
    assert vel is None
    sel = (jd > SECTOR1[0] + 1) & (jd < SECTOR1[1] - 1)
    # At the tabulated epochs the SPK returns the table (to metres).
    got = kernels.spacecraft_position(jd[sel])
    assert np.max(np.abs(got - pos[sel])) < 1e-3
    # Between epochs it agrees with an independent cubic spline of the table.
    mid = 0.5 * (jd[sel][:-1] + jd[sel][1:])
    spline = CubicSpline(jd, pos, axis=0)(mid)
    # (two interpolants differ by < 0.2 km near perigee; 0.1 ms of light time is 30 km)
    assert np.max(np.linalg.norm(kernels.spacecraft_position(mid) - spline, axis=1)) < 0.2  # km


def test_written_spk_interpolates_a_known_orbit(tmp_path: Path, kernel_dir: Path) -> None:
    # A circular geocentre-free orbit around the barycentre at 1 AU: exact positions known.
    period = 365.25
    jd = np.arange(2458300.0, 2458320.0, 0.25)
    phase = 2 * np.pi * (jd - jd[0]) / period
    pos = AU_KM * np.stack([np.cos(phase), np.sin(phase), np.zeros_like(phase)], axis=1)
    omega = 2 * np.pi / (period * 86400)
    vel = AU_KM * omega * np.stack([-np.sin(phase), np.cos(phase), np.zeros_like(phase)], axis=1)
    write_spacecraft_spk(tmp_path / "circle.bsp", jd, pos, vel)
    with SpiceKernels(
        [kernel_dir / "leapseconds.tls", tmp_path / "circle.bsp"], planetary=False
    ) as k:
        t = np.linspace(2458302.0, 2458318.0, 97)
        ph = 2 * np.pi * (t - jd[0]) / period
        want = AU_KM * np.stack([np.cos(ph), np.sin(ph), np.zeros_like(ph)], axis=1)
        assert np.max(np.linalg.norm(k.spacecraft_position(t) - want, axis=1)) < 1e-3
        assert k.coverage == [(pytest.approx(jd[0]), pytest.approx(jd[-1]))]


def _astropy_delay(jd: np.ndarray, ra: float, dec: float) -> np.ndarray:
    """light_travel_time from astropy, TESS placed via an EarthLocation (as the original did)."""
    tjd, pos, _, _ = read_horizons_vectors(EPHEM)
    tess = CubicSpline(tjd, pos, axis=0)(jd)  # independent of our SPK
    t = Time(jd, format="jd", scale="tdb")
    earth = get_body_barycentric("earth", t).xyz.to_value(u.km).T
    geo = CartesianRepresentation((tess - earth).T * u.km)
    itrs = GCRS(geo, obstime=t).transform_to(ITRS(obstime=t))
    loc = EarthLocation.from_geocentric(itrs.x, itrs.y, itrs.z)
    t = Time(jd, format="jd", scale="tdb", location=loc)
    star = SkyCoord(ra * u.deg, dec * u.deg, frame="icrs")
    return t.light_travel_time(star, kind="barycentric").to_value(u.day)


def _romer_reference(jd: np.ndarray, ra: float, dec: float) -> np.ndarray:
    """Rømer delay from the Horizons table (own spline) and astropy's ICRS unit vector."""
    tjd, pos, _, _ = read_horizons_vectors(EPHEM)
    tess = CubicSpline(tjd, pos, axis=0)(jd)
    n = SkyCoord(ra * u.deg, dec * u.deg, frame="icrs").cartesian.xyz.value
    return tess @ n / 299792.458 / 86400.0


@pytest.mark.parametrize(("ra", "dec"), [(352.68, -64.85), (84.29, -80.47), (150.0, 10.0)])
def test_barycentric_delay_matches_independent_computations(
    kernels: SpiceKernels, ra: float, dec: float
) -> None:
    jd = np.linspace(SECTOR1[0] + 0.5, SECTOR1[1] - 0.5, 41)
    ours = barycentric_delay(jd, ra, dec, kernels)
    # Rømer term against the table + astropy geometry: sub-microsecond.
    romer = barycentric_delay(jd, ra, dec, kernels, shapiro=False)
    assert np.max(np.abs(romer - _romer_reference(jd, ra, dec))) * 86400 < 1e-6
    # astropy's light_travel_time with TESS as an EarthLocation (the original pipeline's
    # route): it treats the spacecraft position as apparent and aberrates it by ~v/c, which
    # rotates the ~3.7e5 km geocentric vector by up to ~40 km, i.e. up to ~0.13 ms. Ours is
    # the geometric delay, so the two agree only to that level.
    assert np.max(np.abs(ours - _astropy_delay(jd, ra, dec))) * 86400 < 1.5e-4
    # Shapiro term: microseconds, up to ~0.1 ms close to the Sun.
    assert np.max(np.abs(ours - romer)) * 86400 < 2e-4  # ~70 µs for a star 15° from the Sun
    assert np.ptp(ours) * 86400 > 1.0  # the correction really varies over a sector


def test_barycentric_delay_is_vectorised_over_stars(kernels: SpiceKernels) -> None:
    jd = np.linspace(SECTOR1[0] + 1, SECTOR1[0] + 2, 7)
    ra = np.array([10.0, 200.0, 300.0])
    dec = np.array([-60.0, 5.0, 45.0])
    many = barycentric_delay(jd, ra, dec, kernels)
    assert many.shape == (3, 7)
    for i in range(3):
        np.testing.assert_allclose(
            many[i], barycentric_delay(jd, ra[i], dec[i], kernels), rtol=0, atol=1e-12
        )


def test_rebarycentre_moves_frame_centre_time_to_the_star(kernels: SpiceKernels) -> None:
    tess = np.linspace(SECTOR1[0] + 1, SECTOR1[0] + 10, 50) - 2457000.0
    centre = barycentric_delay(tess + 2457000.0, 330.0, -45.0, kernels)
    time, corr = rebarycentre(tess + centre, centre, 320.0, -40.0, kernels)
    want = barycentric_delay(tess + 2457000.0, 320.0, -40.0, kernels)
    np.testing.assert_allclose(corr, want, rtol=0, atol=1e-12)
    np.testing.assert_allclose(time, tess + want, rtol=0, atol=1e-9)
    # Stars 5 degrees apart differ by up to ~ tens of seconds: the correction matters.
    assert np.max(np.abs(corr - centre)) * 86400 > 5
    t_nan, _c_nan = rebarycentre(
        np.array([np.nan, tess[0] + centre[0]]), centre[:2], 320.0, -40.0, kernels
    )
    assert np.isnan(t_nan[0])
    assert np.isfinite(t_nan[1])


def test_repeated_position_queries_are_cached_and_follow_the_pool(
    tmp_path: Path, kernel_dir: Path, kernels: SpiceKernels
) -> None:
    jd = np.linspace(SECTOR1[0] + 1, SECTOR1[0] + 3, 200)
    first = kernels.spacecraft_position(jd)
    first[:] = 0.0  # callers own the returned arrays: the cache must not be aliased
    again = kernels.spacecraft_position(jd)
    assert np.all(np.linalg.norm(again, axis=1) > 0.9 * AU_KM)
    et = (jd - 2451545.0) * 86400.0
    direct = np.array([spiceypy.spkpos("-95", t, "J2000", "NONE", "0")[0] for t in et])
    np.testing.assert_array_equal(again, direct)
    # A kernel loaded later takes precedence in SPICE: cached answers must not hide it.
    period = 365.25
    grid = np.arange(SECTOR1[0], SECTOR1[0] + 5, 0.25)
    phase = 2 * np.pi * (grid - grid[0]) / period
    pos = AU_KM * np.stack([np.cos(phase), np.sin(phase), np.zeros_like(phase)], axis=1)
    vel = np.gradient(pos, grid * 86400.0, axis=0)
    write_spacecraft_spk(tmp_path / "other.bsp", grid, pos, vel)
    with SpiceKernels([kernel_dir / "leapseconds.tls", tmp_path / "other.bsp"], planetary=False):
        moved = kernels.spacecraft_position(jd)
        assert np.max(np.abs(moved - again)) > 1e4  # km: the new orbit answers
    np.testing.assert_array_equal(kernels.spacecraft_position(jd), direct)


def test_uncovered_time_names_the_range(kernels: SpiceKernels) -> None:
    with pytest.raises(EphemerisError, match=r"2458400\.0000"):
        barycentric_delay(np.array([2458400.0]), 0.0, 0.0, kernels)


def test_kernels_loaded_once_per_process(kernel_dir: Path, kernels: SpiceKernels) -> None:
    before = spiceypy.ktotal("ALL")
    with SpiceKernels(kernel_dir) as again:
        assert spiceypy.ktotal("ALL") == before
        assert again.paths == kernels.paths
    assert spiceypy.ktotal("ALL") == before  # still held by the module fixture
    kernels.spacecraft_position(SECTOR1[0] + 1)


def test_bad_kernel_sets_raise_clear_errors(tmp_path: Path, kernel_dir: Path) -> None:
    with pytest.raises(EphemerisError, match="no SPICE kernels"):
        SpiceKernels(tmp_path)
    with pytest.raises(EphemerisError, match="leap-seconds"):
        SpiceKernels([kernel_dir / "tess.bsp"])
    with pytest.raises(EphemerisError, match="does not exist"):
        SpiceKernels([tmp_path / "missing.bsp"])
    with pytest.raises(EphemerisError, match="no TESS"):
        SpiceKernels([kernel_dir / "leapseconds.tls"])
    bad = tmp_path / "junk.bsp"
    bad.write_bytes(b"not a kernel")
    with pytest.raises(EphemerisError, match=r"junk\.bsp"):
        SpiceKernels([kernel_dir / "leapseconds.tls", bad])
    closed = SpiceKernels(kernel_dir)
    closed.close()
    with pytest.raises(EphemerisError, match="closed"):
        closed.position(399, SECTOR1[0] + 1)


def test_horizons_errors(tmp_path: Path) -> None:
    junk = tmp_path / "junk.csv"
    junk.write_text("hello\n")
    with pytest.raises(InputFileError, match="SOE"):
        horizons_ephemeris_to_spk(junk, tmp_path / "x.bsp")
    with pytest.raises(EphemerisError, match="not the requested"):
        horizons_ephemeris_to_spk(EPHEM, tmp_path / "x.bsp", jd_range=(2459000.0, 2459010.0))
    assert not (tmp_path / "x.bsp").exists()
