"""``tasoc catalog`` + ``tasoc todo`` against an independent re-computation, per sector directory.

Parametrized over sector directories: the fixture sector and the simulator's ``ci_sector``.
"""

from __future__ import annotations

from pathlib import Path

import attrs
import numpy as np
import pytest
import tasoc_tests_reference_todo as reference  # registered by conftest.py

from tasoc_core.catalog import make_catalogs
from tasoc_core.config import Config, load_config
from tasoc_core.plugins import get_plugin_manager
from tasoc_core.todo import TodoFile, make_todo


@pytest.fixture(params=["fixture_sector", "ci_sector"])
def sector_run(request: pytest.FixtureRequest, tmp_path: Path) -> Config:
    if request.param == "fixture_sector":
        config_path = request.getfixturevalue("sector_dir").config
    else:
        config_path = Path(request.getfixturevalue("ci_sector")) / "tasoc.toml"
    config = load_config(config_path)
    config = attrs.evolve(config, paths=attrs.evolve(config.paths, output=tmp_path / "out"))
    make_catalogs(config, get_plugin_manager(entrypoints=False))
    make_todo(config)
    return config


def test_todo_matches_independent_recomputation(sector_run: Config) -> None:
    config = sector_run
    with TodoFile.open(Path(config.paths.output) / "todo.sqlite", readonly=True) as todo:
        rows = todo.rows()
    sectors = {r.sector for r in rows}
    assert len(sectors) == 1
    (sector,) = sectors
    expected = reference.expected_todo(
        Path(config.paths.input), Path(config.paths.output) / "catalog", Path(config.paths.catalog), sector,
        faint_limit=config.todo.faint_limit,
    )  # fmt: skip
    got = {(r.starid, r.datasource, r.cadence): r for r in rows}
    assert set(got) == set(expected), (
        f"missing {sorted(set(expected) - set(got))[:10]}, unexpected {sorted(set(got) - set(expected))[:10]}"
    )
    for key, (camera, ccd, edge) in expected.items():
        row = got[key]
        assert (row.camera, row.ccd) == (camera, ccd), key
        if np.isfinite(edge):
            assert row.edge_dist == pytest.approx(edge, abs=0.01), key
    # Enough secondaries that the secondary rules (also-a-primary, farthest from the edge) are exercised.
    assert sum(1 for k in expected if k[1].startswith("tpf:")) >= 3
