"""The ``file`` catalog source: formats, column names, flagged rows and bad input."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
from astropy.table import MaskedColumn, Table

from tasoc_core.catalog import (
    FileCatalogSource,
    FileSourceSettings,
    propagate_proper_motion,
    read_extract,
)
from tasoc_core.exceptions import CatalogError, ConfigError
from tasoc_core.families import CATALOG_COLUMNS, CatalogSource
from tasoc_core.plugins import get_plugin_manager
from tasoc_core.testing import assert_conformance, check_catalog_source


def _extract(n: int = 6) -> Table:
    return Table(
        {
            "ID": np.arange(1, n + 1, dtype=np.int64) * 1000,
            "ra": np.linspace(10.0, 10.5, n),
            "dec": np.linspace(-5.0, -4.5, n),
            "pmRA": MaskedColumn(np.linspace(-50, 50, n), mask=[False] * (n - 1) + [True]),
            "pmDEC": MaskedColumn(np.linspace(20, 30, n), mask=[False] * (n - 1) + [True]),
            "Tmag": np.linspace(8.0, 16.0, n),
            "Teff": MaskedColumn(np.full(n, 5000.0), mask=[True] + [False] * (n - 1)),
            "disposition": MaskedColumn(
                ["", "DUPLICATE", "", "SPLIT", "", ""][:n],
                mask=[True, False, True, False, True, True][:n],
            ),
            "duplicate_id": MaskedColumn(np.zeros(n, np.int64), mask=[True] * n),
        }
    )


@pytest.mark.parametrize(
    ("suffix", "fmt"),
    [(".csv", "ascii.csv"), (".ecsv", "ascii.ecsv"), (".fits", "fits"), (".csv.gz", None)],
)
def test_formats_give_identical_tables(tmp_path: Path, suffix: str, fmt: str | None) -> None:
    table = _extract()
    path = tmp_path / f"tic{suffix}"
    if fmt is None:
        import gzip

        plain = tmp_path / "plain.csv"
        table.write(plain, format="ascii.csv")
        path.write_bytes(gzip.compress(plain.read_bytes()))
    else:
        table.write(path, format=fmt)
    got = read_extract(path)
    assert list(got.colnames) == list(CATALOG_COLUMNS)
    # Rows flagged DUPLICATE and SPLIT are left out.
    assert list(got["starid"]) == [1000, 3000, 5000, 6000]
    np.testing.assert_allclose(got["ra"], table["ra"][[0, 2, 4, 5]])
    np.testing.assert_allclose(got["tmag"], table["Tmag"][[0, 2, 4, 5]])
    assert np.isnan(got["pm_ra"][-1])
    assert np.isnan(got["pm_dec"][-1])  # blank -> NaN
    assert np.isnan(got["teff"][0])
    assert got["teff"][1] == 5000.0
    assert got["starid"].dtype == np.int64


def test_column_names_case_insensitive_and_aliases(tmp_path: Path) -> None:
    table = _extract()
    table.rename_columns(
        ["ID", "ra", "dec", "pmRA", "pmDEC", "Tmag"],
        ["TICID", "RA", "DEC", "PMRA", "PMDEC", "TESSMAG"],
    )
    table.remove_column("disposition")
    path = tmp_path / "tic.ecsv"
    table.write(path)
    got = read_extract(path)
    assert len(got) == 6  # no disposition column: nothing dropped
    np.testing.assert_allclose(got["pm_dec"][:5], table["PMDEC"][:5])


def test_column_overrides(tmp_path: Path) -> None:
    table = _extract()
    table.rename_column("Tmag", "Tmag_new")
    table.rename_column("ID", "source")
    path = tmp_path / "tic.csv"
    table.write(path)
    with pytest.raises(CatalogError, match=r"required column\(s\) missing: starid .*tmag"):
        read_extract(path)
    got = read_extract(path, FileSourceSettings(columns={"starid": "SOURCE", "tmag": "tmag_new"}))
    assert list(got["starid"]) == [1000, 3000, 5000, 6000]
    with pytest.raises(CatalogError, match=r"column 'nope' .*columns\.tmag"):
        read_extract(path, FileSourceSettings(columns={"starid": "source", "tmag": "nope"}))
    with pytest.raises(ValueError, match="unknown column 'magnitude'"):
        FileSourceSettings(columns={"magnitude": "x"})


def test_missing_required_column_names_file_and_columns(tmp_path: Path) -> None:
    table = _extract()
    table.remove_column("dec")
    path = tmp_path / "tic.csv"
    table.write(path)
    with pytest.raises(CatalogError) as err:
        read_extract(path)
    message = str(err.value)
    assert str(path) in message
    assert "dec" in message
    assert "pmRA" in message


def test_unreadable_and_missing_files(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="does not exist"):
        read_extract(tmp_path / "nope.csv")
    bad = tmp_path / "tic.fits"
    bad.write_bytes(b"garbage" * 100)
    with pytest.raises(CatalogError, match=rf"{bad}: cannot read as fits"):
        read_extract(bad)


def test_bad_rows_dropped_with_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "tic.csv"
    path.write_text(
        "ID,ra,dec,pmRA,pmDEC,Tmag,Teff\n"
        "1,10.0,-5.0,1.0,2.0,10.0,5000\n"
        "2,10.0,-5.0,1.0,2.0,,5000\n"  # no Tmag
        "3,,-5.0,1.0,2.0,10.0,5000\n"  # no RA
        "4,10.0,95.0,1.0,2.0,10.0,5000\n"  # impossible Dec
        "5,10.1,-5.0,7.0,,11.0,\n"  # one proper-motion component only
        "1,10.2,-5.0,1.0,2.0,12.0,5000\n"  # repeated ID
    )
    with caplog.at_level(logging.WARNING):
        got = read_extract(path)
    assert list(got["starid"]) == [1, 5]
    assert got["ra"][0] == 10.0  # first row of a repeated ID wins
    assert np.isnan(got["pm_ra"][1])
    assert np.isnan(got["pm_dec"][1])
    text = caplog.text
    assert "3 rows without a valid ID, position or Tmag" in text
    assert "only one proper-motion component" in text
    assert "appear more than once (e.g. TIC 1)" in text


def test_epoch_setting_moves_positions_to_j2000(tmp_path: Path) -> None:
    table = _extract()
    path = tmp_path / "gaia.csv"
    table.write(path)
    got = read_extract(path, FileSourceSettings(epoch=2016.0))
    ra, _ = propagate_proper_motion(
        np.asarray(table["ra"]), np.asarray(table["dec"]), np.ma.filled(table["pmRA"], np.nan),
        np.ma.filled(table["pmDEC"], np.nan), -16.0,
    )  # fmt: skip
    np.testing.assert_allclose(got["ra"], ra[[0, 2, 4, 5]], rtol=0, atol=1e-12)
    assert got["ra"][0] != table["ra"][0]


def test_query_selects_polygon_and_magnitude(tmp_path: Path) -> None:
    path = tmp_path / "tic.csv"
    _extract().write(path)
    source = FileCatalogSource(FileSourceSettings(path=path))
    poly = np.array([[10.05, -5.2], [10.45, -5.2], [10.45, -4.4], [10.05, -4.4]])
    got = source.query(poly, tmag_max=14.0)
    assert list(got["starid"]) == [3000]  # 1000 and 6000 outside the box, 5000 too faint
    got = source.query(poly, tmag_max=np.inf)
    assert list(got["starid"]) == [3000, 5000]
    with pytest.raises(CatalogError, match="no path"):
        FileCatalogSource().query(poly, tmag_max=15.0)


def test_file_source_conforms_and_is_registered_by_core() -> None:
    assert check_catalog_source(FileCatalogSource) == []
    import tasoc_core.builtin

    regs = assert_conformance(tasoc_core.builtin, "core")
    assert [r.name for r in regs if issubclass(r.cls, CatalogSource)] == ["file"]
    pm = get_plugin_manager(entrypoints=False)
    assert pm.lookup("catalog_sources", "file").cls is FileCatalogSource


def test_source_settings_from_config(tmp_path: Path) -> None:
    from tasoc_core.catalog import catalog_source_from_config
    from tasoc_core.config import load_config

    cfg = tmp_path / "tasoc.toml"
    cfg.write_text(
        '[paths]\ncatalog = "tic.csv"\n[catalog.sources.file]\nticver = "8.1"\ncolumns = {tmag = "T"}\n'
    )
    pm = get_plugin_manager(entrypoints=False)
    source = catalog_source_from_config(load_config(cfg), pm)
    assert source.settings.path == tmp_path / "tic.csv"
    assert source.settings.ticver == "8.1"
    assert source.settings.columns == {"tmag": "T"}
    cfg.write_text('[catalog.sources.file]\nepoch = "J2016"\n')
    with pytest.raises(
        ConfigError, match=r"catalog.sources.file.epoch: expected a number, got 'J2016'"
    ):
        catalog_source_from_config(load_config(cfg), pm)
