"""Stars-in-stamp lookup against a brute-force scan."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tasoc_tests_sector_fixture as sf  # registered by conftest.py

from tasoc_core.catalog import (
    CatalogSettings,
    CatalogStars,
    SkyPolygon,
    StarsLookup,
    make_stars_lookup,
    write_catalog,
)
from tasoc_core.data import Stamp, Stars


def _random_stars(
    wcs: object, n: int, seed: int = 0
) -> tuple[CatalogStars, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    rows = rng.uniform(-30, 2080, n)
    cols = rng.uniform(10, 2130, n)
    ra, dec = wcs.all_pix2world(cols, rows, 0)
    stars = CatalogStars(
        starid=np.arange(1, n + 1, dtype=np.int64), ra=ra, dec=dec, ra_j2000=ra, dec_j2000=dec,
        pm_ra=np.zeros(n), pm_dec=np.zeros(n), tmag=rng.uniform(4, 18, n), teff=np.full(n, 5000.0),
    )  # fmt: skip
    return stars, rows, cols


def test_lookup_matches_brute_force() -> None:
    wcs = sf.ccd_wcs(1)
    stars, rows, cols = _random_stars(wcs, 20000)
    lookup = StarsLookup(stars, wcs)
    assert len(lookup) == len(stars)
    rng = np.random.default_rng(5)
    for _ in range(200):
        h, w = rng.integers(1, 120, 2)
        r0, c0 = rng.integers(-40, 2100, 2)
        stamp = Stamp(r0, r0 + h, c0, c0 + w)
        buffer = float(rng.choice([0.0, 2.0, 5.5]))
        got = lookup(stamp, buffer)
        inside = (
            (rows >= r0 - 0.5 - buffer) & (rows <= r0 + h - 0.5 + buffer)
            & (cols >= c0 - 0.5 - buffer) & (cols <= c0 + w - 0.5 + buffer)
        )  # fmt: skip
        assert sorted(got.starid) == sorted(stars.starid[inside])
        assert np.all(np.diff(got.tmag) >= 0)  # brightest first
        idx = got.starid - 1
        np.testing.assert_allclose(got.row, rows[idx], atol=1e-5)
        np.testing.assert_allclose(got.col, cols[idx], atol=1e-5)
        np.testing.assert_array_equal(got.ra, stars.ra[idx])


def test_lookup_of_an_empty_region_and_an_empty_catalog() -> None:
    wcs = sf.ccd_wcs(1)
    stars, _, _ = _random_stars(wcs, 100)
    got = StarsLookup(stars, wcs)(Stamp(5000, 5010, 5000, 5010), 2.0)
    assert isinstance(got, Stars)
    assert len(got) == 0
    empty = stars.select(np.zeros(100, dtype=bool))
    assert len(StarsLookup(empty, wcs)(Stamp(0, 10, 44, 54), 2.0)) == 0


def test_make_stars_lookup_reads_a_catalog_file(tmp_path: Path) -> None:
    wcs = sf.ccd_wcs(1)
    stars, rows, cols = _random_stars(wcs, 3000, seed=2)
    settings = CatalogSettings(
        sector=1, camera=4, ccd=1, ticver="8.2", reference_time=1332.0, epoch=2018.6, coord_buffer=0.1,
        camera_centre_ra=90.0, camera_centre_dec=-66.0,
        footprint=(SkyPolygon([1.0, 2.0, 2.0], [1.0, 1.0, 2.0]),), footprint_kind="ffi", reference_frame="",
        catalog_source="file",
    )  # fmt: skip
    path = write_catalog(tmp_path / "cat.sqlite", settings, stars)
    lookup = make_stars_lookup(path, wcs)
    stamp = Stamp(1000, 1015, 1000, 1015)
    got = lookup(stamp, 2.0)
    inside = (rows >= 997.5) & (rows <= 1016.5) & (cols >= 997.5) & (cols <= 1016.5)
    assert sorted(got.starid) == sorted(stars.starid[inside])


@pytest.mark.parametrize("n", [1, 3])
def test_lookup_handles_tiny_catalogs(n: int) -> None:
    wcs = sf.ccd_wcs(1)
    stars, rows, cols = _random_stars(wcs, n, seed=9)
    r, c = round(rows[0]), round(cols[0])
    got = StarsLookup(stars, wcs)(Stamp(r - 1, r + 2, c - 1, c + 2), 0.0)
    assert 1 in got.starid


def test_lookup_around_a_position_for_tpf_wcs(tmp_path: Path) -> None:
    """With a TPF's local TAN WCS only the stars near the stamp are loaded and projected."""
    wcs = sf.ccd_wcs(1)
    stars, rows, cols = _random_stars(wcs, 20000, seed=3)
    settings = CatalogSettings(
        sector=1, camera=4, ccd=1, ticver="8.2", reference_time=1332.0, epoch=2018.6, coord_buffer=0.1,
        camera_centre_ra=90.0, camera_centre_dec=-66.0,
        footprint=(SkyPolygon([1.0, 2.0, 2.0], [1.0, 1.0, 2.0]),), footprint_kind="ffi", reference_frame="",
        catalog_source="file",
    )  # fmt: skip
    path = write_catalog(tmp_path / "cat.sqlite", settings, stars)
    stamp = Stamp(388, 399, 1618, 1629)
    tan = sf.fitted_tan(wcs, stamp)  # stamp pixel coordinates
    from tasoc_core.wcs import shift_wcs

    tpf_wcs = shift_wcs(tan, stamp.row_min, stamp.col_min)  # CCD coordinates
    ra, dec = tpf_wcs.all_pix2world([1623.0], [393.0], 0)
    lookup = make_stars_lookup(path, tpf_wcs, around=(ra[0], dec[0], 0.3))
    assert 0 < len(lookup) < 2000  # only the neighbourhood was loaded
    got = lookup(stamp, 2.0)
    inside = (rows >= 385.5) & (rows <= 400.5) & (cols >= 1615.5) & (cols <= 1630.5)
    assert sorted(got.starid) == sorted(stars.starid[inside])
    np.testing.assert_allclose(got.row, rows[got.starid - 1], atol=0.01)  # TAN fit vs SIP
