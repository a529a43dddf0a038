"""Footprints made of many TPF stamps: hull query, exact trim, catalog contents."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tasoc_tests_sector_fixture as sf  # registered by conftest.py
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.table import Table

from tasoc_core.catalog import (
    CatalogFile,
    CCDFootprint,
    FileCatalogSource,
    FileSourceSettings,
    SkyPolygon,
    build_catalog,
    stamp_polygon,
)
from tasoc_core.data import Stamp


def _stamps(n: int, seed: int = 0) -> list[Stamp]:
    rng = np.random.default_rng(seed)
    corners = rng.integers([100, 150], [1900, 1950], (n, 2))
    return [Stamp(r, r + 11, c, c + 11) for r, c in corners]


def test_footprint_of_many_stamps_matches_union_of_polygons() -> None:
    wcs = sf.ccd_wcs(1)
    polys = [stamp_polygon(wcs, s, step=11) for s in _stamps(30)]
    fp = CCDFootprint(1, 4, 1, 1332.0, polys, (90.0, -66.0), "tpf")
    rng = np.random.default_rng(1)
    rows, cols = rng.uniform(0, 2048, 40000), rng.uniform(44, 2092, 40000)
    ra, dec = wcs.all_pix2world(cols, rows, 0)
    naive = np.zeros(len(ra), bool)
    for p in polys:
        naive |= p.contains(ra, dec, 0.1)
    got = fp.contains(ra, dec, 0.1)
    np.testing.assert_array_equal(got, naive)
    assert 300 < got.sum() < len(ra)
    # The hull used for the catalog query encloses every stamp.
    on_stamp = np.any([p.contains(ra, dec) for p in polys], axis=0)
    assert on_stamp.sum() > 10
    assert np.all(SkyPolygon.hull(polys).contains(ra[on_stamp], dec[on_stamp]))


def test_catalog_of_a_tpf_only_ccd(tmp_path: Path) -> None:
    wcs = sf.ccd_wcs(1)
    stamps = _stamps(12, seed=3)
    polys = [stamp_polygon(wcs, s, step=11) for s in stamps]
    rng = np.random.default_rng(4)
    rows, cols = rng.uniform(-100, 2148, 30000), rng.uniform(-56, 2192, 30000)
    ra, dec = wcs.all_pix2world(cols, rows, 0)
    table = Table({"ID": np.arange(1, 30001), "ra": ra, "dec": dec, "pmRA": np.zeros(30000),
                   "pmDEC": np.zeros(30000), "Tmag": rng.uniform(5, 18, 30000)})  # fmt: skip
    extract = tmp_path / "tic.ecsv"
    table.write(extract)
    fp = CCDFootprint(1, 4, 1, 1332.0, polys, (90.0, -66.0), "tpf")
    source = FileCatalogSource(FileSourceSettings(path=extract))
    build_catalog(fp, source, tmp_path / "cat.sqlite", buffer_deg=0.1)
    with CatalogFile(tmp_path / "cat.sqlite") as cat:
        got = set(cat.read_all().starid.tolist())
        assert len(cat.settings.footprint) == 12
    # Expected: within 0.1 deg of a stamp, by brute force on the sky.
    stars = SkyCoord(ra * u.deg, dec * u.deg)
    expected = set()
    for p in polys:
        near = stars.separation(SkyCoord(*p.centre, unit="deg")).deg < 0.3
        expected |= set((np.flatnonzero(near)[p.contains(ra[near], dec[near], 0.1)] + 1).tolist())
    assert got == expected
    assert len(got) > 100
