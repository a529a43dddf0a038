"""``tasoc todo`` on the fixture sector: TODO-file contents against the truth.

The expected FFI targets are recomputed independently of tasoc (astropy proper motion,
astropy WCS of the reference frame, pixel-edge bounds); TPF primaries and secondaries with
their edge distances come from how the fixture was built.
"""

from __future__ import annotations

import itertools
import json
import logging
import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pytest
import tasoc_tests_sector_fixture as sf  # registered by conftest.py
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.table import Table
from click.testing import CliRunner

from tasoc_core.cli import cli
from tasoc_core.config import Config
from tasoc_core.exceptions import CatalogError
from tasoc_core.geometry import camera_centre_pixel, cbv_area
from tasoc_core.todo import TodoFile, TodoFileExistsError, make_todo

FAINT = 15.0
TPF_PRIMARIES = {
    (25155310, "tpf", 120), (1001, "tpf", 120), (1001, "tpf", 20), (1002, "tpf", 120),
    (1004, "tpf", 120), (999000001, "tpf", 120), (1007, "tpf", 120),
}  # fmt: skip


def expected_ffi_targets(
    root: Path, wcs: object, science: object, faint: float = FAINT
) -> dict[int, float]:
    """{TIC: edge distance} of FFI targets, from the extract with astropy only."""
    t = Table.read(root / "catalog" / "tic.csv", format="ascii.csv")
    disp = np.ma.filled(t["disposition"].astype(str), "")
    tmag = np.ma.filled(t["Tmag"].astype(float), np.nan)
    keep = (disp == "") & (tmag < faint)
    t = t[keep]
    pm_ra = np.ma.filled(t["pmRA"].astype(float), np.nan)
    pm_dec = np.ma.filled(t["pmDEC"].astype(float), np.nan)
    half = np.isnan(pm_ra) != np.isnan(pm_dec)
    pm_ra[half] = pm_dec[half] = np.nan
    ra, dec = sf.at_reference(np.asarray(t["ra"]), np.asarray(t["dec"]), pm_ra, pm_dec)
    # Only stars near the sub-frame can be on it (SIP inversion diverges far away).
    centre = SkyCoord(
        *wcs.all_pix2world(
            [0.5 * (science.col_min + science.col_max)],
            [0.5 * (science.row_min + science.row_max)],
            0,
        ),
        unit="deg",
    )
    near = SkyCoord(ra * u.deg, dec * u.deg).separation(centre).deg < 5.0
    t, ra, dec = t[near], ra[near], dec[near]
    col, row = wcs.all_world2pix(ra, dec, 0)
    edge = np.minimum.reduce(
        [
            row - (science.row_min - 0.5),
            science.row_max - 0.5 - row,
            col - (science.col_min - 0.5),
            science.col_max - 0.5 - col,
        ]
    )
    inside = edge >= 0
    return dict(zip(np.asarray(t["ID"])[inside].tolist(), edge[inside].tolist()))


def expected_secondaries(fx: sf.SectorFixture) -> dict[tuple[int, str, int], float]:
    out = {}
    for s in fx.stars:
        for (primary, cadence), edge in s.secondary_in.items():
            out[(s.starid, f"tpf:{primary}", cadence)] = edge
    return out


