"""Fixtures of the TODO-file tests: the catalog tests' sector, with catalogs built."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tasoc_core.catalog import make_catalogs
from tasoc_core.config import Config, load_config
from tasoc_core.plugins import get_plugin_manager

sf = sys.modules["tasoc_tests_sector_fixture"]  # loaded by tasoc_core/tests/conftest.py


@pytest.fixture(scope="session")
def catalogs_built(sector_dir: object, tmp_path_factory: pytest.TempPathFactory) -> Config:
    """Configuration whose output directory holds the catalogs of the fixture sector.

    Tests that write a TODO-file copy this directory first (see ``fresh_output``).
    """
    out = tmp_path_factory.mktemp("todo_catalogs")
    config = load_config(sf.make_config(sector_dir, out))
    make_catalogs(config, get_plugin_manager(entrypoints=False))
    return config


@pytest.fixture
def fresh_output(catalogs_built: Config, sector_dir: object, tmp_path: Path):
    """``make(extra_toml) -> Config`` writing to a fresh output directory with the catalogs."""
    import shutil

    def make(extra: str = "") -> Config:
        out = tmp_path / "out"
        if not out.exists():
            shutil.copytree(Path(catalogs_built.paths.output) / "catalog", out / "catalog")
        return load_config(sf.make_config(sector_dir, out, extra))

    return make
