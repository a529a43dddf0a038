"""Catalog SQLite files: round trip, box queries, read-only access, bad files."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

from tasoc_core.catalog import (
    CATALOG_FORMAT_VERSION,
    CatalogFile,
    CatalogSettings,
    CatalogStars,
    SkyPolygon,
    catalog_path,
    write_catalog,
)
from tasoc_core.exceptions import CatalogError


def _stars(n: int = 500, seed: int = 0) -> CatalogStars:
    rng = np.random.default_rng(seed)
    ra = rng.uniform(-3, 3, n) % 360.0  # straddles RA = 0
    dec = rng.uniform(-10, 10, n)
    pm = rng.normal(0, 10, (2, n))
    pm[:, :10] = np.nan
    teff = rng.uniform(3000, 9000, n)
    teff[5:15] = np.nan
    return CatalogStars(
        starid=np.arange(n, dtype=np.int64) * 7 + 1, ra=ra, dec=dec, ra_j2000=ra - 1e-5, dec_j2000=dec + 1e-5,
        pm_ra=pm[0], pm_dec=pm[1], tmag=rng.uniform(5, 17, n), teff=teff,
    )  # fmt: skip


def _settings() -> CatalogSettings:
    return CatalogSettings(
        sector=5, camera=2, ccd=3, ticver="8.2", reference_time=1445.5, epoch=2018.9, coord_buffer=0.1,
        camera_centre_ra=10.0, camera_centre_dec=-20.0,
        footprint=(SkyPolygon([359.0, 1.0, 1.0, 359.0], [-2.0, -2.0, 2.0, 2.0]),),
        footprint_kind="ffi", reference_frame="tess2018-s0005-2-3-0120-s_ffic.fits", catalog_source="file",
        catalog_source_settings={"path": "tic.csv"}, tmag_max=None,
    )  # fmt: skip


def test_round_trip(tmp_path: Path) -> None:
    path = catalog_path(tmp_path / "catalog", 5, 2, 3)
    assert path.name == "catalog_sector005_camera2_ccd3.sqlite"
    stars = _stars()
    write_catalog(path, _settings(), stars)
    assert not list(path.parent.glob("*.tmp*"))  # the temporary file was renamed
    with CatalogFile(path) as cat:
        s = cat.settings
        assert (s.sector, s.camera, s.ccd, s.ticver, s.footprint_kind) == (5, 2, 3, "8.2", "ffi")
        assert s.reference_time == 1445.5
        assert s.epoch == 2018.9
        assert s.tmag_max is None
        assert s.catalog_source_settings == {"path": "tic.csv"}
        assert s.created
        assert s.tasoc_version
        np.testing.assert_allclose(
            s.footprint[0].vertices(), [[359, -2], [1, -2], [1, 2], [359, 2]]
        )
        assert len(cat) == len(stars)
        got = cat.read_all()
        for name in (
            "starid",
            "ra",
            "dec",
            "ra_j2000",
            "dec_j2000",
            "pm_ra",
            "pm_dec",
            "tmag",
            "teff",
        ):
            np.testing.assert_array_equal(getattr(got, name), getattr(stars, name), err_msg=name)
        bright = cat.read_all(tmag_max=10.0)
        assert np.all(bright.tmag <= 10.0)
        assert len(bright) == np.sum(stars.tmag <= 10.0)
        some = cat.stars([8, 1, 99999])
        assert list(some.starid) == [1, 8]


def test_box_queries_handle_ra_wrap_and_poles(tmp_path: Path) -> None:
    path = tmp_path / "cat.sqlite"
    stars = _stars()
    write_catalog(path, _settings(), stars)
    with CatalogFile(path) as cat:
        got = cat.stars_in_box(359.0, 1.0, -5.0, 5.0)  # crosses RA = 0
        ra, dec = stars.ra, stars.dec
        expected = ((ra >= 359.0) | (ra <= 1.0)) & (dec >= -5.0) & (dec <= 5.0)
        assert sorted(got.starid) == sorted(stars.starid[expected])
        got = cat.stars_in_box(-1.0, 1.0, -5.0, 5.0, tmag_max=12.0)  # negative RA means the same
        assert sorted(got.starid) == sorted(stars.starid[expected & (stars.tmag <= 12.0)])
        got = cat.stars_in_box(0.5, 2.0, 8.0, 90.0)  # reaches the pole: RA ignored
        assert sorted(got.starid) == sorted(stars.starid[dec >= 8.0])


def test_catalog_is_opened_read_only(tmp_path: Path) -> None:
    path = tmp_path / "cat.sqlite"
    write_catalog(path, _settings(), _stars(20))
    with CatalogFile(path) as cat, pytest.raises(sqlite3.OperationalError, match="readonly"):
        cat._conn.execute("DELETE FROM catalog")


def test_bad_catalog_files_are_named(tmp_path: Path) -> None:
    with pytest.raises(
        CatalogError, match=r"nope.sqlite does not exist \(run 'tasoc catalog' first\)"
    ):
        CatalogFile(tmp_path / "nope.sqlite")
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"not a database" * 200)
    with pytest.raises(CatalogError, match=rf"{junk}: not a readable SQLite catalog"):
        CatalogFile(junk)
    other = tmp_path / "other.sqlite"
    sqlite3.connect(other).execute("CREATE TABLE x (a)").connection.close()
    with pytest.raises(CatalogError, match="not a tasoc catalog file"):
        CatalogFile(other)
    newer = tmp_path / "newer.sqlite"
    write_catalog(newer, _settings(), _stars(5))
    conn = sqlite3.connect(newer)
    conn.execute(f"PRAGMA user_version={CATALOG_FORMAT_VERSION + 1}")
    conn.close()
    with pytest.raises(CatalogError, match="format version 2 is newer"):
        CatalogFile(newer)


def test_failed_write_leaves_no_file(tmp_path: Path) -> None:
    path = tmp_path / "cat.sqlite"
    stars = _stars(10)
    bad = CatalogStars(
        starid=np.zeros(10, np.int64), ra=stars.ra, dec=stars.dec, ra_j2000=stars.ra, dec_j2000=stars.dec,
        pm_ra=stars.pm_ra, pm_dec=stars.pm_dec, tmag=stars.tmag, teff=stars.teff,
    )  # fmt: skip
    # Repeated starids violate the primary key half-way through writing.
    write_catalog(path, _settings(), stars)
    with pytest.raises(sqlite3.IntegrityError):
        write_catalog(path, _settings(), bad)
    assert list(tmp_path.iterdir()) == [path]  # old file intact, no temporary left
    with CatalogFile(path) as cat:
        assert len(cat) == 10
