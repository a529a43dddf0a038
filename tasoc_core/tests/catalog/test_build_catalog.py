"""``tasoc catalog`` on the fixture sector: contents against the construction truth."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import numpy as np
import pytest
import tasoc_tests_sector_fixture as sf  # registered by conftest.py
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.time import Time
from click.testing import CliRunner

from tasoc_core.catalog import CatalogFile, catalog_path, make_catalogs
from tasoc_core.cli import cli
from tasoc_core.config import load_config
from tasoc_core.exceptions import CatalogError
from tasoc_core.geometry import camera_centre_pixel
from tasoc_core.plugins import get_plugin_manager
from tasoc_core.sectors import reference_time


@pytest.fixture(scope="module")
def built(sector_dir: sf.SectorFixture, tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("catalog_out")
    config = load_config(sf.make_config(sector_dir, out))
    results = make_catalogs(config, get_plugin_manager(entrypoints=False))
    return config, results


def _catalog(config, ccd: int) -> CatalogFile:
    return CatalogFile(catalog_path(Path(config.paths.output) / "catalog", 1, 4, ccd))


def test_one_catalog_per_ccd_with_data(built, sector_dir) -> None:
    _, results = built
    got = {(r.sector, r.camera, r.ccd): (r.status, r.footprint_kind) for r in results}
    # Camera 4 CCD 1 has FFIs; CCD 2 only a TPF; the sector-2 TPF is outside the selection.
    assert got == {(1, 4, 1): ("built", "ffi"), (1, 4, 2): ("built", "tpf")}


@pytest.mark.parametrize("ccd", [1, 2])
def test_catalog_holds_exactly_the_expected_stars(built, sector_dir, ccd: int) -> None:
    config, _ = built
    expected = {
        s.starid for s in sector_dir.stars if s.ccd == ccd and s.in_catalog and s.in_extract
    }
    with _catalog(config, ccd) as cat:
        got = set(cat.read_all().starid.tolist())
    labels = {s.starid: s.label for s in sector_dir.stars}
    assert got == expected, (
        f"missing {[labels[i] for i in expected - got]}, unexpected {[labels[i] for i in got - expected]}"
    )


def test_buffer_and_flag_rules_are_exercised(sector_dir) -> None:
    # The truth above includes stars on both sides of the 0.1 deg buffer and flagged rows.
    labels = {s.label: s.in_catalog for s in sector_dir.stars}
    assert labels["buffer_in_left"]
    assert labels["buffer_in_top"]
    assert labels["corner_0.09"]
    assert not labels["buffer_out_bottom"]
    assert not labels["buffer_out_right"]
    assert not labels["corner_0.12"]
    assert not labels["flag_DUPLICATE"]
    assert not labels["flag_SPLIT"]
    assert not labels["flag_artifact"]


def test_positions_are_propagated_to_the_reference_epoch(built, sector_dir) -> None:
    config, _ = built
    with _catalog(config, 1) as cat:
        stars = cat.read_all()
    by_id = {s.starid: s for s in sector_dir.stars}
    ra0 = np.array([by_id[i].ra for i in stars.starid])
    dec0 = np.array([by_id[i].dec for i in stars.starid])
    np.testing.assert_array_equal(stars.ra_j2000, ra0)
    np.testing.assert_array_equal(stars.dec_j2000, dec0)
    pm_ra = np.array([by_id[i].pm_ra for i in stars.starid])
    pm_dec = np.array([by_id[i].pm_dec for i in stars.starid])
    ref_ra, ref_dec = sf.at_reference(ra0, dec0, pm_ra, pm_dec)  # astropy apply_space_motion
    sep = SkyCoord(stars.ra * u.deg, stars.dec * u.deg).separation(
        SkyCoord(ref_ra * u.deg, ref_dec * u.deg)
    )
    assert sep.to_value(u.mas).max() < 0.1
    moved = SkyCoord(ra0 * u.deg, dec0 * u.deg).separation(
        SkyCoord(stars.ra * u.deg, stars.dec * u.deg)
    )
    assert moved.to_value(u.arcsec).max() > 80  # the high-proper-motion stars moved ~4 px
    half = stars.starid == 252  # only one proper-motion component in the extract
    assert np.isnan(stars.pm_ra[half]).all()
    assert np.isnan(stars.pm_dec[half]).all()


def test_settings_record_reference_time_frame_and_footprint(built, sector_dir) -> None:
    config, _ = built
    with _catalog(config, 1) as cat:
        s = cat.settings
    assert s.reference_time == pytest.approx(sf.reference_btjd(), abs=1e-9)
    assert s.epoch == pytest.approx(
        Time(s.reference_time + 2457000, format="jd", scale="tdb").jyear, abs=1e-9
    )
    assert s.reference_frame == sector_dir.reference_frame  # frame 1 is closer but has bad quality
    assert (s.sector, s.camera, s.ccd, s.coord_buffer, s.footprint_kind) == (1, 4, 1, 0.1, "ffi")
    assert s.catalog_source == "file"
    assert s.catalog_source_settings["path"].endswith("tic.csv")
    wcs = sf.ccd_wcs(1)  # the reference frame's WCS is the unshifted solution
    (poly,) = s.footprint
    corner = wcs.all_pix2world([1559.5], [339.5], 0)
    assert poly.ra[0] == pytest.approx(corner[0][0], abs=1e-6)
    assert poly.dec[0] == pytest.approx(corner[1][0], abs=1e-6)
    row, col = camera_centre_pixel(4, 1)
    ra, dec = wcs.all_pix2world([col], [row], 0)
    assert s.camera_centre_ra == pytest.approx(ra[0], abs=1e-6)
    assert s.camera_centre_dec == pytest.approx(dec[0], abs=1e-6)
    # The camera-4 boresight is near the ecliptic south pole (RA 90, Dec -66.56) in sector 1.
    assert (
        SkyCoord(ra[0] * u.deg, dec[0] * u.deg).separation(SkyCoord(90 * u.deg, -66.56 * u.deg))
        < 1 * u.deg
    )


def test_tpf_only_ccd_uses_the_tpf_footprint(built) -> None:
    config, _ = built
    with _catalog(config, 2) as cat:
        s = cat.settings
    assert s.footprint_kind == "tpf"
    assert s.reference_frame == ""
    assert s.reference_time == pytest.approx(reference_time(sf.T0, sf.T0 + 27.6), abs=1e-9)


def test_existing_catalogs_are_kept_unless_overwrite(built, caplog) -> None:
    config, _ = built
    pm = get_plugin_manager(entrypoints=False)
    path = catalog_path(Path(config.paths.output) / "catalog", 1, 4, 1)
    mtime = path.stat().st_mtime_ns
    with caplog.at_level(logging.INFO):
        again = make_catalogs(config, pm, ccds=[1])
    assert [r.status for r in again] == ["exists"]
    assert path.stat().st_mtime_ns == mtime
    rebuilt = make_catalogs(config, pm, ccds=[1], overwrite=True)
    assert [r.status for r in rebuilt] == ["built"]
    assert rebuilt[0].stars > 50


def test_selection_errors_name_what_is_missing(sector_dir, tmp_path) -> None:
    pm = get_plugin_manager(entrypoints=False)
    config = load_config(sf.make_config(sector_dir, tmp_path / "out"))
    with pytest.raises(CatalogError, match="no FFIs or TPFs for sector 1 camera 1 CCD 1 under"):
        make_catalogs(config, pm, cameras=[1], ccds=[1])
    with pytest.raises(CatalogError, match=r"no FFIs or TPFs for sector 7 under"):
        make_catalogs(config, pm, sectors=[7])
    empty = tmp_path / "empty"
    empty.mkdir()
    cfg = sf.make_config(sector_dir, tmp_path / "out2")
    cfg.write_text(cfg.read_text().replace(f'input = "{sector_dir.root}"', f'input = "{empty}"'))
    with pytest.raises(CatalogError, match=rf"no FFIs or TPFs for sector 1 under {empty}"):
        make_catalogs(load_config(cfg), pm)


def test_missing_extract_fails_the_command_with_the_path(sector_dir, tmp_path) -> None:
    cfg = sf.make_config(sector_dir, tmp_path / "out")
    cfg.write_text(cfg.read_text().replace("catalog/tic.csv", "catalog/missing.csv"))
    with pytest.raises(CatalogError, match=r"catalog extract .*missing.csv does not exist"):
        make_catalogs(load_config(cfg), get_plugin_manager(entrypoints=False))


def test_a_bad_ccd_does_not_stop_the_others(sector_dir, tmp_path) -> None:
    """FFIs without a WCS on one CCD: that CCD fails, the TPF-only CCD is still built."""
    root = tmp_path / "sector"
    shutil.copytree(sector_dir.root, root)
    from astropy.io import fits

    for path in (root / "ffi").iterdir():
        with fits.open(path, mode="update") as hdul:
            del hdul[1].header["CTYPE1"]
    cfg = sf.make_config(
        sf.SectorFixture(root, root / "tasoc.toml", [], [], [], ""), tmp_path / "out"
    )
    result = CliRunner().invoke(cli, ["-q", "-c", str(cfg), "catalog", "--json"])
    assert result.exit_code == 1, result.output
    data = json.loads(result.stdout)
    status = {(c["camera"], c["ccd"]): c["status"] for c in data["catalogs"]}
    assert status == {(4, 1): "failed", (4, 2): "built"}
    failed = next(c for c in data["catalogs"] if c["status"] == "failed")
    assert "no FFI with a usable WCS" in failed["error"]


def test_cli_catalog(sector_dir, tmp_path) -> None:
    cfg = sf.make_config(sector_dir, tmp_path / "out")
    runner = CliRunner()
    result = runner.invoke(cli, ["-q", "-c", str(cfg), "catalog", "--ccd", "1", "--json"])
    assert result.exit_code == 0, result.output
    (entry,) = json.loads(result.stdout)["catalogs"]
    assert entry["status"] == "built"
    assert entry["ccd"] == 1
    assert Path(entry["path"]).is_file()
    result = runner.invoke(cli, ["-c", str(cfg), "catalog", "--ccd", "1"])
    assert result.exit_code == 0
    assert "kept existing" in result.output
    result = runner.invoke(cli, ["-c", str(cfg), "catalog", "--camera", "2"])
    assert result.exit_code == 1
    assert "Error: no FFIs or TPFs for sector 1 camera 2 CCDs [1, 2, 3, 4] under" in result.output
    result = runner.invoke(cli, ["-c", str(cfg), "catalog", "--source", "q3c"])
    assert result.exit_code == 1
    assert "unknown catalog source 'q3c' (installed: file)" in result.output
    assert runner.invoke(cli, ["catalog", "--help"]).exit_code == 0