@pytest.fixture(scope="module")
def todo_built(catalogs_built: Config, tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("todo_out")
    shutil.copytree(Path(catalogs_built.paths.output) / "catalog", out / "catalog")
    import attrs

    config = attrs.evolve(catalogs_built, paths=attrs.evolve(catalogs_built.paths, output=out))
    result = make_todo(config, command="tasoc todo")
    return config, result


def _rows(config: Config) -> list:
    with TodoFile.open(Path(config.paths.output) / "todo.sqlite", readonly=True) as todo:
        return todo.rows()


def test_todo_contents_match_the_truth(todo_built, sector_dir) -> None:
    config, _ = todo_built
    rows = _rows(config)
    got = {(r.starid, r.datasource, r.cadence) for r in rows}
    assert len(got) == len(rows)
    ffi = expected_ffi_targets(sector_dir.root, sf.ccd_wcs(1), sf.SUBFRAME)
    expected = (
        {(i, "ffi", 1800) for i in ffi} | TPF_PRIMARIES | set(expected_secondaries(sector_dir))
    )
    labels = {s.starid: s.label for s in sector_dir.stars}
    missing = sorted((labels.get(k[0], k[0]), *k[1:]) for k in expected - got)
    extra = sorted((labels.get(k[0], k[0]), *k[1:]) for k in got - expected)
    assert got == expected, f"missing {missing}; unexpected {extra}"


def test_the_truth_exercises_every_rule(sector_dir) -> None:
    """Guard against a fixture that no longer tests what it should."""
    ffi = expected_ffi_targets(sector_dir.root, sf.ccd_wcs(1), sf.SUBFRAME)
    by_label = {s.label: s.starid for s in sector_dir.stars}
    for label in (
        "edge_row_min_in",
        "edge_row_max_in",
        "edge_col_min_in",
        "edge_col_max_in",
        "pm_moves_in",
        "just_bright",
    ):
        assert by_label[label] in ffi, label
    for label in ("edge_row_min_out", "edge_row_max_out", "edge_col_min_out", "edge_col_max_out", "pm_moves_out", "at_limit",
                  "buffer_in_left", "S_faint"):  # fmt: skip
        assert by_label[label] not in ffi, label
    assert len(ffi) > 40


def test_edge_distances(todo_built, sector_dir) -> None:
    config, _ = todo_built
    rows = {(r.starid, r.datasource, r.cadence): r for r in _rows(config)}
    for key, edge in expected_secondaries(sector_dir).items():
        assert rows[key].edge_dist == pytest.approx(edge, abs=0.02), key
    ffi = expected_ffi_targets(sector_dir.root, sf.ccd_wcs(1), sf.SUBFRAME)
    for starid, edge in ffi.items():
        assert rows[(starid, "ffi", 1800)].edge_dist == pytest.approx(edge, abs=1e-3), starid
    # A primary's edge distance is that of its position in its own stamp: TIC 1001 at
    # (425.2, 1585.3) is nearest to the corner (426.5, 1582.5) of the hole at (427, 1582).
    assert rows[(1001, "tpf", 120)].edge_dist == pytest.approx(np.hypot(1.3, 2.8), abs=0.02)


def test_secondary_rules_were_applied(todo_built) -> None:
    config, result = todo_built
    keys = {(r.starid, r.datasource, r.cadence) for r in _rows(config)}
    assert (1004, "tpf:1001", 120) not in keys  # also a primary
    assert (2005, "tpf:1001", 120) not in keys  # farther from the edge in TPF 1002
    assert (2003, "tpf:1001", 120) not in keys  # on a pixel that was not collected
    assert (2004, "tpf:1001", 120) not in keys  # fainter than the limit
    assert result.counts["secondaries_also_primary"] == 1
    assert result.counts["secondaries_in_several_tpfs"] == 1


def test_priorities_brightest_first_and_row_values(todo_built, sector_dir) -> None:
    config, _ = todo_built
    rows = _rows(config)
    assert [r.priority for r in rows] == list(range(1, len(rows) + 1))
    assert all(a.tmag <= b.tmag for a, b in itertools.pairwise(rows))
    order = [(r.datasource, r.cadence) for r in rows if r.starid == 1001]
    assert order == [("tpf", 20), ("tpf", 120), ("ffi", 1800)]
    wcs = sf.ccd_wcs(1)
    row_c, col_c = camera_centre_pixel(4, 1)
    centre = SkyCoord(*wcs.all_pix2world([col_c], [row_c], 0), unit="deg")
    for r in rows:
        assert (r.sector, r.camera) == (1, 4)
        assert r.ccd == (2 if r.starid in (1007, 2007) else 1)
        if r.ccd == 1:
            dist = SkyCoord(r.ra * u.deg, r.dec * u.deg).separation(centre).deg[0]
            assert r.cbv_area == int(cbv_area(4, 1, dist))
        if r.datasource == "ffi":
            assert r.tpf_path is None
        else:
            assert r.tpf_path.startswith("tpf/tess2018206045859-s0001-")
        assert r.forced_method is None
    star = sector_dir.star(1001)
    row = next(r for r in rows if r.starid == 1001)
    assert (row.tmag, row.pm_ra, row.pm_dec, row.teff) == (
        star.tmag,
        star.pm_ra,
        star.pm_dec,
        star.teff,
    )


def test_primary_missing_from_catalog_uses_header_values(todo_built, sector_dir) -> None:
    config, result = todo_built
    row = next(r for r in _rows(config) if r.starid == 999000001)
    star = sector_dir.star(999000001)
    ra, dec = sf.at_reference(
        [star.ra], [star.dec], np.array([star.pm_ra]), np.array([star.pm_dec])
    )
    assert row.tmag == pytest.approx(9.5)
    sep = SkyCoord(row.ra * u.deg, row.dec * u.deg).separation(
        SkyCoord(ra[0] * u.deg, dec[0] * u.deg)
    )
    assert sep.to_value(u.mas) < 0.1
    assert any(
        "primary TIC 999000001 is not in the catalog; using the TPF header values" in m
        for m in result.messages
    )


def test_other_sector_and_unreadable_tpfs_are_reported(todo_built) -> None:
    _, result = todo_built
    assert result.counts["tpfs_other_sector"] == 1
    assert result.counts["tpfs_unreadable"] == 1
    assert any("skipping 1 TPFs of other sectors" in m for m in result.messages)
    assert any(
        "0000000000001006-0120-s_tp.fits: not a readable FITS file" in m for m in result.messages
    )


def test_run_is_recorded(todo_built) -> None:
    config, result = todo_built
    with TodoFile.open(Path(config.paths.output) / "todo.sqlite", readonly=True) as todo:
        (run,) = todo.runs()
    assert run["stage"] == "todo"
    assert run["command"] == "tasoc todo"
    assert run["counts"] == result.counts
    assert run["config"]["todo"]["faint_limit"] == 15.0


@pytest.mark.parametrize(
    ("extra", "check"),
    [
        ("[todo]\nsecondaries = false\n", "no_secondaries"),
        ('[todo]\ndatasources = ["tpf"]\n', "tpf_only"),
        ("[todo]\nfaint_limit = 12.0\n", "faint_12"),
        ('[todo]\nexclude = [2001, 1002]\nforced_methods = {"1001" = "halo"}\n', "exclude_forced"),
    ],
)
def test_todo_options(fresh_output, sector_dir, extra: str, check: str) -> None:
    config = fresh_output(extra)
    make_todo(config)
    rows = _rows(config)
    keys = {(r.starid, r.datasource, r.cadence) for r in rows}
    if check == "no_secondaries":
        assert not any(r.datasource.startswith("tpf:") for r in rows)
        assert keys >= TPF_PRIMARIES
    elif check == "tpf_only":
        assert not any(r.datasource == "ffi" for r in rows)
        assert len([k for k in keys if k[1] == "tpf"]) == 7
    elif check == "faint_12":
        ffi = expected_ffi_targets(sector_dir.root, sf.ccd_wcs(1), sf.SUBFRAME, faint=12.0)
        assert {k[0] for k in keys if k[1] == "ffi"} == set(ffi)
        secondaries = {k for k in keys if k[1].startswith("tpf:")}
        assert secondaries == {(2005, "tpf:1002", 120)}  # Tmag 11; 2001 (12.0) is not < 12
    else:
        assert not any(r.starid in (2001, 1002) for r in rows)
        assert not any(r.datasource == "tpf:1002" for r in rows)
        # Without TPF 1002, star 2005 stays a secondary of TPF 1001 (edge distance 0.9 px).
        row = next(r for r in rows if (r.starid, r.datasource) == (2005, "tpf:1001"))
        assert row.edge_dist == pytest.approx(0.9, abs=0.02)
        assert {r.forced_method for r in rows if r.starid == 1001} == {"halo"}
        assert {r.forced_method for r in rows if r.starid != 1001} == {None}


def test_reference_frame_fallback_uses_the_new_frames_wcs(
    sector_dir, catalogs_built, tmp_path, caplog
) -> None:
    """Without the catalog's reference frame, the next good frame's WCS (0.8 px off) is used."""
    root = tmp_path / "sector"
    shutil.copytree(sector_dir.root, root)
    (root / "ffi" / sector_dir.reference_frame).unlink()
    fx = sf.SectorFixture(root, root / "tasoc.toml", [], [], [], "")
    out = tmp_path / "out"
    shutil.copytree(Path(catalogs_built.paths.output) / "catalog", out / "catalog")
    from tasoc_core.config import load_config

    config = load_config(sf.make_config(fx, out))
    with caplog.at_level(logging.WARNING):
        make_todo(config)
    assert "not among the FFIs; selecting again" in caplog.text
    wcs0 = sf.ccd_wcs(1)
    wcs0.wcs.crpix = [wcs0.wcs.crpix[0] - 0.8, wcs0.wcs.crpix[1]]  # frame 0 (frame 1 is bad)
    from astropy.wcs import Sip

    wcs0.sip = Sip(wcs0.sip.a, wcs0.sip.b, wcs0.sip.ap, wcs0.sip.bp, wcs0.wcs.crpix)
    expected = set(expected_ffi_targets(root, wcs0, sf.SUBFRAME))
    got = {r.starid for r in _rows(config) if r.datasource == "ffi"}
    assert got == expected
    by_label = {s.label: s.starid for s in sector_dir.stars}
    assert by_label["edge_col_min_in"] not in got  # moved 0.8 px out
    assert by_label["edge_col_max_out"] in got  # moved 0.8 px in


def test_missing_catalog_is_a_clear_error(fresh_output) -> None:
    config = fresh_output()
    (Path(config.paths.output) / "catalog" / "catalog_sector001_camera4_ccd2.sqlite").unlink()
    with pytest.raises(
        CatalogError,
        match=r"catalog .*catalog_sector001_camera4_ccd2.sqlite .* is missing; run 'tasoc catalog' first",
    ):
        make_todo(config)
    assert not (Path(config.paths.output) / "todo.sqlite").exists()


def test_existing_results_need_overwrite(fresh_output) -> None:
    config = fresh_output()
    make_todo(config)
    path = Path(config.paths.output) / "todo.sqlite"
    with TodoFile.open(path) as todo, todo.transaction() as conn:
        conn.execute("INSERT INTO photometry (priority, method, status) VALUES (1, 'aperture', 1)")
    with pytest.raises(TodoFileExistsError):
        make_todo(config)
    make_todo(config, overwrite=True)
    with TodoFile.open(path) as todo:
        assert todo.result_counts()["photometry"] == 0


def test_cli_todo(fresh_output) -> None:
    config = fresh_output()
    cfg = str(config.source)
    runner = CliRunner()
    result = runner.invoke(cli, ["-q", "-c", cfg, "todo", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["counts"]["tpf"] == 7
    assert (
        data["counts"]["targets"]
        == data["counts"]["ffi"] + data["counts"]["tpf"] + data["counts"]["secondaries"]
    )
    path = Path(data["path"])
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("INSERT INTO photometry (priority, method, status) VALUES (1, 'aperture', 1)")
    conn.commit()
    conn.close()
    result = runner.invoke(cli, ["-c", cfg, "todo"])
    assert result.exit_code == 1
    assert "holds results (1 photometry); use --overwrite to replace it" in result.output
    result = runner.invoke(cli, ["-c", cfg, "todo", "--overwrite", "--ccd", "2"])
    assert result.exit_code == 0, result.output
    assert "2 targets: 0 FFI, 1 TPF primaries, 1 TPF secondaries" in result.output
    result = runner.invoke(cli, ["-c", cfg, "todo", "--camera", "1"])
    assert result.exit_code == 1
    assert "Error: no FFIs or TPFs for sector 1 camera 1 CCDs [1, 2, 3, 4] under" in result.output
    result = runner.invoke(cli, ["-c", cfg, "todo", "--overwrite", "--ccd", "2", "--ccd", "3"])
    assert result.exit_code == 1
    assert "Error: no FFIs or TPFs for sector 1 cameras [1, 2, 3, 4] CCD 3 under" in result.output
    assert runner.invoke(cli, ["todo", "--help"]).exit_code == 0


def test_catalog_that_cannot_serve_the_todo(fresh_output) -> None:
    config = fresh_output()
    path = Path(config.paths.output) / "catalog" / "catalog_sector001_camera4_ccd1.sqlite"
    conn = sqlite3.connect(path)
    conn.execute("UPDATE settings SET tmag_max = 12.0")
    conn.commit()
    result = make_todo(config)
    assert any("holds stars to Tmag 12.0 only" in m for m in result.messages)
    conn.execute("UPDATE settings SET footprint_kind = 'tpf'")
    conn.commit()
    conn.close()
    with pytest.raises(
        CatalogError, match=r"covers only the TPFs of sector 1 camera 4 CCD 1, which now has FFIs"
    ):
        make_todo(config, overwrite=True)
